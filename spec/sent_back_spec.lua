-- What conversations send back to the server: the answers they keep, as
-- the server sent them ([] and {} as they were, nulls in place, fields the
-- module does not know included), with only the changes the API requires;
-- and the same after conv:save and chatgpt.load. Each check reads the
-- request the fake server recorded, byte for byte.
local chatgpt = require "chatgpt"
local core = require "chatgpt.core"
local fake = require "spec.support.fake"
local jv = require "spec.support.json_value"
local wire = require "spec.support.wire"
local T = require "spec.support.client"

local decode, canon = core.decode, jv.canon

-- The body of the i-th request, decoded from its exact bytes.
local function sent(i)
  return assert(decode(fake.requests()[i].body))
end

local JSON = { { "Content-Type", "application/json" } }

local function reply(path, text)
  fake.script { path = path, body = text, headers = JSON }
  return assert(decode(text))
end

local function replay(name, path)
  local status, headers = wire.headers(name)
  local text = wire.read(name)
  fake.script { status = status, headers = headers, body = text, path = path or "/responses" }
  return assert(decode(text))
end

-- Asserts that the list `got` holds the same JSON values as `want`.
local function same_items(want, got, what)
  assert.equal(#want, #got, what .. ": item count")
  for i = 1, #want do
    assert(canon(got[i]) == canon(want[i]),
      ("%s: item %d differs:\n  sent %s\n  got  %s"):format(what, i, canon(got[i]), canon(want[i])))
  end
end

-- t[i..j] as a list.
local function slice(t, i, j)
  local out = {}
  for k = i, j do out[#out + 1] = t[k] end
  return out
end

local function tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p
end

describe("a Responses conversation with store = false", function()
  before_each(function() T.drain(); fake.reset() end)

  local REASONING = {
    "responses_reasoning_encrypted_gpt-5-nano_2026-08.json",
    "responses_reasoning_gpt-5-mini_2025-12.json",
    "responses_reasoning_phase_gpt-5.4_2026-08.json",
    "responses_reasoning_summary_gpt-5.6-sol_2026-08.json",
    "responses_web_search_gpt-5.2_2026-08.json",
  }

  for _, name in ipairs(REASONING) do
    it("sends the first answer's items back as received: " .. name, function()
      local conv = T.new():conversation { api = "responses", store = false }
      local first = replay(name)
      conv:say("one")
      conv:say("two")
      local input = sent(2).input
      local want = {}
      for _, item in ipairs(first.output) do
        -- the one change the API requires: a reasoning item without its
        -- encrypted_content names what a store = false server never kept
        if item.type ~= "reasoning" or item.encrypted_content then want[#want + 1] = item end
      end
      assert.equal("one", input[1].content)
      assert.equal("two", input[#input].content)
      same_items(want, slice(input, 2, #input - 1), name)
    end)
  end

  it("sends [] and null back where the answer had them (summary, logprobs, bytes, outputs)", function()
    local text = [[{"id":"resp_n","object":"response","status":"completed","store":false,"output":[
      {"id":"rs_1","type":"reasoning","summary":[],"content":[],"encrypted_content":"gAAA"},
      {"id":"ci_1","type":"code_interpreter_call","status":"completed","code":null,"container_id":"cntr_1",
       "outputs":null},
      {"id":"fs_1","type":"file_search_call","status":"completed","queries":["q"],"results":null},
      {"id":"sh_1","type":"shell_call","call_id":"call_s","status":"completed",
       "action":{"commands":["ls"],"timeout_ms":null,"max_output_length":null}},
      {"id":"msg_1","type":"message","role":"assistant","status":"completed","content":[
        {"type":"output_text","text":"4","annotations":[],"logprobs":[
          {"token":"4","logprob":-0.1,"bytes":[52],"top_logprobs":[{"token":"","logprob":-9.5,"bytes":[]}]}]}]}],
      "usage":{"input_tokens":1,"output_tokens":1,"total_tokens":2}}]]
    local first = reply("/responses", text)
    local conv = T.new():conversation { api = "responses", store = false }
    conv:say("one")
    conv:say("two")
    local body = fake.requests()[2].body
    for _, piece in ipairs { '"summary":[]', '"code":null', '"outputs":null', '"results":null',
                             '"max_output_length":null', '"timeout_ms":null', '"annotations":[]', '"bytes":[]' } do
      assert.truthy(body:find(piece, 1, true), piece)
    end
    local input = sent(2).input
    same_items(first.output, slice(input, 2, #input - 1), "synthetic")
  end)

  it("streamed, sends back the items of the server's final event", function()
    local name = "responses_stream_reasoning_gpt-5-nano_2026-08.sse"
    fake.script { path = "/responses", sse_file = name }
    local final
    for _, data in ipairs(wire.events(wire.read(name))) do
      local e = decode(data)
      if e.type == "response.completed" then final = e.response end
    end
    local conv = T.new():conversation { api = "responses", store = false }
    assert(conv:say("one", { on_delta = function() end }))
    conv:say("two")
    local input = sent(2).input
    same_items(final.output, slice(input, 2, #input - 1), name)
  end)

  it("keeps the items lossless through conv:save and chatgpt.load", function()
    local first = replay("responses_reasoning_encrypted_gpt-5-nano_2026-08.json")
    local conv = T.new():conversation { api = "responses", store = false }
    conv:say("one")
    local path = tmpname()
    assert(conv:save(path))
    local back = assert(chatgpt.load(path, T.new()))
    os.remove(path)
    back:say("two")
    local input = sent(2).input
    same_items(first.output, slice(input, 2, #input - 1), "loaded")
    assert.truthy(fake.requests()[2].body:find('"summary":[]', 1, true))
  end)
end)

describe("a saved conversation", function()
  before_each(function() T.drain(); fake.reset() end)

  it("saved empty, loaded, used and saved again, loads with its items a list", function()
    for _, api in ipairs { "responses", "chat" } do
      local path = tmpname()
      assert(T.new():conversation({ api = api }):save(path))
      local conv = assert(chatgpt.load(path, T.new()))
      conv:say("one")
      assert(conv:save(path))
      local back = assert(chatgpt.load(path, T.new()))
      os.remove(path)
      local list = api == "chat" and back.messages or back.items
      assert.equal(2, #list)
      assert.equal("one", list[1].content)
      assert.falsy(T.read(path))
    end
  end)
end)

describe("a chat conversation", function()
  before_each(function() T.drain(); fake.reset() end)

  local function chat_reply(message)
    return reply("/chat/completions", '{"id":"chatcmpl-1","object":"chat.completion","created":1,'
      .. '"model":"m","choices":[{"index":0,"message":' .. message .. ',"logprobs":null,'
      .. '"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}')
  end

  it("sends a custom tool call back as received, with a tool result for it", function()
    local r = chat_reply('{"role":"assistant","content":null,"refusal":null,"annotations":[],'
      .. '"tool_calls":[{"id":"call_c1","type":"custom","custom":{"name":"exec","input":"print(1)"}}]}')
    local conv = T.new():conversation { params = { tools = { { type = "custom", custom = { name = "exec" } } } } }
    local text = conv:say("run it")
    -- The bundled server answers a tool result by quoting it.
    assert.truthy(assert(text):find("is a custom tool", 1, true))
    local messages = sent(2).messages
    assert(canon(messages[2]) == canon(r.choices[1].message), canon(messages[2]))
    assert.is_nil(messages[2].tool_calls[1]["function"])
    assert.equal("tool", messages[3].role)
    assert.equal("call_c1", messages[3].tool_call_id)
    assert.truthy(messages[3].content:find("custom tool", 1, true))
  end)

  it("keeps a streamed custom tool call as a custom call, its input joined", function()
    local function chunk(delta, finish)
      return '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
        .. '"delta":' .. delta .. ',"logprobs":null,"finish_reason":' .. (finish or "null") .. '}]}'
    end
    fake.script { path = "/chat/completions", sse = {
      chunk('{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_c2","type":"custom",'
        .. '"custom":{"name":"exec","input":""}}]}'),
      chunk('{"tool_calls":[{"index":0,"custom":{"input":"print("}}]}'),
      chunk('{"tool_calls":[{"index":0,"custom":{"input":"2)"}}]}'),
      chunk('{}', '"tool_calls"'), "[DONE]" } }
    local conv = T.new():conversation()
    local seen
    assert(conv:say("run it", { on_delta = function() end, before_tool = function(call) seen = call end }))
    assert.same({ id = "call_c2", type = "custom", custom = { name = "exec", input = "print(2)" } }, seen)
    local m = sent(2).messages[2]
    assert.same({ id = "call_c2", type = "custom", custom = { name = "exec", input = "print(2)" } }, m.tool_calls[1])
  end)

  it("sends fields it does not know back, nulls and [] included; not reasoning_content nor empty tool_calls", function()
    chat_reply('{"role":"assistant","content":"hi","refusal":null,"annotations":[],"audio":null,'
      .. '"reasoning_content":"let me think","reasoning":null,"tool_calls":[],"vendor":{"a":[],"b":{},"c":null}}')
    local conv = T.new():conversation()
    conv:say("one")
    conv:say("two")
    local body = fake.requests()[2].body
    local want = decode('{"role":"assistant","content":"hi","refusal":null,"annotations":[],"audio":null,'
      .. '"vendor":{"a":[],"b":{},"c":null}}')
    local m = sent(2).messages[2]
    assert(canon(m) == canon(want), canon(m))
    assert.falsy(body:find("reasoning", 1, true))
    assert.falsy(body:find("tool_calls", 1, true))
    assert.truthy(body:find('"vendor":{', 1, true))
    assert.truthy(body:find('"refusal":null', 1, true))
    assert.truthy(body:find('"annotations":[]', 1, true))
  end)

  it("keeps the messages lossless through conv:save and chatgpt.load, a schema's key order too", function()
    local schema = '{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"integer"},'
      .. '"mid":{"type":["string","null"],"default":null}},"required":["zeta","alpha","mid"],'
      .. '"additionalProperties":false}'
    local r = chat_reply('{"role":"assistant","content":"hi","refusal":null,"annotations":[],"extra":{"x":{}}}')
    local conv = T.new():conversation { params = { response_format = { type = "json_schema",
      json_schema = { name = "s", schema = chatgpt.decode(schema) } } } }
    conv:say("one")
    local path = tmpname()
    assert(conv:save(path))
    local back = assert(chatgpt.load(path, T.new()))
    os.remove(path)
    back:say("two")
    local m = sent(2).messages[2]
    assert(canon(m) == canon(r.choices[1].message), canon(m))
    assert.truthy(fake.requests()[2].body:find(schema, 1, true))
  end)

  it("sends a schema given as JSON text with its key order, in chat and Responses conversations", function()
    local schema = '{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"integer"},'
      .. '"beta":{"type":"boolean"}},"required":["zeta","alpha","beta"],"additionalProperties":false}'
    fake.config { chat_text = '{"zeta":"z","alpha":1,"beta":true}' }
    local data = assert(T.new():conversation():say("x", { schema = { name = "s", schema = schema } }))
    assert.equal("z", data.zeta)
    assert.truthy(fake.last().body:find(schema, 1, true))
    assert(T.new():conversation({ api = "responses" }):say("x", { schema = { name = "s", schema = schema } }))
    assert.truthy(fake.last().body:find(schema, 1, true))
    assert.has_error(function()
      T.new():conversation():say("x", { schema = { name = "s", schema = "{not json" } })
    end)
  end)
end)

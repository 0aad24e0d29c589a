-- Conversations: history, tools, structured output, context budget, save
-- and load, say_async; all through the fake server.
local chatgpt = require "chatgpt"
local core = require "chatgpt.core"
local conversation = require "chatgpt.conversation"
local fake = require "spec.support.fake"
local T = require "spec.support.client"
local versions = require "spec.support.versions"
local math_type = require("chatgpt.compat").math_type
local it_close = versions.gate(versions.CLOSE, versions.CLOSE_WHY, it, pending)

local HELLO = T.HELLO

local drain = T.drain

-- A scripted chat.completion with this content (and usage, when given).
local function answer(content, usage, extra)
  local msg = { role = "assistant", content = content }
  for k, v in pairs(extra or {}) do msg[k] = v end
  local r = { json = { id = "chatcmpl-s", object = "chat.completion", model = "gpt-4o-mini",
    choices = { { index = 0, message = msg, finish_reason = "stop" } } } }
  if usage then
    r.json.usage = { prompt_tokens = usage[1], completion_tokens = usage[2],
                     total_tokens = usage[1] + usage[2] }
  end
  return r
end

-- A scripted reply asking for tools: calls = { {id, name, arguments}, ... }.
local function calls(list, usage)
  local tc = {}
  for i, c in ipairs(list) do
    tc[i] = { id = c[1], type = "function", ["function"] = { name = c[2], arguments = c[3] } }
  end
  local r = { json = { id = "chatcmpl-t", object = "chat.completion", model = "gpt-4o-mini",
    choices = { { index = 0, message = { role = "assistant", content = fake.null, tool_calls = tc },
                  finish_reason = "tool_calls" } } } }
  if usage then
    r.json.usage = { prompt_tokens = usage[1], completion_tokens = usage[2],
                     total_tokens = usage[1] + usage[2] }
  end
  return r
end

local function roles(list)
  local out = {}
  for i, m in ipairs(list) do out[i] = m.role end
  return table.concat(out, ",")
end

local function contents(list)
  local out = {}
  for i, m in ipairs(list) do out[i] = tostring(m.content) end
  return out
end

local function weather_conv(opts)
  local conv = T.new():conversation(opts)
  conv:tool("get_weather", {
    description = "Current weather for a city",
    parameters = { type = "object", properties = { city = { type = "string" } }, required = { "city" } },
  }, function(args) return { city = args.city, temp_c = 21 } end)
  return conv
end

local function tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p
end

local read = T.read

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

describe("client:conversation", function()
  before_each(function() drain(); fake.reset() end)

  it("starts with the system message first in conv.messages", function()
    local conv = T.new():conversation { system = "You are terse." }
    assert.same({ { role = "system", content = "You are terse." } }, conv.messages)
    assert.same({ prompt_tokens = 0, completion_tokens = 0, total_tokens = 0 }, conv.usage)
    assert.equal("gpt-4o-mini", conv.model)
  end)

  it("starts with no messages without a system option", function()
    assert.same({}, T.new():conversation().messages)
  end)

  it("raises on an unknown option in luaL_argerror wording, at the caller's line", function()
    local ok, err = pcall(function() T.new():conversation { sytem = "typo" } end)
    assert.is_false(ok)
    assert.truthy(err:find("bad argument #1 to 'conversation' (unknown option 'sytem')", 1, true))
    assert.truthy(err:find("conversation_spec.lua", 1, true))
  end)

  it("raises on options of the wrong type or range", function()
    local c = T.new()
    assert.has_error(function() c:conversation { system = 42 } end)
    assert.has_error(function() c:conversation { max_tool_rounds = -1 } end)
    assert.has_error(function() c:conversation { max_tool_rounds = 1.5 } end)
    assert.has_error(function() c:conversation { max_context_tokens = 0 } end)
    assert.has_error(function() c:conversation { count_tokens = "x" } end)
    assert.has_error(function() c:conversation { messages = { { role = "robot", content = "x" } } } end)
    assert.has_error(function() c:conversation { messages = { a = 1 } } end)
  end)

  it("starts from given messages, copied, with the system option replacing a leading system message", function()
    local start = { { role = "system", content = "old" }, { role = "user", content = "u" },
                    { role = "assistant", content = "a" } }
    local conv = T.new():conversation { system = "new", messages = start }
    assert.equal("new", conv.messages[1].content)
    assert.equal("old", start[1].content)
    assert.equal("system,user,assistant", roles(conv.messages))
    conv.messages[2].content = "changed"
    assert.equal("u", start[2].content)
  end)
end)

describe("conv:say", function()
  before_each(function() drain(); fake.reset() end)

  it("returns the reply text, the response and info, and keeps the exchange", function()
    local conv = T.new():conversation { system = "S" }
    local reply, response, info = conv:say("What does ipairs do?")
    assert.equal(HELLO, reply)
    assert.equal("chat.completion", response.object)
    assert.equal(200, info.status)
    assert.same({ { role = "system", content = "S" }, { role = "user", content = "What does ipairs do?" },
                  response.choices[1].message }, conv.messages)        -- the reply as received
    assert.equal(HELLO, conv.messages[3].content)
  end)

  it("keeps conv.messages the same table across says", function()
    local conv = T.new():conversation { system = "S" }
    local history = conv.messages
    conv:say("one")
    assert.equal(history, conv.messages)
    assert.equal(3, #history)
  end)

  it("sends the whole history each time", function()
    local conv = T.new():conversation { system = "S" }
    conv:say("one")
    conv:say("two")
    assert.same({ "S", "one", HELLO, "two" }, contents(fake.last().json.messages))
  end)

  it("sends the conversation's params and model, and a call's params over them", function()
    local conv = T.new():conversation { model = "gpt-4o", params = { temperature = 0.2, seed = 7 } }
    conv:say("a")
    local j = fake.last().json
    assert.equal("gpt-4o", j.model)
    assert.equal(0.2, j.temperature)
    assert.equal(7, j.seed)
    conv:say("b", { temperature = 0.9, model = "o3-mini" })
    j = fake.last().json
    assert.equal(0.9, j.temperature)
    assert.equal("o3-mini", j.model)
    assert.equal(7, j.seed)
    conv.model = "gpt-4.1"
    conv:say("c")
    assert.equal("gpt-4.1", fake.last().json.model)
  end)

  it("takes a message table or a list of content parts", function()
    local conv = T.new():conversation()
    conv:say(chatgpt.user("named", { name = "ann" }))
    conv:say({ { type = "text", text = "part" } })
    local sent = fake.last().json.messages
    assert.equal("ann", sent[1].name)
    assert.same({ { type = "text", text = "part" } }, sent[3].content)
    assert.equal("user", sent[3].role)
  end)

  it("streams to on_delta and keeps the history the same as unstreamed", function()
    local conv = T.new():conversation { system = "S" }
    local pieces = {}
    local reply = conv:say("Show an example", { on_delta = function(p) pieces[#pieces + 1] = p end })
    assert.equal(HELLO, reply)
    assert.equal(HELLO, table.concat(pieces))
    assert.truthy(#pieces > 3)
    assert.equal("system,user,assistant", roles(conv.messages))
    assert.equal(HELLO, conv.messages[3].content)
    local j = fake.last().json
    assert.is_true(j.stream)
    assert.same({ include_usage = true }, j.stream_options)
  end)

  it("accepts on_delta = io.write", function()
    local path = tmpname()
    local f = assert(io.open(path, "w"))
    local saved = io.output()
    io.output(f)
    local ok, reply = pcall(function()
      return T.new():conversation():say("x", { on_delta = io.write })
    end)
    io.output(saved)
    f:close()
    assert.is_true(ok)
    assert.equal(HELLO, reply)
    assert.equal(HELLO, read(path))
    os.remove(path)
  end)

  it("sums conv.usage over every response, as integers", function()
    fake.script { answer("a", { 10, 2 }), answer("b", { 20, 3 }) }
    local conv = T.new():conversation()
    conv:say("1")
    conv:say("2")
    assert.same({ prompt_tokens = 30, completion_tokens = 5, total_tokens = 35 }, conv.usage)
    assert.equal("integer", math_type(conv.usage.total_tokens))
  end)

  it("counts the usage of streamed says (include_usage is asked for)", function()
    local conv = T.new():conversation()
    conv:say("x", { on_delta = function() end })
    assert.truthy(conv.usage.total_tokens > 0)
    assert.equal("integer", math_type(conv.usage.prompt_tokens))
  end)

  it("hands on_reasoning the reasoning text, and never sends reasoning_content back", function()
    -- DeepSeek refuses reasoning_content in input messages
    local ds = function(d, finish)
      return { choices = { { index = 0, delta = d, finish_reason = finish or fake.null } } }
    end
    fake.script { { sse = { ds { role = "assistant", reasoning_content = "Think." },
                            ds({ content = "One." }, "stop"), "[DONE]" } },
                  answer("Two.", nil, { reasoning_content = "Again.", reasoning = "Again." }) }
    local conv = T.new():conversation()
    local got = {}
    local reply, r = conv:say("1", { on_reasoning = function(s, i) got[#got + 1] = s .. i end })
    assert.equal("One.", reply)
    assert.same({ "Think.0" }, got)
    assert.equal("Think.", r.choices[1].message.reasoning_content)
    assert.same({ include_usage = true }, fake.last().json.stream_options)   -- a stream, counted
    assert.equal("Two.", (conv:say("2")))
    conv:say("3")
    local sent = fake.last().json.messages
    assert.equal("user,assistant,user,assistant,user", roles(sent))
    for _, m in ipairs(sent) do
      assert.is_nil(m.reasoning_content)
      assert.is_nil(m.reasoning)
    end
    for _, m in ipairs(conv.messages) do assert.is_nil(m.reasoning_content) end
  end)

  it("raises on bad arguments at the caller's line, sending nothing", function()
    local conv = T.new():conversation()
    local ok, err = pcall(conv.say, conv, 42)
    assert.is_false(ok)
    assert.truthy(err:find("bad argument #1 to 'say'", 1, true))
    assert.has_error(function() conv:say({ role = "robot", content = "x" }) end)
    assert.has_error(function() conv:say("x", "params") end)
    assert.has_error(function() conv:say("x", { on_tool_call = 1 }) end)
    ok, err = pcall(function() conv:say("x", { on_delta = 5 }) end)
    assert.is_false(ok)
    assert.truthy(err:find("conversation_spec.lua", 1, true), err)
    assert.equal(0, #fake.requests())
    assert.same({}, conv.messages)
  end)
end)

describe("history editing", function()
  before_each(function() drain(); fake.reset() end)

  it("conv:add appends a message by role and content, or a message table", function()
    local conv = T.new():conversation { system = "S" }
    conv:add("user", "u1")
    conv:add("assistant", "a1")
    conv:add(chatgpt.user "u2")
    assert.equal("system,user,assistant,user", roles(conv.messages))
    conv:say("u3")
    assert.same({ "S", "u1", "a1", "u2", "u3" }, contents(fake.last().json.messages))
    assert.has_error(function() conv:add("robot", "x") end)
    assert.has_error(function() conv:add("tool", "x") end)      -- no tool_call_id
  end)

  it("conv:undo drops the last user message and everything after it", function()
    local conv = T.new():conversation { system = "S" }
    conv:say("one")
    conv:say("two")
    local dropped = conv:undo()
    assert.same({ "two", HELLO }, contents(dropped))
    assert.same({ "S", "one", HELLO }, contents(conv.messages))
    conv:undo()
    assert.same({ "S" }, contents(conv.messages))
    assert.is_nil(conv:undo())
  end)

  it("conv:undo removes a whole tool exchange", function()
    fake.script { calls { { "call_1", "get_weather", '{"city":"Paris"}' } }, answer("warm") }
    local conv = weather_conv { system = "S" }
    conv:say("Is it warm in Paris?")
    assert.equal("system,user,assistant,tool,assistant", roles(conv.messages))
    conv:undo()
    assert.equal("system", roles(conv.messages))
  end)

  it("conv:reset keeps the system message and the usage", function()
    fake.script(answer("a", { 3, 4 }))
    local conv = T.new():conversation { system = "S" }
    conv:say("one")
    conv:reset()
    assert.same({ { role = "system", content = "S" } }, conv.messages)
    assert.equal(7, conv.usage.total_tokens)
  end)

  it("conv:fork is an independent copy sharing the client and the tools", function()
    fake.script { calls { { "c1", "get_weather", '{"city":"Oslo"}' } }, answer("cold"), answer("ok") }
    local conv = weather_conv { system = "S", params = { temperature = 0.5 } }
    conv:say("one")
    local f = conv:fork()
    assert.equal(conv.client, f.client)
    assert.same(conv.messages, f.messages)
    assert.same(conv.usage, f.usage)
    f:say("forked")
    f.params.temperature = 1
    assert.equal(5, #conv.messages)
    assert.equal(7, #f.messages)
    assert.equal(0.5, conv.params.temperature)
    f.messages[2].content = "edited"
    assert.equal("one", conv.messages[2].content)
    -- the tool registered before the fork runs on the fork
    fake.script { calls { { "c2", "get_weather", '{"city":"Rome"}' } }, answer("hot") }
    assert.equal("hot", (f:say("Rome?")))
    assert.same({ city = "Rome", temp_c = 21 }, core.decode(f.messages[#f.messages - 1].content))
    -- tools registered later stay on their own conversation
    f:tool("extra", function() return "x" end)
    conv:say("again")
    assert.equal(1, #fake.last().json.tools)
  end)
end)

describe("a failed say", function()
  before_each(function() drain(); fake.reset() end)

  local function snapshot(conv)
    return core.encode(conv.messages)
  end

  it("leaves the history unchanged on an HTTP error", function()
    local conv = T.new { max_retries = 0 }:conversation { system = "S" }
    conv:say("one")
    local before = snapshot(conv)
    fake.script { status = 500 }
    local reply, err = conv:say("two")
    assert.is_nil(reply)
    assert.equal("api", err.kind)
    assert.equal(500, err.status)
    assert.equal(before, snapshot(conv))
  end)

  it("leaves the history unchanged when on_delta returns false (kind 'cancelled')", function()
    local conv = T.new():conversation { system = "S" }
    local before = snapshot(conv)
    local reply, err = conv:say("x", { on_delta = function() return false end })
    assert.is_nil(reply)
    assert.equal("cancelled", err.kind)
    assert.equal(before, snapshot(conv))
  end)

  it("leaves the history unchanged on a network error", function()
    local conv = T.new { base_url = "http://127.0.0.1:1/v1", max_retries = 0 }:conversation { system = "S" }
    local reply, err = conv:say("x")
    assert.is_nil(reply)
    assert.equal("network", err.kind)
    assert.same({ { role = "system", content = "S" } }, conv.messages)
  end)

  it("leaves no tool messages behind when a later round fails", function()
    fake.script { calls { { "call_1", "get_weather", '{"city":"Paris"}' } }, { status = 400 } }
    local conv = weather_conv { system = "S" }
    local before = snapshot(conv)
    local reply, err = conv:say("Paris?")
    assert.is_nil(reply)
    assert.equal(400, err.status)
    assert.equal(before, snapshot(conv))
    assert.equal(2, #fake.requests())
  end)

  it("leaves the history unchanged when on_delta raises (kind 'callback')", function()
    local conv = T.new():conversation()
    local _, err = conv:say("x", { on_delta = function() error("boom") end })
    assert.equal("callback", err.kind)
    assert.same({}, conv.messages)
  end)

  it("still counts the tokens of responses received before the failure", function()
    fake.script { calls({ { "call_1", "get_weather", '{"city":"Paris"}' } }, { 11, 1 }), { status = 400 } }
    local conv = weather_conv()
    conv:say("Paris?")
    assert.equal(12, conv.usage.total_tokens)
  end)

  it("is followed by a say that works on the old history", function()
    local conv = T.new { max_retries = 0 }:conversation { system = "S" }
    fake.script { status = 503 }
    conv:say("lost")
    conv:say("kept")
    assert.same({ "S", "kept" }, contents(fake.last().json.messages))
    assert.same({ "S", "kept", HELLO }, contents(conv.messages))
  end)
end)

describe("a reply the conversation could not send back", function()
  before_each(function() drain(); fake.reset() end)

  local JSON = { { "Content-Type", "application/json" } }

  -- A chat.completion whose message is this JSON text (exact bytes), with
  -- this usage JSON text when given.
  local function raw(message, usage)
    return { headers = JSON, body = '{"id":"chatcmpl-r","object":"chat.completion","model":"m",'
      .. '"choices":[{"index":0,"message":' .. message .. ',"finish_reason":"stop"}]'
      .. (usage and (',"usage":' .. usage) or "") .. "}" }
  end

  local function tool_call(arguments)
    return raw('{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",'
      .. '"function":{"name":"get_weather","arguments":' .. arguments .. '}}]}')
  end

  -- The say failed with BAD_REPLY, the history is as before, and a later
  -- say and a save work.
  local function rejected(conv, before, reply, err)
    assert.is_nil(reply)
    assert.equal("parse", err.kind)
    assert.equal("BAD_REPLY", err.code)
    assert.equal("chat.completion", err.response.object)
    assert.equal(before, core.encode(conv.messages))
    assert.equal(HELLO, (conv:say("again", { tool_choice = "none" })))
    local path = tmpname()
    assert.is_true(conv:save(path))
    os.remove(path)
  end

  it("returns nil, err{kind='parse', code='BAD_REPLY'} for content that is not valid UTF-8,"
    .. " history unchanged", function()
    local conv = T.new():conversation { system = "S" }
    local before = core.encode(conv.messages)
    fake.script(raw('{"role":"assistant","content":"caf\233 \255"}'))
    local reply, err = conv:say("x")
    assert.truthy(err and err.message:find("UTF-8", 1, true))
    rejected(conv, before, reply, err)
  end)

  it("returns nil, err{kind='parse', code='BAD_REPLY'} for streamed content that is not valid UTF-8", function()
    local conv = T.new():conversation { system = "S" }
    local before = core.encode(conv.messages)
    fake.script { headers = { { "Content-Type", "text/event-stream" } }, sse_raw =
      'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":'
      .. '[{"index":0,"delta":{"role":"assistant","content":"caf\233"},"finish_reason":"stop"}]}\n\n'
      .. "data: [DONE]\n\n" }
    local reply, err = conv:say("x", { stream = true })
    rejected(conv, before, reply, err)
  end)

  it("returns nil, err{kind='parse', code='BAD_REPLY'} for content that is a number or an object", function()
    local conv = T.new():conversation { system = "S" }
    local before = core.encode(conv.messages)
    fake.script(raw('{"role":"assistant","content":42}'))
    local reply, err = conv:say("x")
    assert.truthy(err and err.message:find("number", 1, true))
    rejected(conv, before, reply, err)
    before = core.encode(conv.messages)
    fake.script(raw('{"role":"assistant","content":{"text":"hi"}}'))
    rejected(conv, before, conv:say("x"))
  end)

  it("returns nil, err{kind='parse', code='BAD_REPLY'} for tool call content that is a number,"
    .. " running no tool", function()
    local ran = false
    local conv = T.new():conversation()
    conv:tool("get_weather", function() ran = true end)
    fake.script(raw('{"role":"assistant","content":7,"tool_calls":[{"id":"c1","type":"function",'
      .. '"function":{"name":"get_weather","arguments":"{}"}}]}'))
    rejected(conv, core.encode(conv.messages), conv:say("x"))
    assert.is_false(ran)
  end)

  it("returns nil, err{kind='parse', code='BAD_REPLY'} for tool call arguments that cannot be"
    .. " sent back, running no tool", function()
    local ran = false
    local conv = T.new():conversation()
    conv:tool("get_weather", function() ran = true end)
    for _, arguments in ipairs { '{"city":"Par\255s"}', '{"temp":1e400}', '"caf\233"' } do
      fake.script(tool_call(arguments))
      local reply, err = conv:say("x")
      assert.is_nil(reply)
      assert.equal("BAD_REPLY", err.code)
      rejected(conv, core.encode(conv.messages), reply, err)
    end
    assert.is_false(ran)
  end)

  it("ignores a usage figure that is not a finite, non-negative count below 2^53", function()
    local conv = T.new():conversation()
    fake.script(raw('{"role":"assistant","content":"a"}',
                    '{"prompt_tokens":1e400,"completion_tokens":-5,"total_tokens":"12"}'))
    assert.equal("a", (conv:say("x")))
    fake.script(raw('{"role":"assistant","content":"b"}',
                    '{"prompt_tokens":9007199254740992,"completion_tokens":2.0,"total_tokens":-1e400}'))
    assert.equal("b", (conv:say("y")))
    assert.same({ prompt_tokens = 0, completion_tokens = 2, total_tokens = 0 }, conv.usage)
    assert.equal(math_type(0), math_type(conv.usage.completion_tokens))
    local path = tmpname()
    assert.is_true(conv:save(path))
    os.remove(path)
  end)
end)

describe("a count_tokens that raises", function()
  before_each(function() drain(); fake.reset() end)

  local function raising() error("the tokenizer is missing") end

  it("makes say return nil, err{kind='callback'} with its message, history unchanged", function()
    local conv = T.new():conversation { system = "S", max_context_tokens = 100, count_tokens = raising }
    local reply, err = conv:say("x")
    assert.is_nil(reply)
    assert.equal("callback", err.kind)
    assert.truthy(err.message:find("the tokenizer is missing", 1, true))
    assert.same({ { role = "system", content = "S" } }, conv.messages)
    assert.equal(0, #fake.requests())
  end)

  it("makes say_async's wait return nil, err{kind='callback'} with its message", function()
    local conv = T.new():conversation { max_context_tokens = 100,
      count_tokens = function() error(setmetatable({}, { __tostring = function() error("again") end })) end }
    local reply, err = conv:say_async("x"):wait()
    assert.is_nil(reply)
    assert.equal("callback", err.kind)
    conv.count_tokens = raising
    reply, err = conv:say_async("x"):wait()
    assert.is_nil(reply)
    assert.equal("callback", err.kind)
    assert.truthy(err.message:find("the tokenizer is missing", 1, true))
    assert.same({}, conv.messages)
  end)

  it("makes say return nil, err{kind='callback'} when it returns no number", function()
    local conv = T.new():conversation { max_context_tokens = 100, count_tokens = function() end }
    local _, err = conv:say("x")
    assert.equal("callback", err.kind)
    assert.truthy(err.message:find("count_tokens", 1, true))
  end)
end)

describe("an error object whose __tostring raises", function()
  before_each(function() drain(); fake.reset() end)

  local function nasty()
    return setmetatable({}, { __tostring = function() error("no text for you") end })
  end

  it("raised by a tool, becomes an error result and the loop goes on", function()
    fake.script { calls { { "c1", "boom", "{}" } }, answer("sorry") }
    local conv = T.new():conversation()
    conv:tool("boom", function() error(nasty()) end)
    local failure
    local reply = conv:say("x", { after_tool = function(_, _, f) failure = f end })
    assert.equal("sorry", reply)
    assert.equal("string", type(failure))
    assert.equal("string", type(core.decode(fake.last().json.messages[3].content).error))
  end)

  it("raised by before_tool or after_tool (or their old names), gives nil, err{kind='callback'}", function()
    for _, name in ipairs { "before_tool", "after_tool", "on_tool_call", "on_tool_result" } do
      fake.script(calls { { "c1", "get_weather", '{"city":"A"}' } })
      local conv = weather_conv()
      local reply, err = conv:say("x", { [name] = function() error(nasty()) end })
      assert.is_nil(reply)
      assert.equal("callback", err.kind)
      assert.equal("string", type(err.message))
      assert.same({}, conv.messages)
    end
  end)
end)

describe("tools", function()
  before_each(function() drain(); fake.reset() end)

  it("sends each registered tool as a function definition", function()
    local conv = weather_conv()
    conv:tool("strict_one", { description = "d", strict = true,
      parameters = { type = "object", properties = {}, additionalProperties = false, required = {} } },
      function() end)
    conv:tool("bare", function() end)
    conv:say("x")
    local tools = fake.last().json.tools
    assert.equal(3, #tools)
    assert.same({ type = "function", ["function"] = {
      name = "get_weather", description = "Current weather for a city",
      parameters = { type = "object", properties = { city = { type = "string" } }, required = { "city" } },
    } }, tools[1])
    assert.is_true(tools[2]["function"].strict)
    assert.truthy(fake.last().body:find('"required":[]', 1, true))
    assert.same({ type = "object", properties = {} }, tools[3]["function"].parameters)
    assert.truthy(fake.last().body:find('"properties":{}', 1, true))
  end)

  it("sends no tools field when none is registered", function()
    T.new():conversation():say("x")
    assert.is_nil(fake.last().json.tools)
  end)

  it("runs a multi-round tool loop and sends each result with its tool_call_id", function()
    fake.script {
      calls { { "call_a", "get_weather", '{"city":"Paris"}' } },
      calls { { "call_b", "get_weather", '{"city":"Lyon"}' } },
      answer("Paris is warm, Lyon too."),
    }
    local seen = {}
    local conv = T.new():conversation { system = "S" }
    conv:tool("get_weather", function(args, call)
      seen[#seen + 1] = args.city .. "/" .. call.id
      return { city = args.city, temp_c = 21 }
    end)
    local reply = conv:say("Is it warm in Paris?")
    assert.equal("Paris is warm, Lyon too.", reply)
    assert.same({ "Paris/call_a", "Lyon/call_b" }, seen)
    local reqs = fake.requests()
    assert.equal(3, #reqs)
    local sent = reqs[3].json.messages
    assert.equal("system,user,assistant,tool,assistant,tool", roles(sent))
    assert.equal("call_a", sent[4].tool_call_id)
    assert.same({ city = "Paris", temp_c = 21 }, core.decode(sent[4].content))
    assert.equal("call_b", sent[6].tool_call_id)
    assert.equal("call_a", sent[3].tool_calls[1].id)
    assert.equal('{"city":"Paris"}', sent[3].tool_calls[1]["function"].arguments)
    assert.equal("system,user,assistant,tool,assistant,tool,assistant", roles(conv.messages))
  end)

  it("runs parallel tool calls in order, one tool message each", function()
    fake.script {
      calls { { "call_1", "get_weather", '{"city":"Paris"}' }, { "call_2", "get_weather", '{"city":"Rome"}' } },
      answer("both"),
    }
    local conv = weather_conv()
    assert.equal("both", (conv:say("Paris and Rome?")))
    local sent = fake.last().json.messages
    assert.equal("user,assistant,tool,tool", roles(sent))
    assert.equal(2, #sent[2].tool_calls)
    assert.equal("call_1", sent[3].tool_call_id)
    assert.equal("Paris", core.decode(sent[3].content).city)
    assert.equal("call_2", sent[4].tool_call_id)
    assert.equal("Rome", core.decode(sent[4].content).city)
  end)

  it("sends {\"error\": ...} back when a tool raises, and the loop goes on", function()
    fake.script { calls { { "call_1", "boom", "{}" } }, answer("sorry") }
    local conv = T.new():conversation()
    conv:tool("boom", function() error("the database is down") end)
    local failure
    local reply = conv:say("x", { after_tool = function(_, _, f) failure = f end })
    assert.equal("sorry", reply)
    local msg = fake.last().json.messages[3]
    local e = core.decode(msg.content).error
    assert.truthy(e:find("the database is down", 1, true))
    assert.is_nil(e:find("traceback", 1, true))             -- the model gets no traceback
    assert.truthy(failure:find("stack traceback", 1, true)) -- after_tool does
  end)

  it("sends {\"error\": msg} back when a tool returns nil, msg", function()
    fake.script { calls { { "call_1", "find", '{"q":"x"}' } }, answer("none") }
    local conv = T.new():conversation()
    conv:tool("find", function() return nil, "no such thing" end)
    conv:say("x")
    assert.equal('{"error":"no such thing"}', fake.last().json.messages[3].content)
  end)

  it("sends an error result for invalid JSON arguments without calling the tool", function()
    fake.script { calls { { "call_1", "get_weather", '{"city": Par' } }, answer("retry") }
    local called = false
    local conv = T.new():conversation()
    conv:tool("get_weather", function() called = true end)
    assert.equal("retry", (conv:say("x")))
    assert.is_false(called)
    local e = core.decode(fake.last().json.messages[3].content).error
    assert.truthy(e:find("invalid JSON arguments", 1, true))
  end)

  it("sends an error result for an unknown tool name", function()
    fake.script { calls { { "call_1", "launch_rockets", "{}" } }, answer("cannot") }
    local conv = weather_conv()
    assert.equal("cannot", (conv:say("x")))
    local msg = fake.last().json.messages[3]
    assert.equal("call_1", msg.tool_call_id)
    assert.equal("unknown tool 'launch_rockets'", core.decode(msg.content).error)
  end)

  it("sends a string result as is, nil as null, other values as JSON", function()
    fake.script { calls { { "c1", "s", "{}" }, { "c2", "n", "{}" }, { "c3", "i", "{}" }, { "c4", "t", "{}" } },
                  answer("ok") }
    local conv = T.new():conversation()
    conv:tool("s", function() return "plain text" end)
    conv:tool("n", function() end)
    conv:tool("i", function() return 42 end)
    conv:tool("t", function() return { 1, 2 } end)
    conv:say("x")
    local sent = fake.last().json.messages
    assert.same({ "plain text", "null", "42", "[1,2]" },
                { sent[3].content, sent[4].content, sent[5].content, sent[6].content })
  end)

  it("a tool that calls say on its own conversation gets an error result, not a deadlock", function()
    fake.script { calls { { "c1", "recurse", "{}" } }, answer("ok") }
    local conv = T.new():conversation()
    conv:tool("recurse", function() return conv:say("inner") end)
    assert.equal("ok", (conv:say("x")))
    local e = core.decode(fake.last().json.messages[3].content).error
    assert.truthy(e:find("busy", 1, true), e)
    assert.equal(2, #fake.requests())
  end)

  it("a tool may use the client (or a fork) for a request of its own", function()
    fake.script { calls { { "c1", "ask", '{"q":"sub"}' } }, answer("inner answer"), answer("outer") }
    local conv = T.new():conversation()
    conv:tool("ask", function(args) return (conv:fork():say(args.q)) end)
    assert.equal("outer", (conv:say("x")))
    assert.equal("inner answer", fake.last().json.messages[3].content)
  end)

  it("sends an error result for a tool result that is not valid UTF-8", function()
    fake.script { calls { { "c1", "bin", "{}" } }, answer("ok") }
    local conv = T.new():conversation()
    conv:tool("bin", function() return "\255\254" end)
    assert.equal("ok", (conv:say("x")))
    assert.truthy(fake.last().json.messages[3].content:find("not valid UTF-8", 1, true))
  end)

  it("gives a tool call that came without an id one, so that its result can name it", function()
    local r = calls { { "x", "get_weather", '{"city":"Paris"}' } }
    r.json.choices[1].message.tool_calls[1].id = nil
    fake.script { r, answer("ok") }
    local conv = weather_conv()
    assert.equal("ok", (conv:say("x")))
    local sent = fake.last().json.messages
    assert.is_string(sent[2].tool_calls[1].id)
    assert.equal(sent[2].tool_calls[1].id, sent[3].tool_call_id)
  end)

  it("gives the tool an empty table for empty arguments", function()
    fake.script { calls { { "c1", "now", "" } }, answer("ok") }
    local got
    local conv = T.new():conversation()
    conv:tool("now", function(args) got = args; return "12:00" end)
    conv:say("x")
    assert.same({}, got)
  end)

  it("stops after max_tool_rounds with nil, err{kind='limit', code='TOOL_ROUNDS'}", function()
    for i = 1, 3 do fake.script(calls { { "c" .. i, "get_weather", '{"city":"Paris"}' } }) end
    local conv = weather_conv { max_tool_rounds = 2 }
    local reply, err = conv:say("loop forever")
    assert.is_nil(reply)
    assert.equal("limit", err.kind)
    assert.equal("TOOL_ROUNDS", err.code)
    assert.equal(3, #fake.requests())
    assert.same({}, conv.messages)
  end)

  it("max_tool_rounds = 0 never runs a tool", function()
    fake.script(calls { { "c1", "get_weather", '{"city":"Paris"}' } })
    local ran = false
    local conv = T.new():conversation { max_tool_rounds = 0 }
    conv:tool("get_weather", function() ran = true end)
    local _, err = conv:say("x")
    assert.equal("TOOL_ROUNDS", err.code)
    assert.is_false(ran)
  end)

  it("runs the tool loop over a stream: fragments joined, the answer streamed", function()
    local function chunk(delta, finish)
      return core.encode { id = "c1", object = "chat.completion.chunk", created = 1, model = "m",
        choices = { { index = 0, delta = delta, finish_reason = finish } } }
    end
    fake.script { sse = {
      chunk { role = "assistant", tool_calls = { { index = 0, id = "call_s", type = "function",
        ["function"] = { name = "get_weather", arguments = "" } } } },
      chunk { tool_calls = { { index = 0, ["function"] = { arguments = '{"ci' } } } },
      chunk { tool_calls = { { index = 0, ["function"] = { arguments = 'ty":"Paris"}' } } } },
      chunk({}, "tool_calls"),
      "[DONE]" } }
    local got
    local conv = T.new():conversation()
    conv:tool("get_weather", function(args) got = args.city; return { temp_c = 21 } end)
    local pieces = {}
    local reply = conv:say("Paris?", { on_delta = function(p) pieces[#pieces + 1] = p end })
    assert.equal("Paris", got)
    assert.equal('Tool said: {"temp_c":21}', reply)         -- the fake's answer to a tool result
    assert.equal(reply, table.concat(pieces))
    local sent = fake.last().json.messages
    assert.equal('{"city":"Paris"}', sent[2].tool_calls[1]["function"].arguments)
    assert.equal("call_s", sent[3].tool_call_id)
    assert.equal('{"temp_c":21}', sent[3].content)
    assert.is_true(fake.last().json.stream)
  end)

  it("calls before_tool with each call before running it", function()
    fake.script { calls { { "c1", "get_weather", '{"city":"A"}' }, { "c2", "get_weather", '{"city":"B"}' } },
                  answer("ok") }
    local log = {}
    local conv = weather_conv()
    conv:say("x", { before_tool = function(call)
      log[#log + 1] = call.id .. ":" .. call["function"].name .. ":" .. call["function"].arguments
    end })
    assert.same({ 'c1:get_weather:{"city":"A"}', 'c2:get_weather:{"city":"B"}' }, log)
    assert.is_nil(fake.requests()[1].json.stream)   -- before_tool does not make it a stream
  end)

  it("stops the say when before_tool returns false (kind 'cancelled'), or raises (kind 'callback')", function()
    fake.script(calls { { "c1", "get_weather", '{"city":"A"}' } })
    local conv = weather_conv()
    local _, err = conv:say("x", { before_tool = function() return false end })
    assert.equal("cancelled", err.kind)
    fake.script(calls { { "c1", "get_weather", '{"city":"A"}' } })
    _, err = conv:say("x", { before_tool = function() error("nope") end })
    assert.equal("callback", err.kind)
    assert.truthy(err.message:find("nope", 1, true))
    assert.same({}, conv.messages)
  end)

  it("sends a forced tool_choice on the first request of a say only", function()
    fake.script { calls { { "c1", "get_weather", '{"city":"A"}' } }, answer("ok") }
    local conv = weather_conv()
    conv:say("x", { tool_choice = "required" })
    local reqs = fake.requests()
    assert.equal("required", reqs[1].json.tool_choice)
    assert.is_nil(reqs[2].json.tool_choice)
  end)

  it("conv:tool(name) unregisters; bad names, specs and functions raise", function()
    local conv = weather_conv()
    conv:tool("get_weather")
    conv:say("x")
    assert.is_nil(fake.last().json.tools)
    assert.has_error(function() conv:tool("bad name", {}, function() end) end)
    assert.has_error(function() conv:tool("f", { descr = "typo" }, function() end) end)
    assert.has_error(function() conv:tool("f", {}, "not a function") end)
    assert.has_error(function() conv:tool(42, function() end) end)
  end)
end)

describe("structured output", function()
  before_each(function() drain(); fake.reset() end)

  local COLOURS = { name = "colours", schema = {
    type = "object", properties = { colours = { type = "array", items = { type = "string" } } },
    required = { "colours" }, additionalProperties = false } }

  it("sends a json_schema response_format and returns the decoded table", function()
    fake.script(answer('{"colours":["red","green","blue"]}'))
    local conv = T.new():conversation()
    local data = conv:say("List three colours", { schema = COLOURS })
    assert.same({ colours = { "red", "green", "blue" } }, data)
    local j = fake.last().json
    assert.same({ type = "json_schema", json_schema = { name = "colours", strict = true,
      schema = COLOURS.schema } }, j.response_format)
    assert.is_nil(j.schema)
    assert.is_nil(j.json)
    assert.equal('{"colours":["red","green","blue"]}', conv.messages[2].content)
  end)

  it("passes strict = false and a description", function()
    fake.script(answer('{"colours":[]}'))
    T.new():conversation():say("x", { schema = { name = "c", schema = COLOURS.schema,
                                                  strict = false, description = "d" } })
    local js = fake.last().json.response_format.json_schema
    assert.is_false(js.strict)
    assert.equal("d", js.description)
  end)

  it("returns nil, err{kind='refusal'} with the refusal text, history unchanged", function()
    fake.script(answer(fake.null, nil, { refusal = "I can't help with that." }))
    local conv = T.new():conversation()
    local data, err = conv:say("x", { schema = COLOURS })
    assert.is_nil(data)
    assert.equal("refusal", err.kind)
    assert.equal("I can't help with that.", err.message)
    assert.same({}, conv.messages)
  end)

  it("returns nil, err{kind='parse'} when the content is not JSON, history unchanged", function()
    fake.script(answer("Sure! Here are colours: red"))
    local conv = T.new():conversation()
    local data, err = conv:say("x", { schema = COLOURS })
    assert.is_nil(data)
    assert.equal("parse", err.kind)
    assert.same({}, conv.messages)
  end)

  it("json = true sends a json_object response_format and decodes the reply", function()
    fake.script(answer('{"a":1}'))
    local conv = T.new():conversation()
    local data = conv:say("x", { json = true })
    assert.same({ a = 1 }, data)
    assert.same({ type = "json_object" }, fake.last().json.response_format)
    assert.is_nil(fake.last().json.json)
  end)

  it("raises on a schema without name or schema, and on schema with json", function()
    local conv = T.new():conversation()
    assert.has_error(function() conv:say("x", { schema = { schema = {} } }) end)
    assert.has_error(function() conv:say("x", { schema = { name = "n" } }) end)
    assert.has_error(function() conv:say("x", { schema = COLOURS, json = true }) end)
    assert.equal(0, #fake.requests())
  end)
end)

describe("context budget", function()
  before_each(function() drain(); fake.reset() end)

  local function bytes(s) return #s end

  -- per message: 4 + #content. S = 5, "qN"/"rN" = 6 each.
  local function three(conv)
    fake.script { answer("r1"), answer("r2"), answer("r3") }
    conv:say("q1")
    conv:say("q2")
    conv:say("q3")
  end

  it("drops the oldest exchanges so that what is sent fits max_context_tokens", function()
    local conv = T.new():conversation { system = "S", max_context_tokens = 30, count_tokens = bytes }
    three(conv)
    assert.same({ "S", "q2", "r2", "q3" }, contents(fake.last().json.messages))
  end)

  it("trims conv.messages itself: the trimmed history is the conversation", function()
    local conv = T.new():conversation { system = "S", max_context_tokens = 30, count_tokens = bytes }
    three(conv)
    assert.same({ "S", "q2", "r2", "q3", "r3" }, contents(conv.messages))
  end)

  it("uses count_tokens(text) for each message's text", function()
    local seen = {}
    local conv = T.new():conversation { max_context_tokens = 1000,
      count_tokens = function(s) seen[s] = true; return 1 end }
    conv:say("hello there")
    assert.is_true(seen["hello there"])
  end)

  it("counts exactly with the model's tokenizer when its encoding is known", function()
    local function msgs(...)
      local t = {}
      for i, c in ipairs { ... } do
        t[i] = { role = i == 1 and "system" or (i % 2 == 0 and "user" or "assistant"), content = c }
      end
      return t
    end
    -- what is sent is what count_tokens counts, to the token
    local fits = assert(chatgpt.count_tokens(msgs("S", "q2", "r2", "q3"), "gpt-4o"))
    local conv = T.new():conversation { model = "gpt-4o", system = "S", max_context_tokens = fits }
    three(conv)
    assert.same({ "S", "q2", "r2", "q3" }, contents(fake.last().json.messages))
    conv = T.new():conversation { model = "gpt-4o", system = "S", max_context_tokens = fits - 1 }
    three(conv)
    assert.same({ "S", "q3" }, contents(fake.last().json.messages))
  end)

  it("falls back to the estimate for a model whose encoding is not known", function()
    -- per message 4 + the estimate of its text: 5 each
    local conv = T.new():conversation { model = "local-llama", system = "S", max_context_tokens = 20 }
    three(conv)
    assert.same({ "S", "q2", "r2", "q3" }, contents(fake.last().json.messages))
    conv = T.new():conversation { model = "local-llama", system = "S", max_context_tokens = 19 }
    three(conv)
    assert.same({ "S", "q3" }, contents(fake.last().json.messages))
  end)

  it("lets count_tokens override the model's tokenizer", function()
    local conv = T.new():conversation { model = "gpt-4o", system = "S", max_context_tokens = 30,
                                        count_tokens = bytes }
    three(conv)
    assert.same({ "S", "q2", "r2", "q3" }, contents(fake.last().json.messages))
  end)

  it("never drops the newest user message, even when it alone is over budget", function()
    local conv = T.new():conversation { system = "S", max_context_tokens = 5, count_tokens = bytes }
    fake.script(answer("r1"))
    conv:say("q1")
    conv:say(string.rep("long ", 20))
    assert.same({ "S", string.rep("long ", 20) }, contents(fake.last().json.messages))
  end)

  it("never parts an assistant tool_calls message from its tool results", function()
    fake.script { calls { { "c1", "get_weather", '{"city":"Paris"}' } }, answer("r1"), answer("r2") }
    local conv = weather_conv { system = "S", max_context_tokens = 60, count_tokens = bytes }
    conv:say("q1")
    conv:say("q2")
    local sent = fake.last().json.messages
    -- the q1 exchange (user, assistant tool_calls, tool, assistant) went as a whole
    assert.equal("system,user", roles(sent))
    for _, m in ipairs(sent) do assert.is_not.equal("tool", m.role) end
    conv = weather_conv { system = "S", max_context_tokens = 1000, count_tokens = bytes }
    fake.script { calls { { "c1", "get_weather", '{"city":"Paris"}' } }, answer("r1"), answer("r2") }
    conv:say("q1")
    conv:say("q2")
    assert.equal("system,user,assistant,tool,assistant,user", roles(fake.last().json.messages))
  end)

  it("estimates 4 bytes per token for Latin text and 1 token per CJK character", function()
    assert.equal(3, conversation.count_tokens("hello world!"))
    assert.equal(1, conversation.count_tokens("abc"))
    assert.equal(0, conversation.count_tokens(""))
    assert.equal(4, conversation.count_tokens("你好世界"))
    assert.equal(3, conversation.count_tokens("안녕하"))
    assert.equal(2 + 1, conversation.count_tokens("日本abcd"))
    assert.equal(2, conversation.count_tokens("héllo"))     -- é is 2 bytes, not CJK
  end)

  it("leaves the history untrimmed when the say fails", function()
    local conv = T.new { max_retries = 0 }:conversation { system = "S", max_context_tokens = 30,
                                                         count_tokens = bytes }
    fake.script { answer("r1"), answer("r2"), { status = 500 } }
    conv:say("q1")
    conv:say("q2")
    conv:say("q3")
    assert.same({ "S", "q1", "r1", "q2", "r2" }, contents(conv.messages))
  end)
end)

describe("save and load", function()
  local path
  before_each(function() drain(); fake.reset(); path = tmpname() end)
  after_each(function() os.remove(path); os.remove(path .. ".tmp") end)

  it("round-trips messages, usage, model, params and options", function()
    fake.script { calls({ { "c1", "get_weather", '{"city":"Paris"}' } }, { 5, 1 }), answer("warm", { 7, 2 }) }
    local client = T.new()
    local conv = weather_conv { system = "S", model = "gpt-4o", params = { temperature = 0.2,
      on_delta = function() end }, max_tool_rounds = 3, max_context_tokens = 5000 }
    conv:say("Paris?")
    assert.is_true(conv:save(path))
    local again = assert(chatgpt.load(path, client))
    assert.same(conv.messages, again.messages)
    assert.same({ prompt_tokens = 12, completion_tokens = 3, total_tokens = 15 }, again.usage)
    assert.equal("integer", math_type(again.usage.total_tokens))
    assert.equal("gpt-4o", again.model)
    assert.same({ temperature = 0.2 }, again.params)
    assert.equal(3, again.max_tool_rounds)
    assert.equal(5000, again.max_context_tokens)
    assert.equal(client, again.client)
  end)

  it("writes JSON version 1 through a .tmp file renamed over the target", function()
    local conv = T.new():conversation { system = "S" }
    write(path, "old contents")
    assert.is_true(conv:save(path))
    assert.is_nil(read(path .. ".tmp"))
    local doc = core.decode(read(path))
    assert.equal(1, doc.version)
    assert.equal("S", doc.system)
    assert.equal("gpt-4o-mini", doc.model)
    assert.same({ { role = "system", content = "S" } }, doc.messages)
  end)

  it("a loaded conversation goes on where it stopped", function()
    local conv = T.new():conversation { system = "S" }
    conv:say("one")
    conv:save(path)
    local again = assert(chatgpt.load(path, T.new()))
    again:say("two")
    assert.same({ "S", "one", HELLO, "two" }, contents(fake.last().json.messages))
  end)

  it("saves an empty conversation and loads it back", function()
    assert.is_true(T.new():conversation():save(path))
    local again = assert(chatgpt.load(path, T.new()))
    assert.same({}, again.messages)
  end)

  -- chatgpt.load of a file holding text (none: no file) gives nil and a
  -- message containing want
  local function load_fails(text, want)
    if text then write(path, text) end
    local conv, msg = chatgpt.load(path, T.new())
    assert.is_nil(conv)
    assert.truthy(msg:find(want, 1, true), msg)
  end

  it("returns nil, msg for a missing file", function()
    load_fails(nil, "No such file")
  end)

  it("returns nil, msg for a damaged (invalid JSON) file", function()
    load_fails('{"version":1,"messages":[{"role":"user"', "invalid JSON")
  end)

  it("returns nil, msg for a wrong version", function()
    load_fails('{"version":2,"messages":[]}', "unsupported version 2")
  end)

  it("returns nil, msg naming the bad message", function()
    load_fails('{"version":1,"messages":[{"role":"user","content":"x"},{"role":"robot","content":"y"}]}',
               "bad message #2")
    load_fails('{"version":1,"messages":{"role":"user"}}', "messages")
  end)

  it("returns nil, msg when the file cannot be written, leaving nothing behind", function()
    local ok, msg = T.new():conversation():save("/nonexistent-dir/chat.json")
    assert.is_nil(ok)
    assert.is_string(msg)
  end)

  it("raises when load is not given a client", function()
    assert.has_error(function() chatgpt.load(path) end)
  end)
end)

describe("conv:say_async", function()
  before_each(function() drain(); fake.reset() end)

  local function slow(seconds, content)
    local r = answer(content or "slow")
    r.delay = seconds
    return r
  end

  it("returns a pending handle at once; wait() gives reply, response and commits", function()
    fake.script(slow(1, "later"))
    local conv = T.new():conversation { system = "S" }
    local t0 = core.now()
    local h = conv:say_async("x")
    assert.truthy(core.now() - t0 < 0.5)      -- well before the answer, even under valgrind
    assert.equal("pending", h.status)
    assert.is_false(h:done())
    assert.is_nil(h:result())
    assert.equal(1, #conv.messages)
    local reply, response = h:wait()
    assert.equal("later", reply)
    assert.equal("chat.completion", response.object)
    assert.equal("done", h.status)
    assert.is_true(h:done())
    assert.equal("later", (h:result()))
    assert.equal("system,user,assistant", roles(conv.messages))
  end)

  it("is driven by chatgpt.poll, tool rounds included", function()
    fake.script { calls { { "c1", "get_weather", '{"city":"Paris"}' } }, answer("warm") }
    local conv = weather_conv()
    local h = conv:say_async("Paris?")
    local polls = 0
    while not h:done() and polls < 1000 do chatgpt.poll(0.01); polls = polls + 1 end
    assert.equal("warm", (h:result()))
    assert.equal("user,assistant,tool,assistant", roles(conv.messages))
  end)

  it("cancel() stops it at once, leaves the history, and frees the conversation", function()
    fake.script(slow(1))
    local conv = T.new():conversation { system = "S" }
    local h = conv:say_async("x")
    local t0 = core.now()
    while #fake.requests() < 1 and core.now() - t0 < 5 do chatgpt.poll(0.01) end
    h:cancel()
    assert.equal("cancelled", h.status)
    local reply, err = h:result()
    assert.is_nil(reply)
    assert.equal("cancelled", err.kind)
    assert.equal("cancelled", select(2, h:wait()).kind)
    assert.equal(HELLO, (conv:say("next")))
    drain()
    assert.same({ "S", "next", HELLO }, contents(conv.messages))
  end)

  it("wait(seconds) gives nil, err{code='WAIT_TIMEOUT'} and the say goes on", function()
    fake.script(slow(0.5, "eventually"))
    local h = T.new():conversation():say_async("x")
    local reply, err = h:wait(0.05)
    assert.is_nil(reply)
    assert.equal("WAIT_TIMEOUT", err.code)
    assert.equal("eventually", (h:wait()))
  end)

  it("reports a failure through result()", function()
    fake.script { status = 400 }
    local conv = T.new():conversation()
    local h = conv:say_async("x")
    local reply, err = h:wait()
    assert.is_nil(reply)
    assert.equal("failed", h.status)
    assert.equal(400, err.status)
    assert.same({}, conv.messages)
  end)

  it("raises when a say is already running on the conversation; a fork may run beside it", function()
    fake.script(slow(0.3))
    local conv = T.new():conversation()
    local h = conv:say_async("x")
    assert.has_error(function() conv:say("y") end)
    assert.has_error(function() conv:say_async("y") end)
    local other = conv:fork():say_async("z")
    -- either request may reach the server first and take the scripted reply
    local got = { (h:wait()), (other:wait()) }
    table.sort(got)
    assert.same({ HELLO, "slow" }, got)
  end)

  -- Lua 5.4 source, compiled only there (this file must parse on 5.1)
  local scope = versions.close_fn([[function(conv)
    local kept
    do
      local h <close> = conv:say_async("x")
      kept = h
    end
    return kept
  end]], "scope")

  it_close("a <close> variable cancels it on scope exit", function()
    fake.script(slow(1))
    local conv = T.new():conversation()
    local kept = scope(conv)
    assert.equal("cancelled", kept.status)
    drain()
    assert.same({}, conv.messages)
  end)

  it("add, undo and reset raise while it runs", function()
    fake.script(slow(0.3))
    local conv = T.new():conversation { system = "S" }
    local h = conv:say_async("x")
    assert.has_error(function() conv:add("user", "y") end)
    assert.has_error(function() conv:undo() end)
    assert.has_error(function() conv:reset() end)
    h:wait()
    conv:add("user", "y")
    assert.equal(4, #conv.messages)
  end)

  it("raises at once on bad arguments", function()
    local conv = T.new():conversation()
    assert.has_error(function() conv:say_async(42) end)
    assert.has_error(function() conv:say_async("x", { on_delta = 1 }) end)
    assert.equal(0, chatgpt.poll(0))
  end)
end)

describe("conversations inside chatgpt.spawn", function()
  before_each(function() drain(); fake.reset(); chatgpt.errors() end)

  it("say yields to the engine instead of blocking", function()
    local conv = T.new():conversation { system = "S" }
    local a, b
    chatgpt.spawn(function()
      a = conv:say("first")
      b = conv:say("second")
    end)
    assert.is_nil(a)
    drain()
    assert.equal(HELLO, a)
    assert.equal(HELLO, b)
    assert.equal("system,user,assistant,user,assistant", roles(conv.messages))
    assert.same({}, chatgpt.errors())
  end)

  it("runs two conversations concurrently", function()
    fake.script { { delay = 0.5 }, { delay = 0.5 } }
    local c = T.new()
    local one, two = c:conversation(), c:conversation()
    local t0 = core.now()
    chatgpt.spawn(function() one:say("a") end)
    chatgpt.spawn(function() two:say("b") end)
    drain()
    assert.truthy(core.now() - t0 < 0.95)      -- one after the other would take 1 s
    assert.equal(2, #one.messages)
    assert.equal(2, #two.messages)
  end)

  it("handle:wait() inside a coroutine yields too", function()
    local conv = T.new():conversation()
    local got
    chatgpt.spawn(function() got = conv:say_async("x"):wait() end)
    assert.is_nil(got)
    drain()
    assert.equal(HELLO, got)
  end)
end)

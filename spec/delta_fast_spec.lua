-- The fast path for plain text events (src/json_delta.c, t:delta): a chat
-- chunk whose one choice carries delta.content, and a Responses
-- response.output_text.delta, are read without a decoded table when no
-- callback can see that table. Every stream here is read twice, once by an
-- on_delta that takes the text alone (the fast path) and once by one that
-- also takes the chunk (the full decode), and the two must agree on
-- everything a caller can see.
local fake = require "spec.support.fake"
local wire = require "spec.support.wire"
local T = require "spec.support.client"
local one_arg = require("chatgpt.compat").one_arg

-- Reads one stream from the fake server's next reply; `full` makes on_delta
-- take the chunk too. Returns the pieces on_delta saw and the results.
local function read(method, reply, full, params)
  fake.script(reply)
  local pieces = {}
  local p = {}
  for k, v in pairs(params or {}) do p[k] = v end
  if full then
    p.on_delta = function(s, chunk)
      assert(chunk ~= nil or method == "respond")
      pieces[#pieces + 1] = s
    end
  else
    p.on_delta = function(s) pieces[#pieces + 1] = s end
  end
  local client = T.new { max_retries = 0 }
  local text, r, info = client[method](client, "x", p)
  if info == nil then
    -- the error as a caller sees it, not its identity
    r = { kind = r.kind, code = r.code, message = r.message, partial = r.partial,
          status = r.status }
  end
  return pieces, text, r, info and info.status
end

-- Both ways agree: pieces, text, the response (or the error).
local function agree(method, reply, params)
  local p1, t1, r1, s1 = read(method, reply, false, params)
  local p2, t2, r2, s2 = read(method, reply, true, params)
  assert.same(p2, p1)
  assert.equal(t2, t1)
  assert.same(r2, r1)
  assert.equal(s2, s1)
  return t1, r1, p1
end

local function sse(list)
  local out = {}
  for _, e in ipairs(list) do
    if type(e) == "table" then
      out[#out + 1] = "event: " .. e[1] .. "\ndata: " .. e[2] .. "\n\n"
    else
      out[#out + 1] = "data: " .. e .. "\n\n"
    end
  end
  return { sse_raw = table.concat(out) }
end

local HEAD = '"id":"chatcmpl-1","object":"chat.completion.chunk","created":1770950834,' ..
             '"model":"gpt-4o","system_fingerprint":"fp_1","service_tier":"default"'
local function chunk(choice, extra)
  return "{" .. HEAD .. ',"choices":[' .. choice .. "]" .. (extra or "") .. "}"
end

describe("the fast path for plain text events", function()
  before_each(function() T.drain(); fake.reset() end)

  for _, name in ipairs(wire.list("^chat_stream_.*%.sse$")) do
    it(name .. ": the same pieces and response whether on_delta takes the chunk or not", function()
      local _, r = agree("chat", { sse_file = name })
      assert.is_table(r.choices)
    end)
  end

  for _, name in ipairs(wire.list("^responses_stream_.*%.sse$")) do
    it(name .. ": the same pieces and response whether on_delta takes the event or not", function()
      agree("respond", { path = "/responses", sse_file = name })
    end)
  end

  it("escapes, surrogate pairs and a missing or null index read as the full decode reads them", function()
    local text, r, pieces = agree("chat", sse {
      chunk('{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}',
            ',"usage":null,"obfuscation":"Xx"'),
      chunk('{"delta":{"content":"a\\nb\\"c\\\\\\/\\u00e9\\ud83c\\udf89\\ud800x"}}'),
      chunk('{"index":null,"delta":{"content":"\\t|"},"finish_reason":null}'),
      chunk('{"index":0,"delta":{"content":"one","content":"two"}}'),
      chunk('{"index":0,"delta":{"content":"gone","content":null}}'),
      chunk('{"index":0.0,"delta":{},"logprobs":null,"finish_reason":"stop"}',
            ',"usage":null,"x":true,"y":false,"z":-1.5e3,"w":[],"v":{ }'),
      "[DONE]",
    })
    assert.equal("a\nb\"c\\/\195\169\240\159\142\137\239\191\189x\t|two", text)
    assert.same({ "a\nb\"c\\/\195\169\240\159\142\137\239\191\189x", "\t|", "two" }, pieces)
    assert.equal("stop", r.choices[1].finish_reason)
    assert.equal("assistant", r.choices[1].message.role)
    assert.equal(0, r.choices[1].index)
    assert.equal("fp_1", r.system_fingerprint)
    assert.equal(1770950834, r.created)
  end)

  it("chunks the fast path leaves to the full decode give the same results", function()
    agree("chat", sse {
      chunk('{"index":0,"delta":{"content":"a"}}', ',"usage":{"total_tokens":3}'),
      chunk('{"index":1,"delta":{"content":"b"}},{"index":0,"delta":{"content":"c"}}'),
      chunk('{"index":0,"delta":{"refusal":"no"}}'),
      chunk('{"index":0,"delta":{"content":"d"},"logprobs":{"content":[]}}'),
      chunk('{"index":0,"delta":{"content":"e","x":1}}'),
      chunk('{"index":0,"delta":{"content":"f"},"content_filter_results":{"hate":{}}}'),
      chunk('{"index":0,"delta":{"content":"g"}}', ',"choices":[]'),
      '{"choices":[{"index":0,"delta":{"content":"h"}}],"id":7}',
      '{"choices":[]}',
      chunk('{"index":0,"delta":{"content":"i"},"finish_reason":"stop"}'),
      "[DONE]",
    })
  end)

  it("a tool call's last chunk, plain, still reports the call", function()
    local calls = {}
    local _, r = agree("chat", sse {
      chunk('{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1",' ..
            '"type":"function","function":{"name":"f","arguments":""}}]}}'),
      chunk('{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}'),
      chunk('{"index":0,"delta":{},"finish_reason":"tool_calls"}'),
      "[DONE]",
    }, { on_tool_call = function(c) calls[#calls + 1] = c["function"].name end })
    assert.same({ "f", "f" }, calls)   -- once a read
    assert.equal("tool_calls", r.choices[1].finish_reason)
  end)

  for _, bad in ipairs {
    '{"choices":[{"index":0,"delta":{"content":"a"}}],}',
    '{"choices":[{"index":0,"delta":{"content":"a\\x"}}]}',
    '{"choices":[{"index":0,"delta":{"content":"a\1"}}]}',
    '{"choices":[{"index":0,"delta":{"content":"a"}}]} x',
    '{"choices":[{"index":01,"delta":{"content":"a"}}]}',
    '{"choices":[{"index":0,"delta":{"content":"a"}}],"o":nul}',
    '{"choices":[{"index":0,"delta":{"content":"a"}}],"error":{"message":"boom"}}',
    '{"choices":[{"index":0,"delta":{"content":"a"}}],"type":"error"}',
  } do
    it("a broken or error chunk fails the same way on both paths: " .. bad, function()
      local text, err = agree("chat", sse { chunk('{"index":0,"delta":{"content":"ok"}}'), bad, "[DONE]" })
      assert.is_nil(text)
      assert.equal("ok", err.partial)
    end)
  end

  it("an SSE error event is an error on both paths", function()
    local text, err = agree("chat", sse {
      chunk('{"index":0,"delta":{"content":"ok"}}'),
      { "error", '{"choices":[{"index":0,"delta":{"content":"a"}}]}' },
      "[DONE]",
    })
    assert.is_nil(text)
    assert.equal("ok", err.partial)
  end)

  it("output_text.delta events, plain or not, give the same Responses results", function()
    local D = '"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0'
    local text = agree("respond", {
      path = "/responses",
      sse_raw = table.concat({
        'event: response.output_item.added\ndata: {"type":"response.output_item.added","output_index":0,' ..
          '"item":{"id":"msg_1","type":"message","role":"assistant","content":[]}}\n\n',
        'event: response.content_part.added\ndata: {"type":"response.content_part.added","output_index":0,' ..
          '"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}}\n\n',
        'event: response.output_text.delta\ndata: {' .. D ..
          ',"delta":"a\\u00e9","logprobs":[],"sequence_number":1}\n\n',
        'event: response.output_text.delta\ndata: {' .. D .. ',"delta":"b","logprobs":[{"token":"b"}]}\n\n',
        'data: {' .. D .. ',"delta":"c","delta":"d"}\n\n',
        'data: {"type":"response.output_text.delta","delta":"e","output_index":null}\n\n',
        'data: {' .. D .. ',"delta":null}\n\n',
        'data: {"type":"response.completed","response":{"id":"resp_1","object":"response",' ..
          '"status":"completed","output":[]}}\n\n',
      }),
    })
    assert.equal("a\195\169bde", text)
  end)

  for _, bad in ipairs {
    '"output_index":-1', '"output_index":1.5', '"content_index":1e9', '"output_index":"0"',
    '"logprobs":"x"', '"summary_index":-1', '"annotation_index":0.5', '"delta":7',
  } do
    it("a malformed output_text.delta fails the same way on both paths: " .. bad, function()
      local text, err = agree("respond", {
        path = "/responses",
        sse_raw = 'data: {"type":"response.output_text.delta","delta":"a",' .. bad .. '}\n\n' ..
                  'data: {"type":"response.completed","response":{"id":"r","status":"completed",' ..
                  '"output":[]}}\n\n',
      })
      assert.is_nil(text)
      assert.equal("BAD_EVENT", err.code)
    end)
  end

  local name = "leaves no table behind a plain chunk: under 200 bytes of garbage each"
  if not one_arg(function(_) end) then
    pending(name .. " (this Lua cannot tell a handler's parameters: every chunk is decoded)")
  else it(name, function()
    local n = 3000
    local data = chunk('{"index":0,"delta":{"content":"y"},"logprobs":null,"finish_reason":null}',
                       ',"usage":null,"obfuscation":"PiUM2UVvJJ"')
    local client = T.new()
    local function cost(count, on_delta)
      fake.script { sse_repeat = { data = data, count = count } }
      local req = client:chat_async("x", { on_delta = on_delta })
      -- the request is on its way; what remains is reading the stream
      collectgarbage()
      collectgarbage("stop")
      local k0 = collectgarbage("count")
      local text = req:wait()
      local kib = collectgarbage("count") - k0
      collectgarbage("restart")
      assert.equal(count, #text)
      return kib * 1024
    end
    local fast = (cost(n, function() end) - cost(1, function() end)) / (n - 1)
    local full = (cost(n, function(_, _) end) - cost(1, function(_, _) end)) / (n - 1)
    assert.truthy(fast <= 200, ("%.0f bytes a chunk"):format(fast))
    assert.truthy(full > fast, ("full decode: %.0f bytes a chunk"):format(full))
  end) end
end)

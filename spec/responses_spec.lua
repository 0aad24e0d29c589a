-- client:respond and respond_async (the Responses API) end to end: every
-- real capture replayed through the fake server (streams whole, byte by
-- byte and split at random), the fake's own /responses, and the faults
-- chat is tested with.
local chatgpt = require "chatgpt"
local decode = require("chatgpt.core").decode
local fake = require "spec.support.fake"
local wire = require "spec.support.wire"
local T = require "spec.support.client"

-- Queues a capture with its recorded status and headers; returns it decoded.
local function replay(name, extra)
  local status, headers = wire.headers(name)
  local reply = { status = status, headers = headers }
  if name:find("%.sse$") then reply.sse_file = name else reply.body = wire.read(name) end
  for k, v in pairs(extra or {}) do reply[k] = v end
  fake.script(reply)
  if name:find("%.sse$") then
    local list = {}
    for _, d in ipairs(wire.events(wire.read(name))) do list[#list + 1] = assert(decode(d)) end
    return list
  end
  return assert(decode(wire.read(name)))
end

-- output_text, folded naively (as the SDKs define it).
local function output_text(r)
  local parts
  for _, item in ipairs(r.output or {}) do
    if item.type == "message" then
      for _, c in ipairs(item.content or {}) do
        if c.type == "output_text" then
          parts = parts or {}
          parts[#parts + 1] = c.text
        end
      end
    end
  end
  return parts and table.concat(parts)
end

local function header(headers, name)
  for _, h in ipairs(headers) do if h[1]:lower() == name then return h[2] end end
end

-- The SSE text of a capture without its last n events.
local function cut(name, n)
  local text = wire.read(name)
  local blocks = {}
  for b in text:gmatch("(.-\n\n)") do blocks[#blocks + 1] = b end
  return table.concat(blocks, "", 1, #blocks - n)
end

describe("client:respond", function()
  before_each(function() T.drain(); fake.reset() end)
  after_each(T.drain)

  describe("non-streamed captures", function()
    for _, name in ipairs(wire.list("^responses_[^s].*%.json$")) do
      if not name:find("request%.json$") and not name:find("^responses_error") then
        it(name .. ": text is the output_text, response the capture", function()
          local expect = replay(name)
          local _, headers = wire.headers(name)
          local text, response, info = T.new():respond("x")
          assert.is_table(response, tostring(response))
          assert.equal(output_text(expect), text)
          assert.same(expect, response)
          assert.equal(200, info.status)
          assert.equal(header(headers, "x-request-id"), info.request_id)
          assert.equal("/v1/responses", fake.last().path)
        end)
      end
    end

    it("a function call: text is nil, the call is in response.output", function()
      replay("responses_function_call_gpt-4o-mini_2026-04.json")
      local text, r = T.new():respond("x")
      assert.is_nil(text)
      assert.equal("function_call", r.output[1].type)
      assert.equal('{"user_id":"user123"}', r.output[1].arguments)
    end)

    it("json_schema: the text is the JSON, with its escapes undone", function()
      replay("responses_json_schema_gpt-4o-2024-08-06_2025-10.json")
      local text = T.new():respond("x")
      assert.is_table(decode(text))
    end)

    it("non-ASCII written as \\u escapes reads back as UTF-8", function()
      replay("responses_reasoning_phase_gpt-5.4_2026-08.json")
      local text = T.new():respond("x")
      assert.truthy(text:find("\226\128", 1, true))        -- U+201x punctuation
      assert.falsy(text:find("\\u", 1, true))
    end)

    for _, name in ipairs(wire.list("^responses_error_.*%.json$")) do
      if not name:find("request%.json$") then
        it(name .. ": nil, err{kind = 'api'} with the body's fields", function()
          local expect = replay(name)
          local text, err = T.new { max_retries = 0 }:respond("x")
          assert.is_nil(text)
          assert.equal("api", err.kind)
          assert.equal(tonumber(name:match("_(%d%d%d)_")), err.status)
          assert.equal(expect.error.message, err.message)
          assert.equal(expect.error.code, err.code)
          assert.equal(expect.error.param, err.param)
          assert.equal(1, err.attempts)
        end)
      end
    end

    it("an unknown model is a 400, final: no retry", function()
      replay("responses_error_400_model_not_found_2025-05.json")
      local _, err = T.new { max_retries = 2 }:respond("x")
      assert.equal(400, err.status)
      assert.equal("model_not_found", err.code)
      assert.is_false(err.retryable)
      assert.equal(1, #fake.requests())
    end)
  end)

  describe("streamed captures", function()
    for _, name in ipairs(wire.list("^responses_stream_.*%.sse$")) do
      for _, split in ipairs { "whole", "bytes", "random" } do
        it(name .. " fed " .. split .. ": the response equals the terminal event's", function()
          local evs = replay(name, { split = split, seed = 11 })
          local final = evs[#evs].response
          local pieces, seen, calls = {}, 0, {}
          local text, r, info = T.new():respond("x", {
            on_delta = function(p, e)
              assert.equal("response.output_text.delta", e.type)
              pieces[#pieces + 1] = p
            end,
            on_event = function() seen = seen + 1 end,
            on_tool_call = function(item) calls[#calls + 1] = item end,
          })
          assert.is_table(r, tostring(r))
          assert.same(final, r)
          assert.equal(output_text(final), text)
          assert.equal(#evs, seen)
          local joined = table.concat(pieces)
          assert.equal(output_text(final) or "", joined)
          local want_calls = 0
          for _, item in ipairs(final.output) do
            if item.type == "function_call" then want_calls = want_calls + 1 end
          end
          assert.equal(want_calls, #calls)
          assert.equal(200, info.status)
          assert.is_true(fake.last().json.stream)
          assert.equal("text/event-stream", fake.last().header.accept)
        end)
      end
    end

    it("a stream ending in response.incomplete gives the text so far and the status", function()
      replay("responses_stream_incomplete_max_output_tokens_gpt-4o_2025-07.sse")
      local text, r = T.new():respond("x", { stream = true })
      assert.equal("In the bustling city of Detroit, a sleek, metallic blue sedan rolled off the", text)
      assert.equal("incomplete", r.status)
      assert.equal("max_output_tokens", r.incomplete_details.reason)
    end)

    it("hands on_reasoning each piece of the reasoning summary, with its event, before the text", function()
      local evs = replay("responses_stream_reasoning_summary_o3-mini_2025-09.sse", { split = "random", seed = 5 })
      local parts, order = {}, {}
      local text = T.new():respond("x", {
        on_reasoning = function(p, e)
          assert.equal("response.reasoning_summary_text.delta", e.type)
          local i = e.summary_index + 1
          parts[i] = (parts[i] or "") .. p
          if order[#order] ~= "reasoning" then order[#order + 1] = "reasoning" end
        end,
        on_delta = function() if order[#order] ~= "text" then order[#order + 1] = "text" end end,
      })
      assert.is_string(text)
      local want = evs[#evs].response.output[1].summary
      assert.equal(4, #parts)
      for i = 1, 4 do assert.equal(want[i].text, parts[i]) end
      assert.same({ "reasoning", "text" }, order)
      assert.is_true(fake.last().json.stream)     -- on_reasoning alone asks for a stream
    end)

    it("hands on_tool_call the streamed call with its arguments joined", function()
      replay("responses_stream_function_call_gpt-4.1_2025-05.sse", { split = "bytes" })
      local got
      local text = T.new():respond("x", { on_tool_call = function(item) got = item end })
      assert.is_nil(text)
      assert.equal("get_current_weather", got.name)
      assert.same({ location = "Boston, MA", unit = "celsius" }, decode(got.arguments))
    end)

    for _, name in ipairs(wire.list("^responses_stream_.*%.sse$")) do
      it(name .. " cut before its terminal event: STREAM_TRUNCATED with the partial text", function()
        local evs = replay(name)
        fake.reset()
        fake.script { sse_raw = cut(name, 1), split = "random", seed = 3 }
        local text, err = T.new { max_retries = 2 }:respond("x", { stream = true })
        assert.is_nil(text)
        assert.equal("network", err.kind)
        assert.equal("STREAM_TRUNCATED", err.code)
        assert.equal(output_text(evs[#evs].response) or "", err.partial)
        assert.equal(1, err.attempts)            -- events reached the accumulator: no retry
      end)
    end
  end)

  describe("from the fake server's /responses", function()
    -- The top-level keys of a JSON object's text, in order.
    local function keys(text)
      local out, depth, i = {}, 0, 1
      while i <= #text do
        local c = text:sub(i, i)
        if c == '"' then
          local j = i + 1
          while text:sub(j, j) ~= '"' do j = j + (text:sub(j, j) == "\\" and 2 or 1) end
          if depth == 1 and text:sub(j + 1, j + 1) == ":" then out[#out + 1] = text:sub(i + 1, j - 1) end
          i = j
        elseif c == "{" or c == "[" then depth = depth + 1
        elseif c == "}" or c == "]" then depth = depth - 1 end
        i = i + 1
      end
      return table.concat(out, ",")
    end

    it("streams the events the 2026 capture has, with the same keys in the same order", function()
      local want = {}
      for _, d in ipairs(wire.events(wire.read("responses_stream_gpt-4.1-nano_2026-03.sse"))) do
        want[decode(d).type] = keys(d)
      end
      local got, n = {}, 0                 -- the stream's bytes as they came (on_data)
      T.new():request("POST", "/responses", { model = "m", input = "x", stream = true },
                      { on_data = function(p) got[#got + 1] = p end })
      local text = table.concat(got)
      assert.falsy(text:find("[DONE]", 1, true))
      for _, d in ipairs(wire.events(text)) do
        local t = decode(d).type
        n = n + 1
        assert.equal(want[t], keys(d), t)
      end
      assert.equal(16, n)                  -- 8 events around T.HELLO's 8 deltas
    end)

    it("answers a string input with the default text, and sends model and input", function()
      local text, r, info = T.new { model = "gpt-4.1-nano" }:respond("Hello there")
      assert.equal(T.HELLO, text)
      assert.equal("completed", r.status)
      assert.matches("^resp_", r.id)
      assert.equal(200, info.status)
      local rec = fake.last()
      assert.same({ model = "gpt-4.1-nano", input = "Hello there" }, rec.json)
      assert.equal("application/json", rec.header["content-type"])
    end)

    it("passes every /responses field through untouched", function()
      local params = {
        model = "gpt-5-nano", instructions = "Be terse.", store = false,
        include = { "reasoning.encrypted_content" }, reasoning = { effort = "low", summary = "auto" },
        text = { format = { type = "text" }, verbosity = "low" }, max_output_tokens = 100,
        metadata = { run = "7" }, tool_choice = "auto", temperature = 0.2,
        tools = { { type = "function", name = "f", parameters = { type = "object", properties = {} } } },
      }
      T.new():respond({ { role = "user", content = "hi" } }, params)
      local sent = fake.last().json
      for k, v in pairs(params) do assert.same(v, sent[k], k) end
      assert.same({ { role = "user", content = "hi" } }, sent.input)
    end)

    it("streams the default text word by word", function()
      local pieces = {}
      local text = T.new():respond("x", { on_delta = function(p) pieces[#pieces + 1] = p end })
      assert.equal(T.HELLO, text)
      assert.equal(T.HELLO, table.concat(pieces))
      assert.truthy(#pieces > 3)
    end)

    it("chains on previous_response_id, and an unknown id is a 400", function()
      local c = T.new()
      local _, r1 = c:respond("My name is Ada.")
      local text, r2 = c:respond("What is my name?", { previous_response_id = r1.id })
      assert.equal(T.HELLO, text)
      assert.equal(r1.id, r2.previous_response_id)
      local _, err = c:respond("x", { previous_response_id = "resp_nope" })
      assert.equal("api", err.kind)
      assert.equal(400, err.status)
      assert.equal("previous_response_not_found", err.code)
    end)

    it("max_output_tokens below the answer: incomplete, with the text so far", function()
      local text, r = T.new():respond("x", { max_output_tokens = 2 })
      assert.equal("Hello! I", text)
      assert.equal("incomplete", r.status)
      local streamed = T.new():respond("x", { max_output_tokens = 2, stream = true })
      assert.equal("Hello! I", streamed)
    end)

    it("max_output_tokens = 0: incomplete with no text is nil, err{kind = 'limit'}", function()
      local text, err = T.new():respond("x", { max_output_tokens = 0 })
      assert.is_nil(text)
      assert.equal("limit", err.kind)
      assert.equal("INCOMPLETE", err.code)
      assert.equal("incomplete", err.response.status)
    end)

    it("a forced tool call, streamed and not: text nil, on_tool_call with the arguments", function()
      local tools = { { type = "function", name = "weather",
        parameters = { type = "object", properties = { city = { type = "string" } } } } }
      for _, stream in ipairs { false, true } do
        local got
        local text, r = T.new():respond("x", { tools = tools, tool_choice = "required", stream = stream,
          on_tool_call = stream and function(item) got = item end or nil })
        assert.is_nil(text)
        local call = r.output[1]
        assert.equal("function_call", call.type)
        assert.equal('{"city":"x"}', call.arguments)
        if stream then assert.same(call, got) end
      end
    end)

    it("a tool call with tool_choice auto too, but not after a function_call_output nor with none", function()
      local tools = { { type = "function", name = "weather",
        parameters = { type = "object", properties = { city = { type = "string" } } } } }
      local c = T.new()
      local text, r = c:respond("Is it warm?", { tools = tools })
      assert.is_nil(text)
      local call = r.output[1]
      assert.equal("weather", call.name)
      text = c:respond({ { type = "function_call_output", call_id = call.call_id, output = "sunny" } },
        { tools = tools, previous_response_id = r.id })
      assert.equal("Tool said: sunny", text)
      assert.equal(T.HELLO, (c:respond("Hi", { tools = tools, tool_choice = "none" })))
    end)
  end)

  describe("failures", function()
    it("an error event mid-stream is nil, err{kind = 'api'} with its code and the partial text", function()
      local name = "responses_stream_gpt-4.1-nano_2026-03.sse"
      fake.script { sse_raw = cut(name, 6)
        .. 'event: error\ndata: {"type":"error","code":"server_error","message":"The server had an error",'
        .. '"param":null,"sequence_number":10}\n\n' }
      local text, err = T.new():respond("x", { stream = true })
      assert.is_nil(text)
      assert.equal("api", err.kind)
      assert.equal("server_error", err.code)
      assert.equal("The server had an error", err.message)
      assert.equal("2 + 2 equals ", err.partial)
    end)

    it("response.failed is nil, err{kind = 'api'} with the response's error", function()
      fake.script { sse_raw = 'event: response.created\ndata: {"type":"response.created","response":'
        .. '{"id":"resp_f","status":"in_progress","output":[]}}\n\n'
        .. 'event: response.failed\ndata: {"type":"response.failed","response":{"id":"resp_f",'
        .. '"status":"failed","error":{"code":"server_error","message":"went wrong"},"output":[]}}\n\n' }
      local text, err = T.new():respond("x", { stream = true })
      assert.is_nil(text)
      assert.equal("api", err.kind)
      assert.equal("server_error", err.code)
      assert.equal("went wrong", err.message)
      assert.equal("resp_f", err.response.id)
    end)

    it("a failed response as plain JSON is the same error, not an error body", function()
      fake.script { json = { id = "resp_g", object = "response", status = "failed", output = {},
        error = { code = "rate_limit_exceeded", message = "later" } } }
      local _, err = T.new():respond("x")
      assert.equal("api", err.kind)
      assert.equal("rate_limit_exceeded", err.code)
      assert.equal("resp_g", err.response.id)
    end)

    it("a refusal part is nil, err{kind = 'refusal'} with the response", function()
      fake.script { json = { id = "resp_r", object = "response", status = "completed", output = {
        { type = "message", role = "assistant", content = { { type = "refusal", refusal = "I can't." } } } } } }
      local text, err = T.new():respond("x")
      assert.is_nil(text)
      assert.equal("refusal", err.kind)
      assert.equal("I can't.", err.message)
      assert.equal("resp_r", err.response.id)
    end)

    it("a connection reset mid-stream is kind 'network' with the partial text, not retried", function()
      local name = "responses_stream_reasoning_summary_o3-mini_2025-09.sse"
      fake.script { sse_file = name, drop_after = 50000 }    -- well before its end
      local text, err = T.new { max_retries = 2 }:respond("x", { on_delta = function() end })
      assert.is_nil(text)
      assert.equal("network", err.kind)
      assert.equal(1, err.attempts)
      assert.equal(1, #fake.requests())
    end)

    it("an event that is not JSON is kind 'parse'", function()
      fake.script { sse_raw = "event: response.created\ndata: {not json\n\n" }
      local _, err = T.new():respond("x", { stream = true })
      assert.equal("parse", err.kind)
      assert.equal("BAD_CHUNK", err.code)
    end)

    it("a body that is not JSON is kind 'parse'", function()
      fake.script { body = "{nope", headers = { { "Content-Type", "application/json" } } }
      local _, err = T.new():respond("x")
      assert.equal("parse", err.kind)
      assert.equal("BAD_JSON", err.code)
    end)

    it("a 429 then the stream: retried after retry-after-ms, the stream read whole", function()
      fake.script {
        { status = 429, headers = { { "retry-after-ms", "20" }, { "Content-Type", "application/json" } } },
        { sse_file = "responses_stream_gpt-4o_2025-03.sse" },
      }
      local text, _, info = T.new { max_retries = 2 }:respond("x", { stream = true })
      assert.equal("Hi there! How can I assist you today?", text)
      assert.equal(2, info.attempts)
      assert.equal(2, #fake.requests())
    end)

    it("a plain JSON answer to a stream request drives on_delta once and returns the text", function()
      replay("responses_basic_gpt-4o_2025-03.json")
      local pieces = {}
      local text = T.new():respond("x", { on_delta = function(p) pieces[#pieces + 1] = p end })
      assert.equal(text, table.concat(pieces))
      assert.equal(1, #pieces)
    end)

    it("a plain JSON answer to a stream request hands on_reasoning its summary once", function()
      local r = replay("responses_reasoning_summary_gpt-5.6-sol_2026-08.json")
      local pieces = {}
      T.new():respond("x", { on_reasoning = function(p, resp)
        assert.equal(r.id, resp.id)
        pieces[#pieces + 1] = p
      end })
      assert.same({ r.output[1].summary[1].text }, pieces)
    end)

    it("an error raised in a callback is kind 'callback'", function()
      local _, err = T.new():respond("x", { on_event = function() error("boom") end })
      assert.equal("callback", err.kind)
      assert.truthy(err.message:find("boom", 1, true))
    end)

    it("on_delta returning false stops: kind 'cancelled' with the partial text", function()
      local _, err = T.new():respond("x", { on_delta = function() return false end })
      assert.equal("cancelled", err.kind)
      assert.equal("Hello!", err.partial)
    end)
  end)

  describe("respond_async", function()
    it("returns at once; poll drives it; result gives text, response, info", function()
      local req = T.new():respond_async("x", { on_delta = function() end })
      assert.equal("pending", req.status)
      while chatgpt.poll(0.05) > 0 do end
      assert.equal("done", req.status)
      local text, r, info = req:result()
      assert.equal(T.HELLO, text)
      assert.equal("completed", r.status)
      assert.equal(200, info.status)
    end)

    it("runs several at once, and cancel stops one", function()
      fake.script { path = "/responses", delay = 0.3, body_contains = "slow" }
      local c = T.new()
      local slow = c:respond_async("slow")
      local a, b = c:respond_async("a"), c:respond_async("b")
      assert.equal(T.HELLO, (a:wait(5)))
      assert.equal(T.HELLO, (b:wait(5)))
      slow:cancel()
      assert.equal("cancelled", slow.status)
      local _, err = slow:result()
      assert.equal("cancelled", err.kind)
    end)

    it("yields inside chatgpt.spawn", function()
      local got
      chatgpt.spawn(function() got = T.new():respond("x") end)
      while chatgpt.poll(0.05) > 0 do end
      assert.equal(T.HELLO, got)
    end)
  end)

  it("an answer with both output text and a refusal part gives the text", function()
    fake.script { path = "/responses", json = { id = "resp_b", object = "response", status = "completed", output = {
      { type = "message", role = "assistant", content = { { type = "output_text", text = "partial" },
                                                          { type = "refusal", refusal = "No more." } } } } } }
    local text, response = T.new():respond("x")
    assert.equal("partial", text)
    assert.equal("No more.", response.output[1].content[2].refusal)
  end)

  describe("chatgpt.output_text", function()
    it("joins the output_text parts of the message items, nil without any", function()
      assert.equal("ab", chatgpt.output_text { output = {
        { type = "reasoning", summary = {} },
        { type = "message", content = { { type = "output_text", text = "a" }, { type = "refusal", refusal = "r" } } },
        { type = "message", content = { { type = "output_text", text = "b" } } } } })
      assert.is_nil(chatgpt.output_text { output = { { type = "function_call" } } })
      assert.is_nil(chatgpt.output_text {})
    end)
  end)

  it("raises on an input that is neither a string nor a list, in luaL_argerror wording", function()
    assert.has_error(function() T.new():respond(42) end,
      "bad argument #1 to 'respond' (string or list of input items expected, got number)")
    assert.has_error(function() T.new():respond("x", { on_event = "no" }) end,
      "bad argument #2 to 'respond' (param 'on_event': function expected, got string)")
  end)
end)

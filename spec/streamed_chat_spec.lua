-- Streamed chat and completions end to end: real captures replayed through
-- the fake server in every framing, callbacks, stops, failures.
local chatgpt = require "chatgpt"
local cjson = require("cjson.safe").new()
local fake = require "spec.support.fake"
local wire = require "spec.support.wire"
local T = require "spec.support.client"
local math_type = require("chatgpt.compat").math_type

local function null(v) if v == cjson.null then return nil end return v end

-- What a capture should assemble to, folded independently of stream.lua.
local function expected(text)
  local e = { content = nil, calls = {}, usage = nil, n = 0 }
  for _, data in ipairs(wire.events(text)) do
    if data == "[DONE]" then break end
    local chunk = assert(cjson.decode(data))
    e.n = e.n + 1
    e.id = e.id or chunk.id
    if null(chunk.usage) then e.usage = chunk.usage end
    for _, ch in ipairs(chunk.choices or {}) do
      local d = ch.delta or {}
      if null(d.content) then e.content = (e.content or "") .. d.content end
      if null(ch.finish_reason) then e.finish = ch.finish_reason end
      for _, tc in ipairs(null(d.tool_calls) or {}) do
        local c = e.calls[tc.index + 1] or { args = "" }
        e.calls[tc.index + 1] = c
        c.id = c.id or null(tc.id)
        if tc["function"] then
          c.name = c.name or null(tc["function"].name)
          c.args = c.args .. (null(tc["function"].arguments) or "")
        end
      end
      if null(d.function_call) then
        e.fc = e.fc or { args = "" }
        e.fc.name = e.fc.name or null(d.function_call.name)
        e.fc.args = e.fc.args .. (null(d.function_call.arguments) or "")
      end
    end
  end
  return e
end

local function check(e, text, r)
  assert.equal(e.content, text)
  assert.equal(e.content, r.choices[1].message.content)
  assert.equal(e.id, r.id)
  assert.equal(e.finish, r.choices[1].finish_reason)
  assert.equal("chat.completion", r.object)
  local calls = r.choices[1].message.tool_calls
  if #e.calls > 0 then
    assert.equal(#e.calls, #calls)
    for i, c in ipairs(e.calls) do
      assert.equal(c.id, calls[i].id)
      assert.equal(c.name, calls[i]["function"].name)
      assert.equal(c.args, calls[i]["function"].arguments)
      assert.is_table(cjson.decode(calls[i]["function"].arguments))
    end
  else
    assert.is_nil(calls)
  end
  if e.fc then
    assert.equal(e.fc.name, r.choices[1].message.function_call.name)
    assert.equal(e.fc.args, r.choices[1].message.function_call.arguments)
  end
  if e.usage then
    assert.equal(e.usage.total_tokens, r.usage.total_tokens)
    assert.equal("integer", math_type(r.usage.total_tokens))
  else
    assert.is_nil(r.usage)
  end
end

describe("streamed captures", function()
  before_each(function() T.drain(); fake.reset() end)

  for _, name in ipairs(wire.list("^chat_stream.*%.sse$")) do
    for _, split in ipairs { "whole", "bytes", "random" } do
      it(name .. " assembles like the capture, fed " .. split, function()
        local e = expected(wire.read(name))
        fake.script { sse_file = name, split = split, seed = 7 }
        local pieces, chunks = {}, 0
        local text, r, info = T.new():chat("x", {
          on_delta = function(p) pieces[#pieces + 1] = p end,
          on_chunk = function() chunks = chunks + 1 end,
        })
        assert.is_table(r, tostring(r))
        if e.content then assert.equal(e.content, table.concat(pieces)) end
        assert.equal(e.n, chunks)
        if e.content == nil and #e.calls > 0 or e.fc then
          assert.is_nil(text)
        end
        check(e, text, r)
        assert.equal(200, info.status)
      end)
    end
  end

  it("tool calls are reported once each, with complete arguments", function()
    local name = "chat_stream_tool_calls_parallel_gpt-3.5-turbo-0125_2024-07.sse"
    local e = expected(wire.read(name))
    fake.script { sse_file = name }
    local seen = {}
    T.new():chat("x", { on_tool_call = function(call) seen[#seen + 1] = call end })
    assert.equal(#e.calls, #seen)
    for i, call in ipairs(seen) do
      assert.equal(e.calls[i].id, call.id)
      assert.equal(e.calls[i].args, call["function"].arguments)
    end
  end)

  it("the 2026 cached-usage capture gives cached_tokens = 1024", function()
    fake.script { sse_file = "chat_stream_include_usage_cached_gpt-4.1_2026-02.sse" }
    local _, r = T.new():chat("x", { stream = true })
    assert.equal(1024, r.usage.prompt_tokens_details.cached_tokens)
  end)
end)

describe("streaming requests", function()
  before_each(function() T.drain(); fake.reset() end)

  it("sends stream = true and Accept: text/event-stream when a callback is given", function()
    T.new():chat("x", { on_delta = function() end })
    local rec = fake.last()
    assert.is_true(rec.json.stream)
    assert.equal("text/event-stream", rec.header.accept)
  end)

  it("streams with stream = true alone and returns the whole text", function()
    local text, r = T.new():chat("x", { stream = true, stream_options = { include_usage = true } })
    assert.equal(T.HELLO, text)
    assert.equal("stop", r.choices[1].finish_reason)
    assert.is_true(r.usage.total_tokens > 0)
    assert.same({ include_usage = true }, fake.last().json.stream_options)
  end)

  it("gives each piece to on_delta as it arrives, in order", function()
    local pieces = {}
    T.new():chat("x", { on_delta = function(p, chunk)
      assert.is_table(chunk)
      pieces[#pieces + 1] = p
    end })
    assert.equal(T.HELLO, table.concat(pieces))
    assert.truthy(#pieces > 3)
  end)

  it("stops when on_delta returns false: nil, err{kind='cancelled'} with partial", function()
    local c = T.new()
    local n = 0
    local text, err = c:chat("x", { on_delta = function() n = n + 1; return false end })
    assert.is_nil(text)
    assert.equal("cancelled", err.kind)
    assert.equal(1, n)
    assert.equal("Hello!", err.partial)
    assert.is_false(err.retryable)
    assert.is_string((c:chat("again")))
  end)

  it("stops when on_chunk returns false", function()
    local n = 0
    local _, err = T.new():chat("x", { on_chunk = function() n = n + 1; return n < 3 end })
    assert.equal("cancelled", err.kind)
    assert.equal(3, n)
  end)

  it("an error raised in on_delta comes back as kind 'callback' with the message and traceback", function()
    local c = T.new()
    local text, err = c:chat("x", { on_delta = function() error("boom in delta") end })
    assert.is_nil(text)
    assert.equal("callback", err.kind)
    assert.truthy(err.message:find("boom in delta", 1, true))
    assert.truthy(err.message:find("traceback", 1, true))
    assert.is_string((c:chat("again")))
  end)

  it("an error raised in on_chunk comes back as kind 'callback'", function()
    local _, err = T.new():chat("x", { on_chunk = function() error({ "a table" }) end })
    assert.equal("callback", err.kind)
  end)

  it("an error raised in on_tool_call comes back as kind 'callback'", function()
    fake.script { sse = {
      '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
        .. '"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function",'
        .. '"function":{"name":"f","arguments":"{}"}}]},"finish_reason":null}]}',
      '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
        .. '"delta":{},"finish_reason":"tool_calls"}]}',
      "[DONE]" } }
    local _, err = T.new():chat("x", { on_tool_call = function() error("tool boom") end })
    assert.equal("callback", err.kind)
    assert.truthy(err.message:find("tool boom", 1, true))
  end)

  it("a non-200 answer to a stream request gives the same error as without streaming", function()
    fake.script { status = 429, json = { error = { message = "slow down", type = "requests",
      code = "rate_limit_exceeded" } } }
    local _, err = T.new { max_retries = 0 }:chat("x", { on_delta = function() end })
    assert.equal("api", err.kind)
    assert.equal(429, err.status)
    assert.equal("rate_limit_exceeded", err.code)
  end)

  it("a 200 application/json answer to a stream request is read as a normal response", function()
    fake.script { status = 200, json = { id = "j", choices = { { index = 0,
      message = { role = "assistant", content = "plain json" }, finish_reason = "stop" } } } }
    local got
    local text = T.new():chat("x", { on_delta = function(p) got = p end })
    assert.equal("plain json", text)
    assert.equal("plain json", got)
  end)

  it("a stream that ends without [DONE] is kind 'network' with partial", function()
    fake.script { sse = {
      '{"id":"c","choices":[{"index":0,"delta":{"content":"half "}}]}',
      '{"id":"c","choices":[{"index":0,"delta":{"content":"way"}}]}' } }
    local text, err = T.new { max_retries = 0 }:chat("x", { stream = true })
    assert.is_nil(text)
    assert.equal("network", err.kind)
    assert.equal("STREAM_TRUNCATED", err.code)
    assert.equal("half way", err.partial)
  end)

  it("a connection dropped mid-stream is kind 'network' with partial", function()
    fake.script { sse_repeat = { data = '{"id":"c","choices":[{"index":0,"delta":{"content":"ab"}}]}',
                                 count = 1000 }, drop_after = 3000 }
    local _, err = T.new { max_retries = 0 }:chat("x", { stream = true })
    assert.equal("network", err.kind)
    assert.truthy(#err.partial > 0)
    assert.truthy(err.partial:match("^[ab]+$"))
  end)

  it("a dropped stream is not retried once a chunk reached a callback", function()
    fake.script { sse_repeat = { data = '{"id":"c","choices":[{"index":0,"delta":{"content":"ab"}}]}',
                                 count = 1000 }, drop_after = 3000 }
    local _, err = T.new { max_retries = 2 }:chat("x", { on_delta = function() end })
    assert.equal("network", err.kind)
    assert.equal(1, err.attempts)
    assert.equal(1, #fake.requests())
  end)

  it("an `event: error` mid-stream is kind 'api' with its fields", function()
    fake.script { sse_raw = 'data: {"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
      .. 'event: error\ndata: {"error":{"message":"overloaded","type":"server_error","code":"server_error"}}\n\n' }
    local _, err = T.new { max_retries = 0 }:chat("x", { stream = true })
    assert.equal("api", err.kind)
    assert.equal("overloaded", err.message)
    assert.equal("server_error", err.code)
    assert.equal("hi", err.partial)
  end)

  it("a data object with a top-level error is kind 'api'", function()
    fake.script { sse = { '{"error":{"message":"bad things","type":"invalid_request_error"}}' } }
    local _, err = T.new { max_retries = 0 }:chat("x", { stream = true })
    assert.equal("api", err.kind)
    assert.equal("bad things", err.message)
  end)

  it("a chunk that is not JSON is kind 'parse'", function()
    fake.script { sse = { "not json at all", "[DONE]" } }
    local _, err = T.new():chat("x", { stream = true })
    assert.equal("parse", err.kind)
  end)

  it("keep-alive comments and CRLF framing are read", function()
    fake.script { sse_raw = ": keep-alive\r\n\r\ndata: {\"id\":\"c\",\"choices\":[{\"index\":0,"
      .. "\"delta\":{\"content\":\"crlf\"}}]}\r\n\r\n: ping\r\n\r\ndata: [DONE]\r\n\r\n", split = "bytes" }
    assert.equal("crlf", (T.new():chat("x", { stream = true })))
  end)

  it("a UTF-8 character split across reads arrives whole", function()
    fake.script { sse = { '{"id":"c","choices":[{"index":0,"delta":{"content":"日本語 🎉"}}]}', "[DONE]" },
                  split = "bytes" }
    local got = {}
    T.new():chat("x", { on_delta = function(p) got[#got + 1] = p end })
    assert.same({ "日本語 🎉" }, got)
  end)

  it("a 5,000-chunk stream assembles every piece", function()
    fake.script { sse_repeat = {
      data = '{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"x"}}]}',
      count = 5000 } }
    local n = 0
    local text = T.new():chat("x", { on_delta = function() n = n + 1 end })
    assert.equal(5000, n)
    assert.equal(string.rep("x", 5000), text)
  end)

  it("an event over max_event_bytes ends with kind 'limit'", function()
    fake.script { sse_big_line = { bytes = 300000 } }
    local c = T.new { max_event_bytes = 100000 }
    local _, err = c:chat("x", { stream = true })
    assert.equal("limit", err.kind)
    assert.equal("EVENT_TOO_LARGE", err.code)
    assert.is_string((c:chat("again", { stream = true })))
  end)

  it("a 1 MiB single event is fine", function()
    fake.script { sse_big_line = { bytes = 1024 * 1024 } }
    local text = T.new():chat("x", { stream = true })
    assert.truthy(#text > 1000000)
  end)

  it("n = 2 interleaved choices are assembled separately", function()
    local _, r = T.new():chat("x", { stream = true, n = 2 })
    assert.equal(2, #r.choices)
    assert.equal(r.choices[1].message.content, r.choices[2].message.content)
  end)
end)

describe("reasoning text of compatible servers", function()
  before_each(function() T.drain(); fake.reset() end)

  -- DeepSeek's stream: reasoning_content first (content null), then content
  local function ds(d, finish)
    return { id = "c-ds", object = "chat.completion.chunk", created = 1, model = "deepseek-reasoner",
             choices = { { index = 0, delta = d, finish_reason = finish or chatgpt.null } } }
  end
  local DEEPSEEK = {
    ds { role = "assistant", content = chatgpt.null, reasoning_content = "" },
    ds { content = chatgpt.null, reasoning_content = "The user " },
    ds { content = chatgpt.null, reasoning_content = "says hi." },
    ds { content = "Hello", reasoning_content = chatgpt.null },
    ds({ content = "!", reasoning_content = chatgpt.null }, "stop"), "[DONE]",
  }

  it("a stream's reasoning_content reaches on_reasoning as it comes and the message at the end", function()
    fake.script { sse = DEEPSEEK }
    local log = {}
    local text, r = T.new():chat("hi", {
      on_reasoning = function(s, i) log[#log + 1] = { s, i } end,
      on_delta = function(s) log[#log + 1] = s end,
    })
    assert.equal("Hello!", text)
    assert.same({ { "The user ", 0 }, { "says hi.", 0 }, "Hello", "!" }, log)
    assert.equal("The user says hi.", r.choices[1].message.reasoning_content)
    assert.is_true(fake.last().json.stream)
  end)

  it("on_reasoning alone asks for a stream", function()
    fake.script { sse = DEEPSEEK }
    local got = {}
    local text = T.new():chat("hi", { on_reasoning = function(s) got[#got + 1] = s end })
    assert.equal("Hello!", text)
    assert.equal("The user says hi.", table.concat(got))
    assert.is_true(fake.last().json.stream)
  end)

  it("a non-streamed answer keeps reasoning_content; OpenRouter's reasoning is given that name too", function()
    fake.script { json = { id = "c", object = "chat.completion", choices = { { index = 0, finish_reason = "stop",
      message = { role = "assistant", content = "Hi", reasoning_content = "Greeting." } } } } }
    local _, r = T.new():chat("hi")
    assert.equal("Greeting.", r.choices[1].message.reasoning_content)
    fake.script { json = { id = "c", object = "chat.completion", choices = { { index = 0, finish_reason = "stop",
      message = { role = "assistant", content = "Hi", reasoning = "Short." } } } } }
    _, r = T.new():chat("hi")
    assert.equal("Short.", r.choices[1].message.reasoning_content)
    assert.equal("Short.", r.choices[1].message.reasoning)
  end)
end)

describe("streamed legacy completions", function()
  before_each(function() T.drain(); fake.reset() end)

  it("client:complete streams pieces to on_delta and returns the text", function()
    local pieces = {}
    local text, r = T.new():complete("Once", { on_delta = function(p) pieces[#pieces + 1] = p end })
    assert.equal("Once upon a time there was a fake server.", text)
    assert.equal(text, table.concat(pieces))
    assert.equal("text_completion", r.object)
    assert.is_true(fake.last().json.stream)
  end)

  it("a completions stream without [DONE] is kind 'network' even with finish_reason", function()
    fake.script { sse = {
      '{"id":"x","object":"text_completion","choices":[{"index":0,"text":"abc","finish_reason":"stop"}]}' } }
    local _, err = T.new { max_retries = 0 }:complete("x", { stream = true })
    assert.equal("network", err.kind)
    assert.equal("abc", err.partial)
  end)
end)

describe("memory while streaming", function()
  before_each(function() T.drain(); fake.reset() end)

  local function rss_kib()
    local f = io.open("/proc/self/status")
    if not f then return 0 end
    local kib = tonumber(f:read("*a"):match("VmRSS:%s*(%d+)"))
    f:close()
    return kib or 0
  end

  it("stays flat over a 100 MiB stream of small events (the body is never kept whole)", function()
    local data = '{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"y"}}]}'
    local count = math.floor(100 * 1024 * 1024 / (#data + 8))
    fake.script { sse_repeat = { data = data, count = count } }
    collectgarbage()
    local n, peak, rss0, heap0 = 0, 0, rss_kib(), collectgarbage("count")
    local text = T.new():chat("x", { on_chunk = function()
      n = n + 1
      -- what is kept, not the garbage a lazy collector has yet to free:
      -- a sample without a full collection moved with the heap's history
      if n % 50000 == 0 then
        collectgarbage()
        peak = math.max(peak, collectgarbage("count"))
      end
    end })
    assert.equal(count, n)
    assert.equal(count, #text)
    -- what grows is the assembled text (1 byte a chunk), not the 100 MiB body
    -- (counted from the heap before the stream: earlier specs in this state
    -- keep what they keep)
    assert.truthy(peak - heap0 < 48 * 1024, "Lua heap grew to " .. peak - heap0 .. " KiB")
    -- (under ASan the allocator's quarantine holds freed memory: RSS says nothing)
    if not (os.getenv("CHATGPT_BUILD") or ""):find("asan") then
      assert.truthy(rss_kib() - rss0 < 80 * 1024, "RSS grew by " .. (rss_kib() - rss0) .. " KiB")
    end
  end)
end)

describe("a stream's size (max_stream_bytes)", function()
  before_each(function() T.drain(); fake.reset() end)

  local function chunk(content)
    return '{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"'
           .. content .. '"}}]}'
  end

  -- every way a stream's bytes reach its assembly: many small events, a
  -- few large ones, and gzip, where the cap counts what curl decompressed
  local CASES = {
    ["many small events"] = { reply = { sse_repeat = { data = chunk("y"), count = 100000 } },
                              cap = 200000 },
    ["a few large events"] = { reply = { sse_repeat = { data = chunk(("z"):rep(60000)), count = 50 } },
                               cap = 1000000 },
    ["a gzip body far smaller than its text"] = {
      reply = { sse_repeat = { data = chunk(("g"):rep(20000)), count = 500 }, gzip = true },
      cap = 1000000 },                       -- ~50 KB on the wire: bytes are counted decompressed
  }
  for what, case in pairs(CASES) do
    it(what .. ": nil, err{kind = 'limit', code = 'STREAM_TOO_LARGE'} with the partial text, once",
       function()
      fake.script(case.reply)
      local c = T.new { max_stream_bytes = case.cap, max_retries = 2, timeout = 60 }
      local got = 0
      local text, err = c:chat("x", { on_delta = function(p) got = got + #p end })
      assert.is_nil(text)
      assert.equal("limit", err.kind)
      assert.equal("STREAM_TOO_LARGE", err.code)
      assert.truthy(err.message:find(case.cap .. " bytes (max_stream_bytes)", 1, true), err.message)
      assert.is_false(err.retryable)
      assert.equal(1, err.attempts)
      assert.equal(1, #fake.requests())
      -- what was assembled stays under the cap, and is the partial answer
      assert.truthy(#err.partial <= case.cap and #err.partial == got, #err.partial)
      assert.truthy(got > 0)
      assert.equal(T.HELLO, (c:chat("again", { stream = true })))   -- the client goes on
    end)
  end

  it("a stream just under the cap is whole; the default cap is 256 MiB", function()
    local data = chunk("w")
    -- each event is "data: " .. data .. "\n\n"; then "data: [DONE]\n\n"
    local bytes = 1000 * (#data + 8) + 14
    fake.script { sse_repeat = { data = data, count = 1000 }, ["repeat"] = 2 }
    assert.equal(("w"):rep(1000), (T.new { max_stream_bytes = bytes }:chat("x", { stream = true })))
    local _, err = T.new { max_stream_bytes = bytes - 1 }:chat("x", { stream = true })
    assert.equal("STREAM_TOO_LARGE", err.code)
    assert.equal(256 * 1024 * 1024, chatgpt.defaults and chatgpt.defaults.max_stream_bytes
                 or require("chatgpt.core").defaults.max_stream_bytes)
  end)

  it("max_stream_bytes is an integer >= 1", function()
    for _, bad in ipairs { 0, -1, 1.5, "1e6", true } do
      assert.has_error(function() T.new { max_stream_bytes = bad } end)
    end
  end)
end)

describe("spelled-out failures keep the client usable", function()
  it("the next stream on the same client works after a cancel", function()
    fake.reset()
    local c = T.new()
    c:chat("x", { on_delta = function() return false end })
    local text = c:chat("y", { stream = true })
    assert.equal(T.HELLO, text)
    assert.is_true(chatgpt.poll(0) >= 0)
  end)
end)

describe("on_delta = io.write", function()
  it("works as the docs show it: only the text is written", function()
    fake.reset()
    local out = T.run("", ([[
      local c = require("chatgpt").new { base_url = %q, auth = "none" }
      local text, err = c:chat("x", { on_delta = io.write })
      io.write("|", tostring(text and #text))]]):format(fake.base_url()))
    assert.equal(T.HELLO .. "|41", out)
  end)
end)

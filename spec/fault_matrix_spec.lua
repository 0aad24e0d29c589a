-- The fault matrix: every way the wire can fail, each in three modes
-- (blocking chat, streamed chat, chat_async driven by poll(0) alone), each
-- ending in a known err{kind, status, code, attempts, retryable}, none
-- crashing or leaking, and the same client working right after.
local chatgpt = require "chatgpt"
local core = require "chatgpt.core"
local socket = require "socket"
local fake = require "spec.support.fake"
local T = require "spec.support.client"

local HELLO = T.HELLO
local MODES = { "blocking", "streaming", "async" }
local MiB = 1024 * 1024
-- valgrind (make valgrind) runs everything many times slower
local SLOW = os.getenv("CHATGPT_VALGRIND") and 10 or 1

-- ---- wire pieces ------------------------------------------------------

local JSON_BODY = '{"id":"chatcmpl-f","object":"chat.completion","created":1,'
  .. '"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant",'
  .. '"content":"' .. string.rep("all work and no play ", 60) .. '"},"finish_reason":"stop"}]}'

local function json_head(len)
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-request-id: req_fault\r\n"
    .. (len and ("Content-Length: " .. len .. "\r\n") or "Transfer-Encoding: chunked\r\n")
    .. "\r\n"
end

local SSE_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
  .. "x-request-id: req_fault\r\nTransfer-Encoding: chunked\r\n\r\n"

local function http_chunk(s) return ("%x\r\n%s\r\n"):format(#s, s) end

local function chunk(content)
  return '{"id":"chatcmpl-f","object":"chat.completion.chunk","created":1,'
    .. '"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"' .. content
    .. '"},"finish_reason":null}]}'
end

local function event(content) return "data: " .. chunk(content) .. "\n\n" end

local function api_error(status, message, type_, code)
  return { status = status, default_headers = true, json = { error = {
    message = message, type = type_, param = chatgpt.null, code = code or chatgpt.null } } }
end

local function with(t, extra)
  local r = {}
  for k, v in pairs(t) do r[k] = v end
  for k, v in pairs(extra) do r[k] = v end
  return r
end

local GARBAGE = "\0\1\2\255\254\253 garbage \128\129\130\r\n\0\0\n\n\222\173\190\239"

local many_headers = {}
for i = 1, 300 do many_headers[i] = { "x-filler-" .. i, string.rep("h", 1000) } end

-- ---- the matrix -------------------------------------------------------
-- A row: name; script (a reply, or a list of them) or plain/stream scripts
-- by mode; opts (client options) or opts_plain/opts_stream; want = {kind,
-- status, code, attempts, retryable} or want_plain/want_stream; text for a
-- row that succeeds; check(mode, err|info, took, extra) for the rest.

local ROWS = {
  {
    name = "a reset before the status line",
    -- many: libcurl itself retries a reused connection that dies unanswered
    script = { drop_before_status = true, ["repeat"] = 20 },
    opts = { max_retries = 0 },
    want = { kind = "network", code = T.CUT, attempts = 1, retryable = true },
  },
  {
    name = "a reset right after the headers",
    plain = { raw = json_head(#JSON_BODY), drop_after = #json_head(#JSON_BODY) },
    stream = { raw = SSE_HEAD, drop_after = #SSE_HEAD },
    opts = { max_retries = 0 },
    -- which of its calls meets the reset first is curl's timing: any
    -- name of a cut connection (T.CUT)
    want = { kind = "network", status = 200, code = T.CUT, attempts = 1, retryable = true },
  },
  {
    name = "a reset in the middle of the body",
    plain = { raw = json_head(#JSON_BODY) .. JSON_BODY:sub(1, 300),
              drop_after = #json_head(#JSON_BODY) + 300 },
    stream = { raw = SSE_HEAD .. http_chunk(event("Hel")) .. http_chunk(event("lo")) .. "50\r\ndata: {",
               drop_after = #SSE_HEAD + #http_chunk(event("Hel")) + #http_chunk(event("lo")) + 10 },
    -- a stream that handed a chunk to a callback is never retried
    opts_plain = { max_retries = 0 }, opts_stream = { max_retries = 2 },
    -- as above: on a loaded machine curl's sending call may meet the reset
    -- first (seen in CI)
    want = { kind = "network", status = 200, code = T.CUT, attempts = 1, retryable = true },
    check = function(mode, err)
      if mode == "streaming" then assert.equal("Hello", err.partial) end
      assert.equal("req_fault", err.request_id)
    end,
  },
  {
    name = "truncated chunked encoding",
    plain = { raw = json_head() .. "400\r\n" .. JSON_BODY:sub(1, 100) },
    stream = { raw = SSE_HEAD .. http_chunk(event("Hel")) .. "80\r\ndata: {\"id" },
    opts_plain = { max_retries = 0 }, opts_stream = { max_retries = 2 },
    -- a stream cut inside its framing is README's STREAM_TRUNCATED
    want_plain = { kind = "network", status = 200, code = "PARTIAL_FILE", attempts = 1, retryable = true },
    want_stream = { kind = "network", status = 200, code = "STREAM_TRUNCATED", attempts = 1,
                    retryable = true },
    check = function(mode, err)
      if mode == "streaming" then assert.equal("Hel", err.partial) end
    end,
  },
  {
    name = "a body that stops without an end and without closing",
    plain = { json = { choices = { { index = 0, message = { role = "assistant", content = "x" } } } },
              split = 20, chunk_delay = 3 },
    stream = { sse = { chunk("Hel"), chunk("lo"), "[DONE]" }, chunk_delay = 3 },
    -- bytes came: an idle timeout then is not retried
    opts = { max_retries = 2, idle_timeout = 0.5 },
    want = { kind = "timeout", status = 200, code = "IDLE_TIMEOUT", attempts = 1, retryable = false },
    check = function(mode, err, took)
      assert.truthy(took >= 0.45 and took < 2 * SLOW, "took " .. took)
      if mode == "streaming" then assert.equal("Hel", err.partial) end
    end,
  },
  {
    name = "a server that sends one byte per second",
    script = { trickle = 1 },
    opts = { max_retries = 2, timeout = 1 },
    want = { kind = "timeout", status = 200, code = "TOTAL_TIMEOUT", attempts = 1, retryable = false },
    check = function(_, _, took) assert.truthy(took >= 0.95 and took < 2.5 * SLOW, "took " .. took) end,
  },
  {
    name = "a 200 with invalid JSON",
    plain = { body = '{"id":"chatcmpl-f","choices":[{"message":',
              headers = { { "Content-Type", "application/json" } } },
    stream = { sse = { '{"id":"chatcmpl-f","choices":[{"delta":' } },
    opts = { max_retries = 2 },
    want_plain = { kind = "parse", status = 200, code = "BAD_JSON", attempts = 1, retryable = false },
    want_stream = { kind = "parse", status = 200, code = "BAD_CHUNK", attempts = 1, retryable = false },
  },
  {
    name = "a 200 without choices",
    plain = { json = { id = "chatcmpl-f", object = "chat.completion" } },
    stream = { sse = { '{"id":"chatcmpl-f","object":"chat.completion.chunk"}', "[DONE]" } },
    want = { kind = "parse", status = 200, code = "NO_CHOICES", attempts = 1, retryable = false },
    check = function(_, err) assert.equal("chatcmpl-f", err.response.id) end,
  },
  {
    name = "a 200 with empty choices",
    plain = { body = '{"id":"chatcmpl-f","object":"chat.completion","choices":[]}',
              headers = { { "Content-Type", "application/json" } } },
    stream = { sse = { '{"id":"chatcmpl-f","object":"chat.completion.chunk","choices":[]}', "[DONE]" } },
    want = { kind = "parse", status = 200, code = "NO_CHOICES", attempts = 1, retryable = false },
  },
  {
    name = "a 200 whose content is null",
    plain = { body = '{"id":"chatcmpl-f","object":"chat.completion","choices":[{"index":0,'
                .. '"message":{"role":"assistant","content":null},"finish_reason":"stop"}]}',
              headers = { { "Content-Type", "application/json" } } },
    stream = { sse = { '{"id":"chatcmpl-f","object":"chat.completion.chunk","choices":[{"index":0,'
                 .. '"delta":{"role":"assistant","content":null},"finish_reason":"stop"}]}', "[DONE]" } },
    want = { kind = "parse", status = 200, code = "NO_CONTENT", attempts = 1, retryable = false },
  },
  {
    name = "an HTML 502 page from a proxy",
    script = { status = 502, body = T.HTML_502, ["repeat"] = 3,
               headers = { { "Content-Type", "text/html" }, { "retry-after-ms", "10" } } },
    opts = { max_retries = 2 },
    want = { kind = "http", status = 502, attempts = 3, retryable = true },
    check = function(_, err)
      assert.equal("chatgpt: 502 Bad Gateway cloudflare after 3 attempts; retry after 0.01 s", tostring(err))
      assert.equal(3, #fake.requests())
    end,
  },
  {
    name = "a 200 whose JSON body is an error",
    plain = with(api_error(200, "The server had an error processing your request.", "server_error"),
                 { ["repeat"] = 2, headers = { { "retry-after-ms", "10" } } }),
    stream = { sse = { '{"error":{"message":"The server had an error processing your request.",'
                 .. '"type":"server_error","param":null,"code":null}}' }, ["repeat"] = 2,
               headers = { { "Content-Type", "text/event-stream" }, { "retry-after-ms", "10" } } },
    -- server_error is worth another try; no chunk came before it
    opts = { max_retries = 1 },
    want = { kind = "api", status = 200, attempts = 2, retryable = true },
    check = function(_, err)
      assert.equal("server_error", err.type)
      assert.equal("The server had an error processing your request.", err.message)
    end,
  },
  {
    name = "a single 1 MiB SSE line (a 1 MiB body unstreamed)",
    plain = { body_big = { bytes = MiB } },
    stream = { sse_big_line = { bytes = MiB } },
    text = function(text) assert.truthy(#text > MiB - 300 and text:match("^x+$"), #text) end,
  },
  {
    name = "a single 20 MiB SSE line (a 20 MiB body over max_response_bytes)",
    plain = { body_big = { bytes = 20 * MiB } },
    stream = { sse_big_line = { bytes = 20 * MiB } },
    opts_plain = { max_retries = 2, max_response_bytes = 8 * MiB },
    opts_stream = { max_retries = 2 },       -- max_event_bytes: 8 MiB by default
    want_plain = { kind = "limit", status = 200, code = "BODY_TOO_LARGE", attempts = 1, retryable = false },
    want_stream = { kind = "limit", status = 200, code = "EVENT_TOO_LARGE", attempts = 1, retryable = false },
  },
  {
    name = "a 200 body of binary garbage",
    plain = { body = GARBAGE, headers = { { "Content-Type", "application/json" } } },
    stream = { body = GARBAGE, headers = { { "Content-Type", "text/event-stream" } } },
    opts = { max_retries = 2 },
    want_plain = { kind = "parse", status = 200, code = "BAD_JSON", attempts = 1, retryable = false },
    want_stream = { kind = "network", status = 200, code = "STREAM_TRUNCATED", attempts = 1, retryable = false },
  },
  {
    name = "binary garbage instead of HTTP",
    script = { raw = GARBAGE },
    opts = { max_retries = 2 },
    want = { kind = "network", code = "UNSUPPORTED_PROTOCOL", attempts = 1, retryable = false },
  },
  {
    name = "a header line over 100 KB",
    script = { headers_big = { bytes = 110 * 1024 }, default_headers = true, headers = {} },
    opts = { max_retries = 2 },
    want = { kind = "limit", status = 200, code = "HEADERS_TOO_LARGE", attempts = 1, retryable = false },
  },
  {
    name = "300 KB of header lines",
    script = { headers = many_headers, default_headers = true },
    opts = { max_retries = 2 },
    want = { kind = "limit", status = 200, code = "HEADERS_TOO_LARGE", attempts = 1, retryable = false },
  },
  {
    name = "a server that accepts and never answers",
    script = { stall = 3 },
    opts = { max_retries = 0, first_byte_timeout = 0.5 },
    -- nothing came: a timeout before the first byte is worth a retry
    want = { kind = "timeout", code = "FIRST_BYTE_TIMEOUT", attempts = 1, retryable = true },
    check = function(_, _, took) assert.truthy(took >= 0.45 and took < 2 * SLOW, "took " .. took) end,
  },
  {
    name = "an answer that stops midway",
    plain = { split = 40, chunk_delay = 3 },
    stream = { chunk_delay = 3 },
    opts = { max_retries = 2, idle_timeout = 0.5 },
    -- bytes came (and a chunk reached on_delta): never retried
    want = { kind = "timeout", status = 200, code = "IDLE_TIMEOUT", attempts = 1, retryable = false },
    check = function(_, _, took) assert.truthy(took >= 0.45 and took < 2 * SLOW, "took " .. took) end,
  },
  {
    name = "429 with retry-after: 1, then 200",
    script = { with(api_error(429, "Rate limit reached for gpt-4o-mini.", "requests", "rate_limit_exceeded"),
                    { headers = { { "retry-after", "1" } } }) },
    opts = { max_retries = 2 },
    text = function(text) assert.equal(HELLO, text) end,
    check = function(mode, info, took, worst)
      assert.equal(2, info.attempts)
      assert.equal(200, info.status)
      assert.equal(2, #fake.requests())
      assert.truthy(took >= 0.95 and took < 2 * SLOW, "took " .. took)
      if mode == "async" then
        assert.truthy(worst < 0.05 * SLOW, "a poll(0) took " .. worst .. " s")
      end
    end,
  },
  {
    name = "429 insufficient_quota",
    script = with(api_error(429, "You exceeded your current quota.", "insufficient_quota",
                            "insufficient_quota"), { ["repeat"] = 3 }),
    opts = { max_retries = 2 },
    want = { kind = "api", status = 429, code = "insufficient_quota", attempts = 1, retryable = false },
    check = function() assert.equal(1, #fake.requests()) end,
  },
  {
    name = "503 three times",
    script = with(api_error(503, "That model is currently overloaded.", "server_error"),
                  { ["repeat"] = 3, headers = { { "retry-after-ms", "10" } } }),
    opts = { max_retries = 2 },
    want = { kind = "api", status = 503, attempts = 3, retryable = true },
    check = function() assert.equal(3, #fake.requests()) end,
  },
  {
    name = "x-should-retry: false on a 500",
    script = with(api_error(500, "The server had an error.", "server_error"),
                  { ["repeat"] = 3, headers = { { "x-should-retry", "false" } } }),
    opts = { max_retries = 2 },
    want = { kind = "api", status = 500, attempts = 1, retryable = false },
    check = function() assert.equal(1, #fake.requests()) end,
  },
}

-- ---- running a row ------------------------------------------------------

-- One call in a mode: text, response|err, info, seconds, worst poll(0) (async).
local function call(c, mode)
  local t0 = core.now()
  if mode == "blocking" then
    local a, b, i = c:chat("x")
    return a, b, i, core.now() - t0
  elseif mode == "streaming" then
    local a, b, i = c:chat("x", { on_delta = function() end })
    return a, b, i, core.now() - t0
  end
  local req = c:chat_async("x")
  local worst, deadline = 0, t0 + 20 * SLOW
  while not req:done() do
    local t = core.now()
    chatgpt.poll(0)
    worst = math.max(worst, core.now() - t)
    if t > deadline then req:cancel(); error("async request still pending after 20 s") end
    socket.sleep(0.001)
  end
  local a, b, i = req:result()
  return a, b, i, core.now() - t0, worst
end

local function pick(row, mode, field)
  local key = mode == "streaming" and "stream" or "plain"
  local v = row[field .. "_" .. key]
  if v == nil and field == "script" then v = row[key] end
  if v == nil then v = row[field] end
  return v
end

local drain = T.drain

describe("the fault matrix", function()
  before_each(function() drain(); fake.reset() end)

  for _, row in ipairs(ROWS) do
    for _, mode in ipairs(MODES) do
      local want = pick(row, mode, "want")
      local code = type(want and want.code) == "table" and "a cut's (T.CUT)" or want and want.code
      local what = want and ("nil, err{kind=%q, code=%s}"):format(want.kind, tostring(code))
        or "the text"
      it(("%s (%s): returns %s, then the client works"):format(row.name, mode, what), function()
        fake.script(pick(row, mode, "script"))
        local c = T.new(pick(row, mode, "opts") or {})
        local text, r, info, took, worst = call(c, mode)
        if want then
          assert(text == nil, "got a text of " .. #tostring(text) .. " bytes")
          assert.is_true(chatgpt.is_error(r), tostring(r))
          assert.equal(want.kind, r.kind)
          assert.equal(want.status, r.status)
          if type(want.code) == "table" then
            assert.truthy(want.code[r.code], tostring(r.code))
          else
            assert.equal(want.code, r.code)
          end
          assert.equal(want.attempts, r.attempts)
          assert.equal(want.retryable, r.retryable)
          assert.equal("string", type(r.message))
          assert.falsy(tostring(r):find("\n", 1, true))
          assert.falsy(T.leaks(r))
          if row.check then row.check(mode, r, took, worst) end
        else
          assert.is_string(text, tostring(r))
          row.text(text)
          assert.equal(200, info.status)
          if row.check then row.check(mode, info, took, worst) end
        end
        fake.reset()
        local again, e2 = call(c, mode)
        assert.equal(HELLO, again, tostring(e2))
      end)
    end
  end
end)

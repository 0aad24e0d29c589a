-- Specs for chatgpt.errors: error objects, classification of transport and
-- HTTP failures (replaying the recorded OpenAI error bodies in
-- spec/fixtures/wire or $WIRE_DIR), retry policy, rate-limit headers.

-- chatgpt.error (the objects) and chatgpt.retry (the policy), as one view
local errors = setmetatable({}, { __index = function(_, k)
  local v = require("chatgpt.error")[k]
  if v == nil then v = require("chatgpt.retry")[k] end
  return v
end })
local cjson = require "cjson.safe"

local wire = require "spec.support.wire"
local math_type = require("chatgpt.compat").math_type
local WIRE_DIR = wire.dir()

-- "HTTP/1.1 401 Unauthorized" then "Name: value" lines -> status, headers
-- (lower-case names, as the C core hands them over)
local function parse_headers(text)
  local status, headers = nil, {}
  for line in text:gmatch("[^\r\n]+") do
    if not status then
      status = tonumber(line:match("^HTTP/%S+ (%d+)"))
    else
      local name, value = line:match("^([^:]+):%s*(.-)%s*$")
      if name then headers[name:lower()] = value end
    end
  end
  return status, headers
end

local function one_line(s)
  return not s:find("[\r\n]")
end

-- The policy each recorded status must get.
local RETRYABLE = { [400] = false, [401] = false, [404] = false, [429] = true,
                    [500] = true, [503] = true }

describe("chatgpt.errors", function()

  describe("replaying every recorded error body in " .. WIRE_DIR, function()
    local names = {}
    local all = {}
    for _, n in ipairs(wire.list("^error_")) do all[n] = true end
    for _, n in ipairs(wire.list("^error_.*%.json$")) do
      if not n:match("%.request%.json$") then names[#names + 1] = n end
    end

    for _, name in ipairs(names) do
      local body = wire.read(name)
      local hname = name:gsub("%.json$", ".headers.txt")
      local status, headers
      if all[hname] then            -- some recorders kept no headers
        status, headers = parse_headers(wire.read(hname))
      else
        status, headers = tonumber(name:match("^error_(%d+)_")), {}
      end
      local want = assert(cjson.decode(body)).error

      it(name .. ": becomes err{kind='api'} with the body's fields", function()
        local err = errors.from_http(status, headers, body)
        assert.is_true(errors.is(err))
        assert.are.equal("api", err.kind)
        assert.are.equal(status, err.status)
        assert.are.equal(want.message, err.message)
        assert.are.equal(want.type, err.type)
        if want.code == cjson.null then assert.is_nil(err.code)
        else assert.are.equal(want.code, err.code) end
        if want.param == cjson.null then assert.is_nil(err.param)
        else assert.are.equal(want.param, err.param) end
        assert.are.equal(headers["x-request-id"], err.request_id)
        assert.are.equal(RETRYABLE[status], err.retryable)
      end)

      it(name .. ": reads as one line with status, code or type, and request id", function()
        local err = errors.from_http(status, headers, body)
        local s = tostring(err)
        assert.is_true(one_line(s))
        local label = want.code ~= cjson.null and want.code or want.type
        assert.are.equal(1, s:find("chatgpt: " .. status .. " " .. label .. ": ", 1, true))
        assert.truthy(s:find(want.message:sub(1, 40), 1, true))
        if err.request_id then
          assert.are.equal(" (request " .. err.request_id .. ")",
            s:sub(-#err.request_id - 11))
        end
        assert.is_falsy(s:find("nil", 1, true))
      end)
    end

    it("keeps the reset headers of the 2023 rate-limit capture (no retry-after)", function()
      local status, headers =
        parse_headers(wire.read("error_429_rate_limit_requests_gpt-4_2023-06.headers.txt"))
      local rl = errors.ratelimit(headers)
      assert.are.same({ limit_requests = 200, remaining_requests = 0, reset_requests = 0.65 }, rl)
      local err = errors.from_http(status, headers,
        wire.read("error_429_rate_limit_requests_gpt-4_2023-06.json"))
      assert.is_nil(err.retry_after)
      assert.is_true(err.retryable)
      assert.is_nil(err.code)
      assert.matches("^chatgpt: 429 requests: Rate limit reached", tostring(err))
    end)

    it("reads integer limits and Go-style resets from a 2025 capture", function()
      local _, headers =
        parse_headers(wire.read("error_400_unsupported_parameter_o1-mini_2025-07.headers.txt"))
      local rl = errors.ratelimit(headers)
      assert.are.same({ limit_requests = 30000, remaining_requests = 29999,
        reset_requests = 0.002, limit_tokens = 150000000, remaining_tokens = 149999990,
        reset_tokens = 0 }, rl)
      assert.are.equal("integer", math_type(rl.limit_tokens))
    end)

    it("gives no ratelimit table for a capture without x-ratelimit headers", function()
      local _, headers = parse_headers(wire.read("error_401_invalid_api_key_2024-01.headers.txt"))
      assert.is_nil(errors.ratelimit(headers))
    end)
  end)

  describe("error objects", function()
    it("new() sets errors.Error as metatable and returns the same table", function()
      local t = { kind = "parse", message = "bad JSON" }
      local err = errors.new(t)
      assert.are.equal(t, err)
      assert.are.equal(errors.Error, getmetatable(err))
      assert.is_true(errors.is(err))
      assert.is_false(errors.is({ kind = "parse" }))
      assert.is_false(errors.is("chatgpt: parse"))
      assert.is_false(errors.is(nil))
    end)

    it("new() raises when kind is missing or unknown", function()
      assert.has_error(function() errors.new({ message = "x" }) end)
      assert.has_error(function() errors.new({ kind = "oops" }) end)
      assert.has_error(function() errors.new("network") end)
    end)

    it("tostring keeps only the first line of a multi-line message", function()
      local err = errors.new { kind = "callback", message = "spec.lua:3: boom\nstack traceback:\n\t..." }
      assert.are.equal("chatgpt: callback: spec.lua:3: boom", tostring(err))
      assert.are.equal("spec.lua:3: boom\nstack traceback:\n\t...", err.message)
    end)

    it("tostring adds the request id and the attempts when more than one", function()
      local err = errors.new { kind = "api", status = 429, code = "rate_limit_exceeded",
        message = "Rate limit reached for gpt-4", request_id = "req_abc123", attempts = 3 }
      assert.are.equal("chatgpt: 429 rate_limit_exceeded: Rate limit reached for gpt-4"
        .. " (request req_abc123) after 3 attempts", tostring(err))
      err.attempts = 1
      assert.are.equal("chatgpt: 429 rate_limit_exceeded: Rate limit reached for gpt-4"
        .. " (request req_abc123)", tostring(err))
    end)

    it("tostring names the server's retry_after, in seconds, when it gave one", function()
      local err = errors.from_http(429, { ["retry-after"] = "120", ["x-request-id"] = "req_1" },
        '{"error":{"message":"Rate limit reached; try again in 120ms","code":"rate_limit_exceeded"}}')
      assert.are.equal("chatgpt: 429 rate_limit_exceeded: Rate limit reached; try again in 120ms"
        .. " (request req_1); retry after 120 s", tostring(err))
      err.attempts = 3
      assert.are.equal("chatgpt: 429 rate_limit_exceeded: Rate limit reached; try again in 120ms"
        .. " (request req_1) after 3 attempts; retry after 120 s", tostring(err))
      err = errors.from_http(503, { ["retry-after-ms"] = "1500" }, "")
      assert.are.equal("chatgpt: 503 Service Unavailable (empty body); retry after 1.5 s", tostring(err))
      err.retry_after = 0
      assert.truthy(tostring(err):find("; retry after 0 s", 1, true))
      err.retry_after = 86400
      assert.truthy(tostring(err):find("; retry after 86400 s", 1, true))
      err.retry_after = nil
      assert.are.equal("chatgpt: 503 Service Unavailable (empty body)", tostring(err))
    end)

    it("tostring omits missing parts cleanly", function()
      assert.are.equal("chatgpt: cancelled", tostring(errors.new { kind = "cancelled" }))
      assert.are.equal("chatgpt: server_error: oops",
        tostring(errors.new { kind = "api", type = "server_error", message = "oops" }))
      assert.are.equal("chatgpt: 500: oops",
        tostring(errors.new { kind = "api", status = 500, message = "oops" }))
      assert.are.equal("chatgpt: api", tostring(errors.new { kind = "api" }))
    end)

    it("tostring shows a numeric code as it came", function()
      local err = errors.from_http(400, {}, '{"error": {"message": "bad", "code": 400}}')
      assert.are.equal(400, err.code)
      assert.are.equal("chatgpt: 400 400: bad", tostring(err))
    end)
  end)

  describe("from_http()", function()
    local PAGE = [[
<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>cloudflare</center>
</body>
</html>
]]

    it("turns a proxy's HTML 502 page into err{kind='http'} with readable text", function()
      local err = errors.from_http(502, { ["x-request-id"] = "req_1" }, PAGE)
      assert.are.equal("http", err.kind)
      assert.are.equal(502, err.status)
      assert.are.equal("502 Bad Gateway cloudflare", err.message)
      assert.is_true(err.retryable)
      assert.are.equal("req_1", err.request_id)
      assert.are.equal("chatgpt: 502 Bad Gateway cloudflare (request req_1)", tostring(err))
    end)

    it("cuts a long non-JSON body to a 200-byte excerpt without tags or newlines", function()
      local body = "<html><body><p>" .. ("lorem ipsum dolor\n\t sit amet "):rep(50)
        .. "</p><script>var secret = 1;</script></body></html>"
      local err = errors.from_http(500, {}, body)
      assert.are.equal("http", err.kind)
      assert.matches("^500 Internal Server Error: lorem ipsum dolor sit amet lorem", err.message)
      assert.is_true(#err.message <= #"500 Internal Server Error: " + 200 + 3)
      assert.is_falsy(err.message:find("[<>\n\t]"))
      assert.is_falsy(err.message:find("secret", 1, true))
      assert.is_true(one_line(tostring(err)))
    end)

    it("says (empty body) for an empty 503", function()
      local err = errors.from_http(503, {}, "")
      assert.are.equal("http", err.kind)
      assert.are.equal("503 Service Unavailable (empty body)", err.message)
      assert.is_true(err.retryable)
      assert.are.equal("chatgpt: 503 Service Unavailable (empty body)", tostring(err))
      assert.are.equal("504 Gateway Timeout (empty body)", errors.from_http(504, {}, nil).message)
    end)

    it("reads vLLM/FastAPI {\"detail\": \"...\"} as an api error", function()
      local err = errors.from_http(404, {}, '{"detail":"Not Found"}')
      assert.are.equal("api", err.kind)
      assert.are.equal("Not Found", err.message)
      assert.is_false(err.retryable)
    end)

    it("joins FastAPI validation details into one message", function()
      local err = errors.from_http(422, {},
        '{"detail":[{"loc":["body","messages"],"msg":"field required","type":"missing"}]}')
      assert.are.equal("api", err.kind)
      assert.are.equal("body.messages: field required", err.message)
      assert.are.equal("missing", err.type)
    end)

    it("reads {\"error\": \"a string\"} (Ollama, llama.cpp) as an api error", function()
      local err = errors.from_http(400, {}, '{"error":"model \\"llama9\\" not found"}')
      assert.are.equal("api", err.kind)
      assert.are.equal('model "llama9" not found', err.message)
      assert.are.equal('chatgpt: 400: model "llama9" not found', tostring(err))
    end)

    it("reads a top-level {message, code} and a Gemini-style list", function()
      local err = errors.from_http(404, {}, '{"message":"no such model","code":404}')
      assert.are.equal("no such model", err.message)
      assert.are.equal(404, err.code)
      err = errors.from_http(400, {},
        '[{"error":{"code":400,"message":"bad key","status":"INVALID_ARGUMENT"}}]')
      assert.are.equal("api", err.kind)
      assert.are.equal("bad key", err.message)
      assert.are.equal("INVALID_ARGUMENT", err.type)
    end)

    it("falls back to kind 'http' for broken JSON or JSON that is no error", function()
      local err = errors.from_http(500, {}, '{"error": {"message": ')
      assert.are.equal("http", err.kind)
      assert.matches("^500 Internal Server Error: ", err.message)
      err = errors.from_http(500, {}, '{"ok": true}')
      assert.are.equal("http", err.kind)
    end)

    it("gives an api error without a message the status line as message", function()
      local err = errors.from_http(500, {}, '{"error": {"type": "server_error"}}')
      assert.are.equal("api", err.kind)
      assert.are.equal("500 Internal Server Error", err.message)
    end)

    it("lets x-should-retry: true make a 400 retryable", function()
      local err = errors.from_http(400, { ["x-should-retry"] = "true" }, "")
      assert.is_true(err.retryable)
    end)

    it("lets x-should-retry: false make a 500 final", function()
      local err = errors.from_http(500, { ["x-should-retry"] = "false" },
        '{"error":{"message":"x","type":"server_error"}}')
      assert.is_false(err.retryable)
      assert.is_nil(errors.retry_delay(err, 0, 0))
    end)

    it("does not retry a 429 insufficient_quota, but does a rate limit 429", function()
      local quota = errors.from_http(429, {}, [[
{"error": {"message": "You exceeded your\ncurrent quota, please check your plan and billing details.",
"type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}]])
      assert.are.equal("insufficient_quota", quota.code)
      assert.is_false(quota.retryable)
      assert.is_nil(errors.retry_delay(quota, 0, 0))
      assert.is_true(one_line(tostring(quota)))
      local limit = errors.from_http(429, {}, '{"error":{"message":"slow down","code":"rate_limit_exceeded"}}')
      assert.is_true(limit.retryable)
    end)

    it("retries 408, 409, 429 and every 5xx; not 400, 401, 403, 404, 422 or other 4xx", function()
      for _, s in ipairs { 408, 409, 429, 500, 502, 503, 504, 520, 529, 599 } do
        assert.is_true(errors.from_http(s, {}, "").retryable, s)
      end
      for _, s in ipairs { 400, 401, 402, 403, 404, 405, 413, 422, 451 } do
        assert.is_false(errors.from_http(s, {}, "").retryable, s)
      end
    end)

    it("takes retry_after from the response headers", function()
      local err = errors.from_http(429, { ["retry-after"] = "7" }, "")
      assert.are.equal(7, err.retry_after)
      assert.are.equal(7, errors.retry_delay(err, 0, 0))
    end)

    it("accepts a header given as a list of values (repeated header)", function()
      local err = errors.from_http(500, { ["x-request-id"] = { "req_a", "req_b" } }, "")
      assert.are.equal("req_b", err.request_id)
    end)
  end)

  describe("from_api()", function()
    it("reads a wrapped {error = {...}} or the inner object, e.g. an SSE error event", function()
      local a = errors.from_api({ error = { message = "m", type = "server_error", code = "c" } })
      local b = errors.from_api({ message = "m", type = "server_error", code = "c" }, 200,
        { ["x-request-id"] = "req_9" })
      for _, err in ipairs { a, b } do
        assert.are.equal("api", err.kind)
        assert.are.equal("m", err.message)
        assert.are.equal("server_error", err.type)
        assert.are.equal("c", err.code)
      end
      assert.is_nil(a.status)
      assert.are.equal(200, b.status)
      assert.are.equal("req_9", b.request_id)
    end)

    it("retries an error inside a 200 only when it is a server_error", function()
      assert.is_true(errors.from_api({ error = { message = "m", type = "server_error" } }).retryable)
      assert.is_false(errors.from_api({ error = { message = "m", type = "invalid_request_error" } }, 200).retryable)
      assert.is_true(errors.from_api({ error = { message = "m" } }, 503).retryable)
    end)
  end)

  describe("from_transport()", function()
    it("makes err{kind='network'} readable and retryable for a refused connection", function()
      local err = errors.from_transport { kind = "network", code = "COULDNT_CONNECT",
        message = "Failed to connect to 127.0.0.1 port 1", received = false }
      assert.is_true(errors.is(err))
      assert.is_true(err.retryable)
      assert.are.equal("chatgpt: network COULDNT_CONNECT: Failed to connect to 127.0.0.1 port 1",
        tostring(err))
    end)

    it("retries resolver, reset and handshake failures, never certificate or URL errors", function()
      -- curl's verdicts come from the C core's one list (src/curl_errors.h)
      local core = require "chatgpt.core"
      -- COULDNT_RESOLVE_HOST, COULDNT_CONNECT, RECV_ERROR, SEND_ERROR, GOT_NOTHING,
      -- PARTIAL_FILE, SSL_CONNECT_ERROR, HTTP2
      for _, n in ipairs { 6, 7, 56, 55, 52, 18, 35, 16 } do
        local err = errors.from_transport(core.curl_error(n))
        assert.is_true(err.retryable, err.code)
      end
      -- PEER_FAILED_VERIFICATION, SSL_CACERT_BADFILE, SSL_CERTPROBLEM,
      -- UNSUPPORTED_PROTOCOL, URL_MALFORMAT, and a code outside the list
      for _, n in ipairs { 60, 77, 58, 1, 3, 9 } do
        local err = errors.from_transport(core.curl_error(n))
        assert.is_false(err.retryable, err.code)
      end
    end)

    it("retries a timeout only when nothing was received", function()
      local idle = errors.from_transport { kind = "timeout", code = "IDLE_TIMEOUT",
        message = "no data for 60 s", received = false }
      assert.is_true(idle.retryable)
      assert.are.equal("chatgpt: timeout IDLE_TIMEOUT: no data for 60 s", tostring(idle))
      assert.is_false(errors.from_transport { kind = "timeout", code = "TOTAL_TIMEOUT",
        received = true }.retryable)
      assert.is_true(errors.from_transport { kind = "timeout", code = "CONNECT_TIMEOUT" }.retryable)
    end)

    it("never retries limit and cancelled errors", function()
      assert.is_false(errors.from_transport { kind = "limit", code = "BODY_TOO_LARGE" }.retryable)
      assert.is_false(errors.from_transport { kind = "limit", code = "EVENT_TOO_LARGE" }.retryable)
      assert.is_false(errors.from_transport { kind = "cancelled" }.retryable)
      assert.are.equal("chatgpt: limit BODY_TOO_LARGE",
        tostring(errors.from_transport { kind = "limit", code = "BODY_TOO_LARGE" }))
    end)

    it("never retries parse, callback and refusal errors", function()
      for _, kind in ipairs { "parse", "callback", "refusal", "cancelled", "limit" } do
        assert.is_false(errors.retryable(errors.new { kind = kind }), kind)
      end
    end)
  end)

  describe("retry_after()", function()
    it("reads retry-after-ms first, as milliseconds", function()
      assert.are.equal(0.25, errors.retry_after { ["retry-after-ms"] = "250", ["retry-after"] = "9" })
      assert.are.equal(1.5005, errors.retry_after { ["retry-after-ms"] = "1500.5" })
    end)

    it("reads retry-after as (fractional) seconds", function()
      assert.are.equal(20, errors.retry_after { ["retry-after"] = "20" })
      assert.are.equal(0.5, errors.retry_after { ["retry-after"] = " 0.5 " })
    end)

    it("reads retry-after as an HTTP date, in UTC whatever the local zone", function()
      local date = "Wed, 21 Oct 2015 07:28:00 GMT" -- 1445412480 in UTC
      assert.are.equal(30, errors.retry_after({ ["retry-after"] = date }, 1445412450))
      assert.are.equal(30, errors.retry_after({ ["retry-after"] = "Wednesday, 21-Oct-15 07:28:00 GMT" },
        1445412450))
      assert.are.equal(30, errors.retry_after({ ["retry-after"] = "Wed Oct 21 07:28:00 2015" },
        1445412450))
      -- against the clock: a date 2 minutes ahead
      local ahead = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 120)
      local secs = errors.retry_after { ["retry-after"] = ahead }
      assert.is_true(secs >= 118 and secs <= 120, tostring(secs))
    end)

    it("clamps a negative or past value to 0", function()
      assert.are.equal(0, errors.retry_after { ["retry-after"] = "-3" })
      assert.are.equal(0, errors.retry_after { ["retry-after"] = "Wed, 21 Oct 2015 07:28:00 GMT" })
    end)

    it("returns nil when absent or unreadable", function()
      assert.is_nil(errors.retry_after {})
      assert.is_nil(errors.retry_after(nil))
      assert.is_nil(errors.retry_after { ["retry-after"] = "soon" })
      assert.is_nil(errors.retry_after { ["retry-after-ms"] = "nan", ["retry-after"] = "x" })
    end)
  end)

  describe("backoff() and retry_delay()", function()
    it("doubles from 0.5 s up to 8 s, with up to 25 % jitter off", function()
      local want = { [0] = 0.5, 1, 2, 4, 8, 8, 8 }
      for n = 0, 6 do
        assert.are.equal(want[n], errors.backoff(n, 0))
        local low = errors.backoff(n, 0.999)
        assert.is_true(low > want[n] * 0.75 and low < want[n], n)
      end
    end)

    it("picks its own jitter when r is not given", function()
      for _ = 1, 100 do
        local d = errors.backoff(2)
        assert.is_true(d > 1.5 and d <= 2)
      end
    end)

    it("waits retry_after when 0 < retry_after <= 60, else the backoff", function()
      local err = errors.new { kind = "http", status = 503, retryable = true, retry_after = 12 }
      assert.are.equal(12, errors.retry_delay(err, 3, 0))
      err.retry_after = 60
      assert.are.equal(60, errors.retry_delay(err, 0, 0))
      err.retry_after = nil
      assert.are.equal(2, errors.retry_delay(err, 2, 0))
      err.retry_after = 0
      assert.are.equal(0.5, errors.retry_delay(err, 0, 0))
    end)

    it("gives nil (return the error at once) when retry_after > 60", function()
      local err = errors.from_http(429, { ["retry-after"] = "3600" }, "")
      assert.is_true(err.retryable)
      assert.are.equal(3600, err.retry_after)
      assert.is_nil(errors.retry_delay(err, 0, 0))
    end)

    it("gives nil for an error that is not retryable", function()
      assert.is_nil(errors.retry_delay(errors.from_http(401, {}, ""), 0, 0))
      -- retryable not set yet: the policy decides
      assert.is_nil(errors.retry_delay(errors.new { kind = "parse" }, 0, 0))
      assert.are.equal(0.5, errors.retry_delay(errors.new { kind = "network", code = "RECV_ERROR" }, 0, 0))
    end)
  end)

  describe("parse_duration()", function()
    local cases = {
      { "20s", 20 }, { "0.65s", 0.65 }, { "104ms", 0.104 }, { "2ms", 0.002 },
      { "0s", 0 }, { "1m30s", 90 }, { "6m0s", 360 }, { "1h2m3.5s", 3723.5 },
      { "2d", 172800 }, { "20", 20 }, { "1.5", 1.5 }, { "500us", 0.0005 },
      { "500\194\181s", 0.0005 }, { "100ns", 1e-7 }, { " 7s ", 7 },
      { "", nil }, { "s", nil }, { "abc", nil }, { "1x", nil }, { "1.2.3s", nil },
      { "-5s", nil }, { "5s junk", nil }, { "0x10", nil },
    }
    for _, c in ipairs(cases) do
      it(("reads %q as %s"):format(c[1], tostring(c[2])), function()
        local got = errors.parse_duration(c[1])
        if c[2] == nil then
          assert.is_nil(got)
        else
          assert.is_true(math.abs(got - c[2]) < 1e-12, tostring(got))
        end
      end)
    end

    it("returns nil for a non-string, non-number", function()
      assert.is_nil(errors.parse_duration(nil))
      assert.is_nil(errors.parse_duration({}))
      assert.are.equal(3, errors.parse_duration(3))
    end)
  end)

  describe("ratelimit()", function()
    it("returns nil when no x-ratelimit-* header is there", function()
      assert.is_nil(errors.ratelimit {})
      assert.is_nil(errors.ratelimit { ["content-type"] = "application/json" })
      assert.is_nil(errors.ratelimit(nil))
    end)

    it("leaves fields nil for scrubbed placeholder values", function()
      local rl = errors.ratelimit {
        ["x-ratelimit-limit-requests"] = "X-RATELIMIT-LIMIT-REQUESTS-XXX",
        ["x-ratelimit-reset-tokens"] = "X-RATELIMIT-RESET-TOKENS-XXX",
        ["x-ratelimit-remaining-tokens"] = "12",
      }
      assert.are.same({ remaining_tokens = 12 }, rl)
    end)
  end)

  describe("redaction (clean)", function()
    -- a key the way a hostile server would echo it; "SECRET" is in no hint
    local KEY = "sk-test-SECRETabcdefghijklmnopqrstuvwxyz0123456789"
    local key = require("chatgpt.core").key(KEY)
    local redact = require("chatgpt.core").redact
    local function clean(s) return redact(s, key) end
    local HINT = key:hint()

    local function entities(s, fmt)
      return (s:gsub(".", function(c) return fmt:format(c:byte()) end))
    end

    local function assert_clean(err)
      for k, v in pairs(err) do
        if type(v) == "string" then assert.is_falsy(v:find("SECRET", 1, true), k) end
      end
      assert.is_falsy(tostring(err):find("SECRET", 1, true))
    end

    it("keeps no part of a key that straddles the 200-byte cut of an HTML page", function()
      -- the page's text: 185 bytes, then the key, then more text
      local body = "<html><head><title>x</title></head><body><p>" .. ("word "):rep(37)
        .. KEY .. " and more text " .. ("tail "):rep(40) .. "</p></body></html>"
      local err = errors.from_http(500, {}, body, clean)
      assert.are.equal("http", err.kind)
      assert_clean(err)
      assert.truthy(err.message:find(HINT, 1, true))
      assert.is_true(#err.message <= #"500 Internal Server Error: " + 200 + 3)
    end)

    it("catches a key written as decimal or hex HTML entities", function()
      for _, fmt in ipairs { "&#%d;", "&#x%x;", "&#X%X;", "&#00%d;", "&#x00%02x;" } do
        local body = "<html><body><h1>Unauthorized</h1><p>Incorrect API key: "
          .. entities(KEY, fmt) .. "</p></body></html>"
        local err = errors.from_http(401, {}, body, clean)
        assert_clean(err)
        assert.truthy(err.message:find("Incorrect API key: " .. HINT, 1, true), fmt)
      end
    end)

    it("keeps no part of a key cut by the 64 KB window of a long page", function()
      -- markup fills the window, so the key's head would open the excerpt
      local lead = "<html><body><div " .. ("x"):rep(65536 - 40) .. ">"
      local body = lead .. " " .. KEY .. " rest"
      assert.is_true(#lead < 65536 and #lead + 1 + #KEY > 65536)
      local err = errors.from_http(502, {}, body, clean)
      assert_clean(err)
    end)

    it("redacts a key echoed in code, type, param, message and x-request-id", function()
      local body = '{"error":{"message":"bad key ' .. KEY .. '","type":"' .. KEY
        .. '","code":"' .. KEY .. '","param":"' .. KEY .. '"}}'
      local err = errors.from_http(401, { ["x-request-id"] = KEY }, body, clean)
      assert.are.equal("api", err.kind)
      assert_clean(err)
      assert.are.equal(HINT, err.code)
      assert.are.equal(HINT, err.type)
      assert.are.equal(HINT, err.param)
      assert.are.equal(HINT, err.request_id)
      assert.are.equal("bad key " .. HINT, err.message)
      assert.are.equal(401, err.status)
    end)

    it("redacts a key in a JSON-escaped body and in a repeated x-request-id", function()
      local body = '{"error":{"message":"' .. entities(KEY, "\\u%04x") .. '"}}'
      local err = errors.from_http(400, { ["x-request-id"] = { "req_1", KEY } }, body, clean)
      assert_clean(err)
      assert.are.equal(HINT, err.message)
      assert.are.equal(HINT, err.request_id)
    end)

    it("redacts the fields of an SSE error event given to from_api()", function()
      local err = errors.from_api({ error = { message = KEY, type = KEY, code = KEY, param = KEY } },
        200, { ["x-request-id"] = "req_" .. KEY }, clean)
      assert_clean(err)
      assert.are.equal("req_" .. HINT, err.request_id)
      err = errors.from_api("raw " .. KEY, nil, nil, clean)
      assert.are.equal("raw " .. HINT, err.message)
    end)

    it("redacts the excerpt of a plain-text body", function()
      local err = errors.from_http(403, {}, "forbidden for " .. KEY, clean)
      assert.are.equal("403 Forbidden: forbidden for " .. HINT, err.message)
    end)

    it("leaves numbers as numbers and raises on a clean that is not a function", function()
      local err = errors.from_http(400, {}, '{"error":{"message":"m","code":400}}', clean)
      assert.are.equal(400, err.code)
      assert.has_error(function() errors.from_http(400, {}, "", "x") end,
        "bad argument #4 to 'from_http' (function expected, got string)")
      assert.has_error(function() errors.from_api({}, 400, {}, 1) end,
        "bad argument #4 to 'from_api' (function expected, got number)")
    end)

    it("scrub() redacts every top-level string field in place, numbers untouched", function()
      local err = errors.new { kind = "network", code = KEY, type = KEY, param = KEY,
        message = "x " .. KEY, request_id = KEY, partial = "said " .. KEY, extra = KEY,
        status = 500, attempts = 2, retry_after = 1.5, retryable = true,
        response = { nested = "left alone" } }
      local same = errors.scrub(err, clean)
      assert.are.equal(err, same)
      assert.are.equal(errors.Error, getmetatable(err))
      assert_clean(err)
      for _, k in ipairs { "code", "type", "param", "request_id", "extra" } do
        assert.are.equal(HINT, err[k], k)
      end
      assert.are.equal("x " .. HINT, err.message)
      assert.are.equal("said " .. HINT, err.partial)
      assert.are.equal("network", err.kind)
      assert.are.equal(500, err.status)
      assert.are.equal(2, err.attempts)
      assert.are.equal(1.5, err.retry_after)
      assert.is_true(err.retryable)
      assert.are.equal("left alone", err.response.nested)
    end)

    it("scrub() raises on a missing err or clean", function()
      assert.has_error(function() errors.scrub(nil, clean) end,
        "bad argument #1 to 'scrub' (table expected, got nil)")
      assert.has_error(function() errors.scrub({}, nil) end,
        "bad argument #2 to 'scrub' (function expected, got nil)")
    end)
  end)

  describe("Express/NestJS error bodies", function()
    it("keeps the top-level message and reads the \"error\" phrase as the type", function()
      local err = errors.from_http(404, {},
        '{"statusCode":404,"message":"Cannot POST /v9/chat/completions","error":"Not Found"}')
      assert.are.equal("api", err.kind)
      assert.are.equal(404, err.status)
      assert.are.equal("Cannot POST /v9/chat/completions", err.message)
      assert.are.equal("Not Found", err.type)
      assert.is_nil(err.code)
      assert.is_false(err.retryable)
      assert.are.equal("chatgpt: 404 Not Found: Cannot POST /v9/chat/completions", tostring(err))
    end)

    it("joins NestJS's list of validation messages", function()
      local err = errors.from_http(400, {}, '{"statusCode":400,"message":["model must be a string",'
        .. '"messages should not be empty"],"error":"Bad Request"}')
      assert.are.equal("model must be a string; messages should not be empty", err.message)
      assert.are.equal("Bad Request", err.type)
    end)

    it("still takes the \"error\" string as the message when there is no other", function()
      local err = errors.from_http(500, {}, '{"error":"boom","message":""}')
      assert.are.equal("boom", err.message)
      assert.is_nil(err.type)
    end)
  end)

  describe("hostile bodies and headers", function()
    it("never raises on numbers out of range in the body or the status", function()
      local err = errors.from_http(400, {}, '{"error":{"message":"m","code":1e400,"type":-1e400}}')
      assert.are.equal(math.huge, err.code)
      assert.is_string(tostring(err))
      err = errors.from_http(1e400, {}, "")
      assert.is_string(tostring(err))
      err.attempts = 2.5
      assert.is_string(tostring(err))
    end)

    it("never raises on a FastAPI detail list that opens with a non-table", function()
      local err = errors.from_http(422, {}, '{"detail":[1,{"msg":"m","type":"t","loc":[{},2]}]}')
      assert.are.equal("api", err.kind)
      assert.are.equal("t", err.type)
      assert.is_string(tostring(err))
    end)

    it("never raises on header values that are lists, tables or out-of-range numbers", function()
      local err = errors.from_http(429, { ["x-request-id"] = { {} }, ["retry-after"] = { "1e400" },
        ["retry-after-ms"] = "-1e400", ["x-should-retry"] = { true } }, "")
      assert.is_nil(err.request_id)
      assert.is_nil(err.retry_after)
      assert.is_true(err.retryable)
      local rl = errors.ratelimit { ["x-ratelimit-limit-tokens"] = "1e400",
        ["x-ratelimit-reset-tokens"] = ("9"):rep(400) .. "s", ["x-ratelimit-reset-requests"] = { {} } }
      assert.are.same({}, rl)
    end)

    it("reads 40 KB header values in linear time (no pattern backtracking)", function()
      local n = 40000
      local t = os.clock()
      errors.from_http(500, { ["retry-after"] = "a" .. (" "):rep(n) .. "b",
        ["x-should-retry"] = "a" .. (" "):rep(n) .. "b" }, "")
      errors.ratelimit { ["x-ratelimit-reset-tokens"] = ("1"):rep(n) .. "!",
        ["x-ratelimit-reset-requests"] = ("1"):rep(n) .. "s" .. ("1"):rep(n) .. "!" }
      assert.is_true(os.clock() - t < 2, tostring(os.clock() - t))
    end)

    it("reads an 8 MB body without raising", function()
      local huge = ("<p>" .. ("y"):rep(997)):rep(8192)
      local err = errors.from_http(500, {}, huge)
      assert.is_true(#err.message < 300)
      err = errors.from_http(500, {}, '{"error":{"message":"' .. ("z"):rep(1e6) .. '"}}')
      assert.are.equal(1e6, #err.message)
      assert.is_true(#tostring(err) < 1100)
    end)
  end)
end)

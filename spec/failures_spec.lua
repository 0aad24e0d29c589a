-- Everything from the wire that is not a success comes back as nil, err
-- with the fields of DESIGN.md; nothing raises, nothing crashes, and the
-- next request on the same client works.
local chatgpt = require "chatgpt"
local fake = require "spec.support.fake"
local T = require "spec.support.client"

local function api_body(code, type_, message)
  return { error = { message = message, type = type_, param = chatgpt.null, code = code } }
end

local STATUS = {
  { 400, "invalid_request_error", "invalid_value", "Invalid value for 'temperature'." },
  { 401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided." },
  { 403, "invalid_request_error", "unsupported_country_region_territory", "Country not supported." },
  { 404, "invalid_request_error", "model_not_found", "The model `x` does not exist." },
  { 409, "invalid_request_error", "conflict", "Conflict." },
  { 422, "invalid_request_error", "unprocessable", "Unprocessable." },
  { 429, "requests", "rate_limit_exceeded", "Rate limit reached for gpt-4o-mini." },
  { 500, "server_error", nil, "The server had an error while processing your request." },
  { 502, "server_error", nil, "Bad gateway." },
  { 503, "server_error", nil, "That model is currently overloaded with other requests." },
}

local function survives(c)
  assert.equal(T.HELLO, (c:chat("again")))
end

describe("HTTP errors", function()
  before_each(function() T.drain(); fake.reset() end)

  for _, s in ipairs(STATUS) do
    local status, type_, code, message = s[1], s[2], s[3], s[4]
    it(("returns nil, err{kind='api', status=%d} with the API's fields"):format(status), function()
      fake.script { status = status, json = api_body(code or chatgpt.null, type_, message),
                    headers = { { "x-request-id", "req_err" .. status }, { "Content-Type", "application/json" } } }
      local c = T.new { max_retries = 0 }
      local text, err = c:chat("x")
      assert.is_nil(text)
      assert.is_true(chatgpt.is_error(err))
      assert.equal("api", err.kind)
      assert.equal(status, err.status)
      assert.equal(code, err.code)
      assert.equal(type_, err.type)
      assert.is_nil(err.param)
      assert.equal(message, err.message)
      assert.equal("req_err" .. status, err.request_id)
      assert.equal(1, err.attempts)
      assert.truthy(tostring(err):find("^chatgpt: " .. status .. " " .. (code or type_) .. ": "))
      assert.truthy(tostring(err):find("(request req_err" .. status .. ")", 1, true))
      survives(c)
    end)

    it(("returns nil, err{kind='http', status=%d} for an HTML body from a proxy"):format(status), function()
      fake.script { status = status, body = T.HTML_502, headers = { { "Content-Type", "text/html" } } }
      local c = T.new { max_retries = 0 }
      local text, err = c:chat("x")
      assert.is_nil(text)
      assert.equal("http", err.kind)
      assert.equal(status, err.status)
      assert.falsy(tostring(err):find("<", 1, true))
      assert.falsy(tostring(err):find("\n", 1, true))
      survives(c)
    end)
  end

  it("a 502 with an empty body reads clearly", function()
    fake.script { status = 502, body = "" }
    local _, err = T.new { max_retries = 0 }:chat("x")
    assert.equal("http", err.kind)
    assert.equal(502, err.status)
    assert.truthy(tostring(err):find("502"))
    assert.truthy(err.message:find("(empty body)", 1, true), err.message)
    assert.is_true(err.retryable)
  end)

  it("a 200 whose body carries an error object is kind 'api'", function()
    fake.script { status = 200, json = api_body("server_error", "server_error", "oops") }
    local text, err = T.new { max_retries = 0 }:chat("x")
    assert.is_nil(text)
    assert.equal("api", err.kind)
    assert.equal("oops", err.message)
  end)
end)

describe("bad bodies", function()
  before_each(function() T.drain(); fake.reset() end)

  it("a 200 whose body is not JSON is kind 'parse'", function()
    fake.script { status = 200, body = "this is not json", headers = { { "Content-Type", "application/json" } } }
    local c = T.new()
    local text, err = c:chat("x")
    assert.is_nil(text)
    assert.equal("parse", err.kind)
    assert.equal(200, err.status)
    assert.is_false(err.retryable)
    survives(c)
  end)

  it("a 200 with truncated JSON is kind 'parse'", function()
    fake.script { status = 200, body = '{"id":"x","choices":[{"message":{"content":"hi' }
    local _, err = T.new():chat("x")
    assert.equal("parse", err.kind)
    assert.equal("BAD_JSON", err.code)
    assert.equal(200, err.status)
    assert.is_false(err.retryable)
  end)

  it("a 200 without choices is kind 'parse' with the response attached", function()
    fake.script { status = 200, json = { id = "chatcmpl-1", object = "chat.completion" } }
    local text, err = T.new():chat("x")
    assert.is_nil(text)
    assert.equal("parse", err.kind)
    assert.equal("NO_CHOICES", err.code)
    assert.equal("chatcmpl-1", err.response.id)
  end)

  it("a 200 with empty choices is kind 'parse'", function()
    fake.script { status = 200, json = { id = "chatcmpl-1", choices = chatgpt.array() } }
    local _, err = T.new():chat("x")
    assert.equal("parse", err.kind)
  end)

  it("a 200 whose message content is null (and no tool call) is kind 'parse'", function()
    fake.script { status = 200, json = { choices = { { index = 0, message = { role = "assistant",
      content = chatgpt.null }, finish_reason = "stop" } } } }
    local _, err = T.new():chat("x")
    assert.equal("parse", err.kind)
    assert.equal("NO_CONTENT", err.code)
  end)

  it("a JSON array instead of an object is kind 'parse'", function()
    fake.script { status = 200, body = "[1,2,3]" }
    local _, err = T.new():chat("x")
    assert.equal("parse", err.kind)
  end)

  it("binary garbage is kind 'parse'", function()
    fake.script { status = 200, body = "\0\1\2\255\254garbage" }
    local _, err = T.new():chat("x")
    assert.equal("parse", err.kind)
    assert.equal("BAD_JSON", err.code)
    assert.equal(200, err.status)
  end)

  it("models() on a body without data is kind 'parse'", function()
    fake.script { status = 200, json = { object = "list" } }
    local _, err = T.new():models()
    assert.equal("parse", err.kind)
    assert.equal("NO_DATA", err.code)
    assert.equal(200, err.status)
  end)
end)

describe("network failures", function()
  before_each(function() T.drain(); fake.reset() end)

  it("connection refused is kind 'network', code COULDNT_CONNECT", function()
    local c = T.new { base_url = "http://127.0.0.1:1/v1", max_retries = 0 }
    local text, err = c:chat("x")
    assert.is_nil(text)
    assert.equal("network", err.kind)
    assert.equal("COULDNT_CONNECT", err.code)
    assert.is_true(err.retryable)
    assert.is_nil(err.status)
    assert.truthy(tostring(err):find("^chatgpt: network COULDNT_CONNECT: "))
  end)

  it("an unresolvable host is kind 'network', code COULDNT_RESOLVE_HOST", function()
    local c = T.new { base_url = "http://no-such-host.invalid/v1", auth = "none", max_retries = 0 }
    local _, err = c:chat("x")
    assert.equal("network", err.kind)
    assert.equal("COULDNT_RESOLVE_HOST", err.code)
    assert.is_nil(err.status)
    assert.is_true(err.retryable)
  end)

  it("a reset before the status line is kind 'network'", function()
    -- many times: libcurl itself retries (up to 5 times) when a reused
    -- keep-alive connection dies before the answer
    fake.script { drop_before_status = true, ["repeat"] = 20 }
    local c = T.new { max_retries = 0 }
    local text, err = c:chat("x")
    assert.is_nil(text)
    T.cut(err)
    fake.reset()
    survives(c)
  end)

  it("a reset in the middle of the body is kind 'network'", function()
    fake.script { status = 200, json = { choices = { { index = 0, message = { role = "assistant",
      content = string.rep("long answer ", 2000) } } } }, drop_after = 5000 }
    local c = T.new { max_retries = 0 }
    local text, err = c:chat("x")
    assert.is_nil(text)
    T.cut(err)             -- curl's send may meet the reset first: SEND_ERROR (seen under load)
    survives(c)
  end)

  it("a reset right after the headers is kind 'network'", function()
    fake.script { status = 200, json = { choices = {} }, drop_after = 150 }
    local _, err = T.new { max_retries = 0 }:chat("x")
    T.cut(err)
  end)

  it("a body over max_response_bytes is kind 'limit'", function()
    fake.script { status = 200, body_big = { bytes = 300000 } }
    local c = T.new { max_response_bytes = 100000 }
    local text, err = c:chat("x")
    assert.is_nil(text)
    assert.equal("limit", err.kind)
    assert.equal("BODY_TOO_LARGE", err.code)
    survives(c)
  end)
end)

describe("streams without Content-Type: text/event-stream", function()
  before_each(function() T.drain(); fake.reset() end)

  local function streamed(c)
    local pieces = {}
    local text, response = c:chat("x", { on_delta = function(p) pieces[#pieces + 1] = p end })
    return text, response, pieces
  end

  local CHUNK = '{"id":"chatcmpl-s","object":"chat.completion.chunk","created":1,"model":"m",'
    .. '"choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":%s}]}'

  for _, case in ipairs {
    { "Content-Type: text/plain", { { "Content-Type", "text/plain; charset=utf-8" } } },
    { "no Content-Type", {} },
  } do
    it(("reads a 2xx stream sent with %s as SSE, as the official SDK does"):format(case[1]), function()
      local c = T.new { max_retries = 0 }
      local want_text, want, want_pieces = streamed(c)
      assert.is_string(want_text)
      assert.truthy(#want_pieces > 1)
      fake.script { headers = case[2] }
      local text, response, pieces = streamed(c)
      assert.equal(want_text, text, tostring(response))
      assert.same(want_pieces, pieces)
      assert.equal(want.object, response.object)
      assert.same(want.choices, response.choices)
    end)
  end

  it("reads SSE after leading blank lines, sent a byte at a time, with no Content-Type", function()
    fake.script { headers = {}, split = 1, body = "\r\n \n\ndata: " .. CHUNK:format("Hel", "null")
      .. "\n\ndata: " .. CHUNK:format("lo", '"stop"') .. "\n\ndata: [DONE]\n\n" }
    local text, _, pieces = streamed(T.new { max_retries = 0 })
    assert.equal("Hello", text)
    assert.same({ "Hel", "lo" }, pieces)
  end)

  it("reads a JSON body after leading white space as the whole answer (a server that ignores stream)", function()
    fake.script { headers = {}, split = 1, body = "\n  \t" .. '{"id":"chatcmpl-j","object":"chat.completion",'
      .. '"choices":[{"index":0,"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}]}' }
    local text, _, pieces = streamed(T.new { max_retries = 0 })
    assert.equal("whole", text)
    assert.same({ "whole" }, pieces)
  end)

  it("an error status with a text/plain body to a stream request is kind 'http', not SSE", function()
    fake.script { status = 503, headers = { { "Content-Type", "text/plain" } }, body = "data: overloaded" }
    local text, err = T.new { max_retries = 0 }:chat("x", { on_delta = function() end })
    assert.is_nil(text)
    assert.equal("http", err.kind)
    assert.equal(503, err.status)
  end)
end)

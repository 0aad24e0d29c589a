-- Retries against the fake server: how long between tries, how many, and
-- that the client acts on what chatgpt.errors calls retryable (which
-- statuses and codes are retryable is errors_spec's table; timeouts are
-- timeouts_spec's, compression compression_spec's).
local chatgpt = require "chatgpt"
local core = require "chatgpt.core"
-- chatgpt.error (the objects) and chatgpt.retry (the policy), as one view
local errors = setmetatable({}, { __index = function(_, k)
  local v = require("chatgpt.error")[k]
  if v == nil then v = require("chatgpt.retry")[k] end
  return v
end })
local socket = require "socket"
local fake = require "spec.support.fake"
local T = require "spec.support.client"

local HELLO = T.HELLO
local SLOW = os.getenv("CHATGPT_VALGRIND") and 10 or 1

local function api_error(status, extra_headers, code, type_)
  local headers = {}
  for i, h in ipairs(extra_headers or {}) do headers[i] = h end
  return { status = status, default_headers = true, headers = headers, json = { error = {
    message = "scripted " .. status, type = type_ or (status >= 500 and "server_error" or "invalid_request_error"),
    param = chatgpt.null, code = code or chatgpt.null } } }
end

local FAST = { { "retry-after-ms", "10" } }   -- keeps retry rows quick

local timed = T.timed

local drain = T.drain

local function http_date(t)
  return os.date("!%a, %d %b %Y %H:%M:%S GMT", t)
end

describe("the retry policy", function()
  before_each(function() drain(); fake.reset() end)

  it("gives up after max_retries (default 2): err.attempts = 3", function()
    local s = api_error(503, FAST)
    s["repeat"] = 5
    fake.script(s)
    local _, err = T.new():chat("x")
    assert.equal(503, err.status)
    assert.equal(3, err.attempts)
    assert.is_true(err.retryable)
    assert.equal(3, #fake.requests())
    assert.truthy(tostring(err):find("after 3 attempts", 1, true))
  end)

  it("reports info.attempts = 3 on a success after two retries", function()
    fake.script { api_error(503, FAST), api_error(502, FAST) }
    local text, _, info = T.new():chat("x")
    assert.equal(HELLO, text)
    assert.equal(3, info.attempts)
  end)

  it("takes max_retries per call, over the client's", function()
    local s = api_error(503, FAST)
    s["repeat"] = 10
    fake.script(s)
    local _, e1 = T.new { max_retries = 0 }:chat("x", { max_retries = 3 })
    assert.equal(4, e1.attempts)
    local _, e2 = T.new { max_retries = 5 }:chat("x", { max_retries = 0 })
    assert.equal(1, e2.attempts)
    assert.equal(5, #fake.requests())
  end)

  it("x-should-retry: true makes a 400 retried", function()
    fake.script(api_error(400, { { "x-should-retry", "true" }, FAST[1] }))
    local text, _, info = T.new():chat("x")
    assert.equal(HELLO, text)
    assert.equal(2, info.attempts)
  end)

  it("a 429 insufficient_quota is final, even by type alone", function()
    fake.script { api_error(429, FAST, "insufficient_quota", "insufficient_quota"),
                  api_error(429, FAST, chatgpt.null, "insufficient_quota") }
    local c = T.new()
    local _, e1 = c:chat("x")
    local _, e2 = c:chat("x")
    assert.equal("insufficient_quota", e1.code)
    assert.equal(1, e1.attempts)
    assert.equal(1, e2.attempts)
    assert.equal(2, #fake.requests())
  end)

  it("waits retry-after seconds", function()
    fake.script(api_error(429, { { "retry-after", "1" } }))
    local c = T.new()
    local took, text, _, info = timed(c.chat, c, "x")
    assert.equal(HELLO, text)
    assert.equal(2, info.attempts)
    assert.truthy(took >= 0.95 and took < 1.8 * SLOW, "took " .. took)
  end)

  it("takes retry-after-ms over retry-after", function()
    fake.script(api_error(429, { { "retry-after", "30" }, { "retry-after-ms", "100" } }))
    local c = T.new()
    local took, text = timed(c.chat, c, "x")
    assert.equal(HELLO, text)
    assert.truthy(took >= 0.09 and took < 1 * SLOW, "took " .. took)
  end)

  it("reads retry-after as an HTTP date", function()
    -- two seconds ahead: a date has whole seconds, and one may tick by meanwhile
    fake.script(api_error(503, { { "retry-after", http_date(os.time() + 2) } }))
    local c = T.new()
    local took, text, _, info = timed(c.chat, c, "x")
    assert.equal(HELLO, text)
    assert.equal(2, info.attempts)
    assert.truthy(took >= 0.95 and took < 3 * SLOW, "took " .. took)
  end)

  it("returns at once, with err.retry_after, when retry-after is over 60 s", function()
    fake.script { api_error(429, { { "retry-after", "120" } }),
                  api_error(503, { { "retry-after", http_date(os.time() + 3600) } }),
                  api_error(429, { { "retry-after-ms", "61000" } }) }
    local c = T.new { max_retries = 5 }
    for _, want in ipairs { 120, 3600, 61 } do
      local took, text, err = timed(c.chat, c, "x")
      assert.is_nil(text)
      assert.equal(1, err.attempts)
      assert.is_true(err.retryable)
      assert.truthy(math.abs(err.retry_after - want) <= 2, err.retry_after)
      assert.truthy(took < 0.5 * SLOW, "took " .. took)
    end
    assert.equal(3, #fake.requests())
  end)

  it("backs off 0.375 to 0.5 s before the first retry when no retry-after is given", function()
    fake.script { status = 503, body = "busy" }
    local c = T.new()
    local took, text, _, info = timed(c.chat, c, "x")
    assert.equal(HELLO, text)
    assert.equal(2, info.attempts)
    assert.truthy(took >= 0.37 and took < 1 * SLOW, "took " .. took)
  end)

  it("backoff is min(0.5 * 2^n, 8) * (1 - 0.25 * random)", function()
    assert.equal(0.5, errors.backoff(0, 0))
    assert.equal(0.375, errors.backoff(0, 1))
    assert.equal(1, errors.backoff(1, 0))
    assert.equal(3.5, errors.backoff(3, 0.5))
    assert.equal(8, errors.backoff(4, 0))
    assert.equal(6, errors.backoff(20, 1))
    for n = 0, 10 do
      local d = errors.backoff(n)
      assert.truthy(d >= 0.75 * math.min(0.5 * 2 ^ n, 8) and d <= math.min(0.5 * 2 ^ n, 8))
    end
    -- retry_after 0 (or a date gone by) falls back to the backoff
    local e = errors.new { kind = "http", status = 503, retryable = true, retry_after = 0 }
    assert.equal(0.5, errors.retry_delay(e, 0, 0))
    e.retry_after = 60
    assert.equal(60, errors.retry_delay(e, 0, 0))
    e.retry_after = 60.5
    assert.is_nil(errors.retry_delay(e, 0, 0))
  end)

  it("retries a connection reset in the middle of a body", function()
    fake.script { status = 200, json = { choices = { { index = 0, message = { role = "assistant",
      content = string.rep("long answer ", 500) } } } }, drop_after = 1000 }
    local text, _, info = T.new():chat("x")
    assert.equal(HELLO, text)
    assert.equal(2, info.attempts)
  end)

  it("retries a connection refused, and says how many tries were made", function()
    local _, err = T.new { base_url = "http://127.0.0.1:1/v1", max_retries = 1 }:chat("x")
    assert.equal("COULDNT_CONNECT", err.code)
    assert.equal(2, err.attempts)
  end)

  it("retries a timeout before the first byte", function()
    fake.script { stall = 3 }
    local text, _, info = T.new { timeout = 0.5 }:chat("x")
    assert.equal(HELLO, text)
    assert.equal(2, info.attempts)
  end)

  it("does not retry a timeout once bytes came", function()
    fake.script { trickle = 20, ["repeat"] = 3 }
    local _, err = T.new { timeout = 0.3 }:chat("x")
    assert.equal("TOTAL_TIMEOUT", err.code)
    assert.equal(1, err.attempts)
    assert.equal(1, #fake.requests())
  end)
end)

describe("retries of streams", function()
  before_each(function() drain(); fake.reset() end)

  it("retries a stream whose first attempt failed before any byte (503)", function()
    fake.script(api_error(503, FAST))
    local pieces = {}
    local text, r, info = T.new():chat("x", { on_delta = function(p) pieces[#pieces + 1] = p end })
    assert.equal(HELLO, text)
    assert.equal(HELLO, table.concat(pieces))
    assert.equal("chat.completion", r.object)
    assert.equal(2, info.attempts)
  end)

  it("retries a stream that was reset before its first event", function()
    fake.script { sse = { '{"choices":[{"index":0,"delta":{"content":"never"}}]}' }, drop_after = 60 }
    local pieces = {}
    local text, _, info = T.new():chat("x", { on_delta = function(p) pieces[#pieces + 1] = p end })
    assert.equal(HELLO, text)
    assert.equal(HELLO, table.concat(pieces))
    assert.equal(2, info.attempts)
  end)

  it("never retries a stream once a chunk reached a callback", function()
    local head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 1000\r\n\r\n"
    local ev = 'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
    fake.script { raw = head .. ev .. "data: {", drop_after = #head + #ev + 7, ["repeat"] = 3 }
    local pieces = {}
    local text, err = T.new { max_retries = 3 }:chat("x", {
      on_delta = function(p) pieces[#pieces + 1] = p end })
    assert.is_nil(text)
    assert.equal("network", err.kind)
    assert.equal(1, err.attempts)
    assert.equal("Hel", err.partial)
    assert.equal("Hel", table.concat(pieces))
    assert.equal(1, #fake.requests())
  end)

  it("retries an SSE error event that comes before any chunk", function()
    fake.script { sse = { '{"error":{"message":"overloaded","type":"server_error"}}' },
                  headers = { { "Content-Type", "text/event-stream" }, FAST[1] } }
    local text, _, info = T.new():chat("x", { stream = true })
    assert.equal(HELLO, text)
    assert.equal(2, info.attempts)
  end)
end)

describe("retries of async requests", function()
  before_each(function() drain(); fake.reset() end)

  it("wait on the engine's timer: poll(0) never sleeps through a retry-after", function()
    fake.script(api_error(429, { { "retry-after", "1" } }))
    local t0 = core.now()
    local req = T.new():chat_async("x")
    local worst, calls, waiting = 0, 0, 0
    while not req:done() do
      local t = core.now()
      local n = chatgpt.poll(0)
      worst = math.max(worst, core.now() - t)
      calls = calls + 1
      if n == 1 and #fake.requests() == 1 then waiting = waiting + 1 end
      socket.sleep(0.002)
      assert.truthy(core.now() - t0 < 5 * SLOW, "never settled")
    end
    local took = core.now() - t0
    local text, _, info = req:result()
    assert.equal(HELLO, text)
    assert.equal(2, info.attempts)
    assert.truthy(took >= 0.95, "took " .. took)
    assert.truthy(worst < 0.02 * SLOW, "a poll(0) took " .. worst .. " s")
    assert.truthy(waiting > 10, "polled " .. waiting .. " times while waiting")
  end)

  it("poll(s) sleeps no longer than the retry timer", function()
    fake.script(api_error(503, { { "retry-after-ms", "300" } }))
    local req = T.new():chat_async("x")
    local t0 = core.now()
    while not req:done() and core.now() - t0 < 5 * SLOW do chatgpt.poll(10) end
    local took = core.now() - t0
    assert.equal(HELLO, (req:result()))
    assert.truthy(took >= 0.29 and took < 1 * SLOW, "took " .. took)
  end)

  it("wait(seconds) times out while a retry waits, and the request goes on", function()
    fake.script(api_error(503, { { "retry-after-ms", "500" } }))
    local req = T.new():chat_async("x")
    local text, err = req:wait(0.2)
    assert.is_nil(text)
    assert.equal("WAIT_TIMEOUT", err.code)
    assert.equal("pending", req.status)
    local t2, _, info = req:wait()
    assert.equal(HELLO, t2)
    assert.equal(2, info.attempts)
  end)

  it("cancel() during a retry wait ends it: no more tries", function()
    fake.script(api_error(429, { { "retry-after", "1" } }))
    local waiting                          -- the log tells when the wait begins
    local req = T.new { log = function(ev) waiting = waiting or ev.event == "retry" end }:chat_async("x")
    local t0 = core.now()
    while not waiting and core.now() - t0 < 10 do chatgpt.poll(0.05) end
    assert.is_true(waiting)
    req:cancel()
    assert.equal("cancelled", req.status)
    local _, err = req:result()
    assert.equal("cancelled", err.kind)
    assert.equal(1, err.attempts)
    t0 = core.now()
    while core.now() - t0 < 1.2 do chatgpt.poll(0.1) end
    assert.equal(1, #fake.requests())
    assert.equal(0, chatgpt.poll(0))
  end)

  it("a request dropped while it waits to retry still ends, and is collected", function()
    fake.script(api_error(503, { { "retry-after-ms", "200" } }))
    local weak = setmetatable({}, { __mode = "v" })
    weak[1] = T.new():chat_async("x")
    local t0 = core.now()
    while core.now() - t0 < 0.1 do chatgpt.poll(0.02) end
    collectgarbage(); collectgarbage()
    drain()
    collectgarbage(); collectgarbage()
    assert.is_nil(weak[1])
    assert.equal(0, chatgpt.poll(0))
  end)

  it("inside chatgpt.spawn a retry yields to the loop", function()
    fake.script(api_error(503, { { "retry-after-ms", "200" } }))
    local c = T.new()
    local got, attempts
    chatgpt.spawn(function()
      local text, _, info = c:chat("x")
      got, attempts = text, info.attempts
    end)
    assert.is_nil(got)
    drain()
    assert.equal(HELLO, got)
    assert.equal(2, attempts)
  end)
end)

-- Timeouts: `timeout` ends a request even while its callbacks keep Lua
-- busy; CONNECT_TIMEOUT or TOTAL_TIMEOUT says whether a connection (TLS
-- included) was ever made; `idle_timeout` ends an answer that falls
-- silent once its body has begun (never the wait for it: a model may think
-- for minutes), and SSE comments keep one alive; `first_byte_timeout`
-- bounds that wait when asked to. Whether a timeout is retried: retry_spec.
local core = require "chatgpt.core"
local socket = require "socket"
local fake = require "spec.support.fake"
local T = require "spec.support.client"

-- valgrind (make valgrind) runs everything many times slower
local SLOW = os.getenv("CHATGPT_VALGRIND") and 10 or 1

local timed = T.timed

local drain = T.drain

local function busy(seconds)
  local t = core.now() + seconds
  while core.now() < t do end
end

local CHUNK = '{"id":"chatcmpl-t","object":"chat.completion.chunk","created":1,'
  .. '"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}'

describe("the total timeout", function()
  before_each(function() drain(); fake.reset() end)

  it("returns nil, err{kind='timeout', code='TOTAL_TIMEOUT'} with err.partial when slow on_delta"
    .. " callbacks outlast it", function()
    -- 1,000 chunks at 20 ms each would keep Lua busy for 20 s
    fake.script { sse_repeat = { data = CHUNK, count = 1000 } }
    local c = T.new { timeout = 1, max_retries = 2 }
    local n = 0
    local took, text, err = timed(c.chat, c, "x", { on_delta = function()
      n = n + 1
      busy(0.02)
    end })
    assert.is_nil(text)
    assert.equal("timeout", err.kind)
    assert.equal("TOTAL_TIMEOUT", err.code, err.message)
    assert.equal(1, err.attempts)
    assert.truthy(n > 0 and n < 1000, n .. " chunks")
    assert.equal(string.rep("x", n), err.partial)
    assert.truthy(took >= 0.95 and took < 2.5 * SLOW, "took " .. took)
    fake.reset()
    assert.is_string((c:chat("again")))
  end)

  it("ends a stream whose chunks all came but whose callbacks outlast it", function()
    fake.script { sse_repeat = { data = CHUNK, count = 200 } }
    local c = T.new { timeout = 0.5, max_retries = 0 }
    local n = 0
    local took, text, err = timed(c.chat, c, "x", { on_delta = function()
      n = n + 1
      if n == 1 then socket.sleep(0.3) end        -- the rest arrives meanwhile
      busy(0.02)
    end })
    assert.is_nil(text)
    assert.equal("timeout", err.kind)
    assert.equal("TOTAL_TIMEOUT", err.code, err.message)
    assert.equal(string.rep("x", n), err.partial)
    assert.truthy(took < 2 * SLOW, "took " .. took)
  end)

  it("a sub-millisecond timeout still ends the request (it is not 'no timeout')", function()
    fake.script { delay = 1 }
    local c = T.new { timeout = 0.0004, max_retries = 0 }
    local took, text, err = timed(c.chat, c, "x")
    assert.is_nil(text)
    assert.equal("timeout", err.kind)
    assert.truthy(took < 0.8 * SLOW, "took " .. took)
  end)

  it("a timeout of 1e300 s is no limit in practice, and the call works", function()
    local text = T.new { timeout = 1e300, idle_timeout = 0 }:chat("x")
    assert.is_string(text)
  end)
end)

describe("timeout codes", function()
  before_each(function() drain(); fake.reset() end)

  -- A TCP listener that never reads: the kernel completes the handshake,
  -- the TLS ClientHello is never answered.
  local function mute_listener()
    local srv = assert(socket.bind("127.0.0.1", 0))
    local _, port = srv:getsockname()
    return srv, "https://127.0.0.1:" .. port .. "/v1"
  end

  it("a TCP connect that never completes is CONNECT_TIMEOUT (connect_timeout)", function()
    -- a listener whose backlog is full: the kernel drops further SYNs
    local srv = assert(socket.tcp())
    assert(srv:bind("127.0.0.1", 0))
    assert(srv:listen(0))
    local _, port = srv:getsockname()
    local fill = {}
    for i = 1, 4 do
      fill[i] = socket.tcp()
      fill[i]:settimeout(0)
      fill[i]:connect("127.0.0.1", port)
    end
    socket.sleep(0.05)
    local c = T.new { base_url = "http://127.0.0.1:" .. port .. "/v1",
                      connect_timeout = 0.3, max_retries = 0 }
    local took, text, err = timed(c.chat, c, "x")
    for i = 1, #fill do fill[i]:close() end
    srv:close()
    assert.is_nil(text)
    assert.equal("timeout", err.kind)
    assert.equal("CONNECT_TIMEOUT", err.code, err.message)
    assert.is_nil(err.status)
    assert.is_true(err.retryable)
    assert.truthy(took >= 0.28 and took < 1.5 * SLOW, "took " .. took)
  end)

  it("a TLS handshake that never ends is CONNECT_TIMEOUT (connect_timeout)", function()
    local srv, url = mute_listener()
    local c = T.new { base_url = url, connect_timeout = 0.5, timeout = 30, max_retries = 0 }
    local took, text, err = timed(c.chat, c, "x")
    srv:close()
    assert.is_nil(text)
    assert.equal("timeout", err.kind)
    assert.equal("CONNECT_TIMEOUT", err.code, err.message)
    assert.is_true(err.retryable)
    assert.truthy(took >= 0.45 and took < 2 * SLOW, "took " .. took)
  end)

  it("a TLS handshake that never ends is CONNECT_TIMEOUT when `timeout` ends it", function()
    local srv, url = mute_listener()
    local c = T.new { base_url = url, connect_timeout = 5, timeout = 0.5, max_retries = 0 }
    local took, _, err = timed(c.chat, c, "x")
    srv:close()
    assert.equal("CONNECT_TIMEOUT", err.code, err.message)
    assert.truthy(took >= 0.45 and took < 2 * SLOW, "took " .. took)
  end)

  it("a server that accepts, reads and never answers is TOTAL_TIMEOUT, after `timeout` seconds", function()
    fake.script { stall = 3 }
    local c = T.new { connect_timeout = 5, timeout = 0.5, max_retries = 0 }
    local took, text, err = timed(c.chat, c, "x")
    assert.is_nil(text)
    assert.equal("timeout", err.kind)
    assert.equal("TOTAL_TIMEOUT", err.code, err.message)
    assert.is_nil(err.status)
    assert.equal(1, err.attempts)
    assert.is_true(err.retryable)         -- nothing came: another try may do
    assert.equal(1, #fake.requests())
    assert.truthy(took >= 0.45 and took < 2 * SLOW, "took " .. took)
  end)

  it("a request on a reused connection that times out is TOTAL_TIMEOUT", function()
    local c = T.new { connect_timeout = 5, timeout = 0.5, max_retries = 0 }
    assert.is_string((c:chat("warm")))
    fake.script { stall = 3 }
    local _, text, err = timed(c.chat, c, "x")
    assert.is_nil(text)
    assert.equal("timeout", err.kind)
    assert.equal("TOTAL_TIMEOUT", err.code, err.message)
    assert.equal(1, err.attempts)
  end)
end)

-- A whole HTTP response whose head comes at once and whose body follows,
-- in one piece, `pause` seconds later: raw bytes written in pieces the
-- size of the head, which a header pads to the body's length.
local function late_body(head, body, pause)
  local pad = ("p"):rep(math.max(0, #body - #head - 9))
  head = head:gsub("\r\n\r\n$", "\r\nx-pad: " .. pad .. "\r\n\r\n")
  return { raw = head .. body, split = #head, chunk_delay = pause }
end

-- The head and half the body at once, the rest `pause` seconds later.
local function midway(head, body, pause)
  return { raw = head .. body, split = #head + math.ceil(#body / 2), chunk_delay = pause }
end

local JSON_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
local JSON_BODY = '{"id":"chatcmpl-t","object":"chat.completion","created":1,"model":"gpt-4o-mini",'
  .. '"choices":[{"index":0,"message":{"role":"assistant","content":"thought"},"finish_reason":"stop"}]}'
local SSE_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n"
local SSE_BODY = "data: " .. CHUNK .. "\n\ndata: [DONE]\n\n"

describe("the idle timeout", function()
  before_each(function() drain(); fake.reset() end)

  it("idle_timeout per call ends a stream that stalls midway with code IDLE_TIMEOUT", function()
    fake.script { status = 200, sse = { CHUNK, CHUNK }, chunk_delay = 3 }
    local c = T.new { max_retries = 2 }
    local took, text, err = timed(c.chat, c, "x", { stream = true, idle_timeout = 0.3 })
    assert.is_nil(text)
    assert.equal("timeout", err.kind)
    assert.equal("IDLE_TIMEOUT", err.code)
    assert.equal(200, err.status)
    assert.equal("x", err.partial)
    assert.equal(1, err.attempts)
    assert.is_false(err.retryable)        -- bytes came: not retried
    assert.truthy(took >= 0.28 and took < 1.5 * SLOW, "took " .. took)
  end)

  it("a non-streamed answer the server holds 3 s with idle_timeout = 1: one request, and it succeeds",
     function()
    fake.script { delay = 3 }
    local c = T.new { idle_timeout = 1 }
    local took, text, _, info = timed(c.chat, c, "x")
    assert.is_string(text)
    assert.equal(1, info.attempts)
    assert.equal(1, #fake.requests())
    assert.truthy(took >= 2.9, "took " .. took)
  end)

  it("does not count the wait between the headers and the body's first byte", function()
    fake.script(late_body(JSON_HEAD:format(#JSON_BODY), JSON_BODY, 1))
    local c = T.new { idle_timeout = 0.3, max_retries = 0 }
    assert.equal("thought", (c:chat("x")))
    fake.script(late_body(SSE_HEAD:format(#SSE_BODY), SSE_BODY, 1))
    assert.equal("x", (c:chat("x", { stream = true })))
  end)

  it("idle_timeout = 0 lets an answer that stalls midway go on to its end", function()
    fake.script(midway(JSON_HEAD:format(#JSON_BODY), JSON_BODY, 0.5))
    assert.equal("thought", (T.new { idle_timeout = 0, max_retries = 0 }:chat("x")))
  end)

  it("a stalled stream with timeout only ends at TOTAL_TIMEOUT, whatever idle_timeout says", function()
    fake.script { status = 200, stall_after_headers = 3 }
    local c = T.new { max_retries = 0, idle_timeout = 0.2, timeout = 0.8 }
    local took, text, err = timed(c.chat, c, "x", { stream = true })
    assert.is_nil(text)
    assert.equal("TOTAL_TIMEOUT", err.code, err.message)
    assert.truthy(took >= 0.75, "took " .. took)
  end)

  it("SSE comment lines keep a stream alive past idle_timeout", function()
    local ping = ": keep-alive\n\n"
    fake.script { sse_raw = ping .. ping .. ping .. ping .. ping
      .. 'data: {"choices":[{"index":0,"delta":{"content":"alive"}}]}\n\ndata: [DONE]\n\n',
      chunk_delay = 0.2 }
    local c = T.new { max_retries = 0, idle_timeout = 0.5 }
    local took, text = timed(c.chat, c, "x", { stream = true })
    assert.equal("alive", text)
    assert.truthy(took >= 0.95, "took " .. took)
  end)
end)

describe("the first-byte timeout", function()
  before_each(function() drain(); fake.reset() end)

  it("is off by default: a server silent for longer than idle_timeout is waited for", function()
    fake.script { delay = 1 }
    local text = T.new { idle_timeout = 0.3, max_retries = 0 }:chat("x")
    assert.is_string(text)
  end)

  it("ends a request whose answer has not begun after first_byte_timeout (FIRST_BYTE_TIMEOUT)", function()
    fake.script { stall = 3 }
    local c = T.new { first_byte_timeout = 0.4, max_retries = 0 }
    local took, text, err = timed(c.chat, c, "x")
    assert.is_nil(text)
    assert.equal("timeout", err.kind)
    assert.equal("FIRST_BYTE_TIMEOUT", err.code)
    assert.truthy(err.message:find("first_byte_timeout", 1, true), err.message)
    assert.is_true(err.retryable)         -- nothing came: another try may do
    assert.truthy(took >= 0.38 and took < 1.5 * SLOW, "took " .. took)
  end)

  it("counts up to the body's first byte, headers or not, per call too", function()
    fake.script(late_body(JSON_HEAD:format(#JSON_BODY), JSON_BODY, 2))
    local c = T.new { max_retries = 2 }
    local _, text, err = timed(c.chat, c, "x", { first_byte_timeout = 0.3 })
    assert.is_nil(text)
    assert.equal("FIRST_BYTE_TIMEOUT", err.code)
    assert.equal(200, err.status)
    assert.equal(1, err.attempts)
    assert.is_false(err.retryable)        -- the headers came: not retried
  end)

  it("stops counting once the body has begun: a slow answer after it is the idle timeout's", function()
    fake.script(midway(JSON_HEAD:format(#JSON_BODY), JSON_BODY, 1))
    local c = T.new { first_byte_timeout = 0.8 * SLOW, idle_timeout = 2 * SLOW, max_retries = 0 }
    assert.equal("thought", (c:chat("x")))
  end)
end)

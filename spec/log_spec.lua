-- Logging: the `log` option (one table per event) and CHATGPT_LOG=info|debug
-- (a line per event on stderr); the key never appears in either.
local fake = require "spec.support.fake"
local T = require "spec.support.client"
local log = require "chatgpt.log"

local function recorder(level)
  local events = {}
  local c = T.new { log = function(ev) events[#events + 1] = ev end, log_level = level,
                    max_retries = 2 }
  return c, events
end

local function named(events, name)
  local t = {}
  for _, ev in ipairs(events) do
    if ev.event == name then t[#t + 1] = ev end
  end
  return t
end

local function lines(s)
  local t = {}
  for line in (s or ""):gmatch("[^\n]+") do t[#t + 1] = line end
  return t
end

-- stderr of a script run in a fresh lua5.4 with env (T.run gives 2>&1)
local function stderr_of(env, code)
  return T.run(env .. " OPENAI_BASE_URL=" .. fake.base_url(), [[
    io.stdout:setvbuf("no")
    local chatgpt = require "chatgpt"
    local c = chatgpt.new { api_key = "]] .. T.KEY .. [[", max_retries = 1 }
  ]] .. code)
end

before_each(function() fake.reset() end)

describe("the log option", function()
  it("gets one request event per call: method, path, status, duration, attempts, request id", function()
    local c, events = recorder()
    assert.equal(T.HELLO, (c:chat("hi")))
    assert.equal(1, #events)
    local ev = events[1]
    assert.equal("request", ev.event)
    assert.equal("POST", ev.method)
    assert.equal("/chat/completions", ev.path)
    assert.equal(200, ev.status)
    assert.equal(1, ev.attempts)
    assert.truthy(ev.request_id:find("^req_"))
    assert.is_true(ev.duration >= 0 and ev.duration < 5)
    assert.is_nil(ev.error)
    c:models()
    assert.equal("GET", events[2].method)
    assert.equal("/models", events[2].path)
  end)

  it("gets each retry with its reason and delay, then the request with its attempts", function()
    local c, events = recorder()
    fake.script { { status = 503, headers = { { "retry-after-ms", "10" } } },
                  { status = 429, headers = { { "retry-after-ms", "20" } } } }
    assert.equal(T.HELLO, (c:chat("hi")))
    local retries = named(events, "retry")
    assert.equal(2, #retries)
    assert.equal(1, retries[1].attempt)
    assert.equal(503, retries[1].status)
    assert.equal("503 server_error", retries[1].reason)
    assert.equal(0.01, retries[1].delay)
    assert.equal("429 rate_limit_exceeded", retries[2].reason)
    assert.equal(0.02, retries[2].delay)
    local req = named(events, "request")
    assert.equal(1, #req)
    assert.equal(3, req[1].attempts)
    assert.equal(200, req[1].status)
  end)

  it("gets a timeout event, and the request event names the failure", function()
    local c, events = recorder()
    fake.script { stall = 3 }
    local text, err = c:chat("hi", { timeout = 0.3, max_retries = 0 })
    assert.is_nil(text)
    assert.equal("timeout", err.kind)
    local t = named(events, "timeout")
    assert.equal(1, #t)
    assert.equal("TOTAL_TIMEOUT", t[1].code)
    assert.equal(1, t[1].attempt)
    local req = named(events, "request")
    assert.equal("timeout TOTAL_TIMEOUT", req[1].error)
    assert.equal(1, req[1].attempts)
  end)

  it("gets bodies only at log_level = \"debug\": the request, the answer, each stream event", function()
    local c, events = recorder()
    c:chat("hi")
    assert.equal(0, #named(events, "request_body") + #named(events, "response_body"))
    c, events = recorder("debug")
    c:chat("hi")
    local sent = named(events, "request_body")
    assert.equal(1, #sent)
    assert.truthy(sent[1].body:find('"content":"hi"', 1, true))
    local got = named(events, "response_body")
    assert.equal(1, #got)
    assert.equal(200, got[1].status)
    assert.truthy(got[1].body:find(T.HELLO, 1, true))
    c:chat("hi", { stream = true })
    local evs = named(events, "response_event")
    assert.is_true(#evs > 3)
    assert.truthy(evs[2].data:find("chat.completion.chunk", 1, true))
  end)

  it("keeps a failing log function out of the request, and reports it on stderr", function()
    local out = T.run("OPENAI_BASE_URL=" .. fake.base_url(), [[
      local chatgpt = require "chatgpt"
      local c = chatgpt.new { api_key = "]] .. T.KEY .. [[", log = function() error("boom") end }
      print("answer", (c:chat("hi")))
    ]])
    assert.truthy(out:find("answer\t" .. T.HELLO, 1, true), out)
    assert.truthy(out:find("the log function failed", 1, true), out)
  end)

  it("raises for a log_level other than info or debug, and for a log that is not a function", function()
    assert.has_error(function() T.new { log = print, log_level = "trace" } end,
                     "bad argument #1 to 'new' (option 'log_level' must be \"info\" or \"debug\")")
    assert.has_error(function() T.new { log = "stderr" } end)
  end)
end)

describe("CHATGPT_LOG", function()
  it("=info writes one line per request on stderr, and no body", function()
    local out = stderr_of("CHATGPT_LOG=info", [[
      c:chat("hi")
      c:models()
    ]])
    local l = lines(out)
    assert.equal(2, #l, out)
    assert.truthy(l[1]:find("^chatgpt: request POST /chat/completions status=200 duration=[%d.]+ "
                            .. "attempts=1 request_id=req_%x+$"), l[1])
    assert.truthy(l[2]:find("^chatgpt: request GET /models status=200 "), l[2])
  end)

  it("=info writes each retry, with its reason and delay", function()
    fake.script { status = 500, headers = { { "retry-after-ms", "10" } } }
    local out = stderr_of("CHATGPT_LOG=info", [[ c:chat("hi") ]])
    local l = lines(out)
    assert.equal(2, #l, out)
    assert.truthy(l[1]:find('^chatgpt: retry POST /chat/completions status=500 attempt=1 '
                            .. 'reason="500 server_error" delay=0.010$'), l[1])
    assert.truthy(l[2]:find("attempts=2", 1, true), l[2])
  end)

  it("=debug adds the bodies, each on one line", function()
    local out = stderr_of("CHATGPT_LOG=debug", [[ c:chat("hi") ]])
    local l = lines(out)
    assert.equal(3, #l, out)
    assert.truthy(l[1]:find('^chatgpt: request_body POST /chat/completions body="{', 1), l[1])
    assert.truthy(l[2]:find("^chatgpt: response_body POST /chat/completions status=200 body=\"{\\n"), l[2])
    assert.truthy(l[3]:find("^chatgpt: request "), l[3])
  end)

  it("is off for any other value, and the log option wins over it", function()
    assert.equal("", stderr_of("CHATGPT_LOG=verbose", [[ c:chat("hi") ]]))
    local out = stderr_of("CHATGPT_LOG=debug", [[
      local n = 0
      local d = chatgpt.new { api_key = "]] .. T.KEY .. [[", log = function() n = n + 1 end }
      d:chat("hi")
      print("events", n)
    ]])
    assert.equal("events\t1\n", out)
  end)

  it("never writes the key, from a server that echoes it everywhere", function()
    local K = T.KEY
    local echo = {
      { status = 500, headers = { { "x-request-id", K }, { "content-type", "application/json" } },
        body = '{"error":{"message":"bad key ' .. K .. '","type":"' .. K .. '","code":"' .. K .. '"}}' },
      { headers = { { "x-request-id", "req_" .. K }, { "content-type", "application/json" } },
        json = { id = K, object = "chat.completion", model = K,
                 choices = { { index = 0, message = { role = "assistant", content = "key " .. K },
                               finish_reason = "stop" } } } },
      { headers = { { "x-request-id", K } },
        sse = { { id = K, choices = { { index = 0, delta = { content = K } } } }, "[DONE]" } },
      { status = 401, headers = { { "x-request-id", K } }, body = "<html>" .. K .. "</html>" },
    }
    fake.script(echo)
    local out = stderr_of("CHATGPT_LOG=debug", [[
      c:chat("hi")
      c:chat("hi", { stream = true })
      c:chat("hi")
    ]])
    local l = lines(out)
    assert.is_true(#l >= 8, out)
    for _, line in ipairs(l) do
      assert.falsy(line:find(T.MARKER, 1, true), line)
    end
    -- and the log option's tables
    fake.script(echo)
    local c, events = recorder("debug")
    c:chat("hi")
    c:chat("hi", { stream = true })
    c:chat("hi")
    assert.is_true(#events >= 8)
    assert.is_false(T.leaks(events))
  end)
end)

describe("log.line", function()
  it("writes logfmt: bare words, quoted strings with escapes, numbers rounded", function()
    assert.equal('retry POST /x attempt=2 reason="429 a\\"b" delay=0.500 zeta="x\\ny"',
                 log.line { event = "retry", method = "POST", path = "/x", attempt = 2,
                            reason = '429 a"b', delay = 0.5, zeta = "x\ny" })
  end)
end)

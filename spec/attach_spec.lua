-- The engine on a host's event loop: chatgpt.attach{watch, timer},
-- chatgpt.drive, chatgpt.detach, and the libuv adapter (chatgpt.uv) on
-- Debian's luv, the library inside Neovim, under every Lua version.
local chatgpt = require "chatgpt"
local core = require "chatgpt.core"
local fake = require "spec.support.fake"
local T = require "spec.support.client"
local uv = require "luv"
local cuv = require "chatgpt.uv"

local HELLO = T.HELLO

-- A stream of n deltas "x", `gap` seconds apart.
local function stream(n, gap)
  local chunk = '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
    .. '"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}'
  return { sse_repeat = { data = chunk, count = n }, chunk_delay = gap }
end

-- Runs the uv loop until it has nothing left (or 10 s): an idle attached
-- engine leaves no handle open, so uv.run returns by itself.
local function run_uv()
  local guard = uv.new_timer()
  guard:start(10000, 0, function() uv.stop() end)
  guard:unref()
  uv.run()
  guard:close()
  uv.run("nowait")
end

-- A host that records what it is told, for the specs that look at calls.
local function recorder()
  local h = { calls = {}, fds = {}, ms = nil }
  function h.watch(fd, what)
    h.calls[#h.calls + 1] = "watch " .. tostring(what)
    h.fds[fd] = what
  end
  function h.timer(ms)
    h.calls[#h.calls + 1] = "timer " .. ms
    h.ms = ms >= 0 and ms or nil
  end
  return h
end

local function watched(h)
  local n = 0
  for _ in pairs(h.fds) do n = n + 1 end
  return n
end

describe("chatgpt.attach", function()
  before_each(function() T.drain(); fake.reset() end)
  after_each(function()
    cuv.detach()
    chatgpt.detach()
    uv.run("nowait")   -- lets the closed handles finish closing (luv crashes at exit otherwise)
    T.drain()
  end)

  it("streams a chat on a libuv loop, which returns once the engine is idle", function()
    cuv.attach(uv)
    fake.script(stream(20, 0.01))
    local got = {}
    local req = T.new():chat_async("x", { stream = true, on_delta = function(d) got[#got + 1] = d end })
    run_uv()
    assert.equal("done", req.status)
    assert.equal(string.rep("x", 20), table.concat(got))
  end)

  it("runs a blocking chat while attached", function()
    cuv.attach(uv)
    assert.equal(HELLO, (T.new():chat("x")))       -- drives curl itself, then tells the host
    run_uv()
  end)

  it("runs a coroutine's chat while attached", function()
    cuv.attach(uv)
    local text
    chatgpt.spawn(function() text = T.new():chat("y") end)
    run_uv()
    assert.equal(HELLO, text)
  end)

  it("asks for a timer at once when a request starts, and for none once all is done", function()
    local h = recorder()
    chatgpt.attach(h)
    assert.same({}, h.calls)                          -- nothing runs: no timer
    local req = T.new():chat_async("x")
    assert.equal("timer 0", h.calls[1])               -- a new request kicks the engine
    local t0 = core.now()
    -- the host's loop, until nothing is left to do (no timer, nothing watched)
    while (req.status == "pending" or h.ms or watched(h) > 0) and core.now() - t0 < 5 do
      -- the host's loop: whatever is watched may be ready, and the timer
      for fd, what in pairs(h.fds) do chatgpt.drive(fd, what) end
      if h.ms then                                    -- the one-shot timer fires
        h.ms = nil
        chatgpt.drive()
      end
      uv.sleep(1)
    end
    assert.equal("done", req.status)
    assert.is_nil(h.ms, #h.calls .. " calls, the last: " .. tostring(h.calls[#h.calls]))  -- idle: no timer
    assert.equal(0, watched(h))                       -- and nothing watched
  end)

  it("takes over requests in flight, and hands them back on detach", function()
    fake.script(stream(30, 0.02))
    fake.script(stream(30, 0.02))
    local c = T.new()
    local a = c:chat_async("a", { stream = true, on_delta = function() end })
    chatgpt.poll(0.1)                                 -- started by polling
    cuv.attach(uv)
    local b = c:chat_async("b", { stream = true, on_delta = function() end })
    local t = uv.new_timer()
    t:start(200, 0, function() t:close(); cuv.detach() end)   -- mid-stream
    run_uv()
    assert.equal("pending", b.status)
    T.drain()                                         -- polling again
    assert.equal(string.rep("x", 30), (a:result()))
    assert.equal(string.rep("x", 30), (b:result()))
  end)

  it("ends a stalled stream at its idle_timeout through the host's timer", function()
    cuv.attach(uv)
    fake.script { chunk_delay = 3 }                   -- a first event, then nothing for 3 s
    local req = T.new { idle_timeout = 0.3, max_retries = 0 }:chat_async("x", { stream = true })
    local t0 = core.now()
    run_uv()
    local _, err = req:result()
    assert.equal("timeout", err.kind)
    assert.truthy(core.now() - t0 < 2, core.now() - t0)
  end)

  it("waits out a retry on the host's timer", function()
    cuv.attach(uv)
    fake.script { status = 500 }
    local req = T.new { max_retries = 1 }:chat_async("x")
    run_uv()
    local text, _, info = req:result()
    assert.equal(HELLO, text)
    assert.equal(2, info.attempts)
  end)

  it("raises on a bad host, on drive while detached, and on drive from a callback", function()
    assert.has_error(function() chatgpt.attach {} end)
    assert.has_error(function() chatgpt.attach { watch = print } end)
    assert.has_error(function() chatgpt.drive() end)
    local h = recorder()
    chatgpt.attach(h)
    local err
    local req = T.new():chat_async("x", { stream = true, on_delta = function()
      if not err then err = select(2, pcall(chatgpt.drive)) end
    end })
    local t0 = core.now()
    -- the host's loop, until nothing is left to do (no timer, nothing watched)
    while (req.status == "pending" or h.ms or watched(h) > 0) and core.now() - t0 < 5 do
      for fd, what in pairs(h.fds) do chatgpt.drive(fd, what) end
      if h.ms then                                    -- the one-shot timer fires
        h.ms = nil
        chatgpt.drive()
      end
    end
    assert.truthy(tostring(err):find("re-entrant", 1, true), tostring(err))
  end)
end)

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

  it("wakes once for a timer of curl's, when it is due (not a ms early, then again)", function()
    -- curl keeps a 200 ms timer from a connect (happy eyeballs), which a
    -- stream on a new connection outlives
    fake.script { close = true }
    local c = T.new()
    assert.equal(HELLO, (c:chat("x")))               -- the next request connects anew
    cuv.attach(uv)
    local drive, turns = chatgpt.drive, {}
    finally(function() chatgpt.drive = drive end)
    chatgpt.drive = function(fd, what)               -- chatgpt.uv drives through the module
      if fd == nil then turns[#turns + 1] = core.now() end
      return drive(fd, what)
    end
    fake.script(stream(4, 0.15))
    local req = c:chat_async("x", { stream = true, on_delta = function() end })
    run_uv()
    assert.equal("xxxx", (req:result()))
    for i = 2, #turns do
      -- a timer's turn that found nothing due asks for another a ms later
      assert.truthy(turns[i] - turns[i - 1] > 0.004, ("timer turns %d and %d %.1f ms apart"):format(
        i - 1, i, (turns[i] - turns[i - 1]) * 1e3))
    end
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

describe("chatgpt.attach with one_fd", function()
  before_each(function() T.drain(); fake.reset() end)
  after_each(function()
    cuv.detach()
    chatgpt.detach()
    uv.run("nowait")
    T.drain()
  end)

  -- the host's loop over a recorder until done() and idle (or 5 s)
  local function run(h, done)
    local t0 = core.now()
    while (not done() or h.ms or watched(h) > 0) and core.now() - t0 < 5 do
      for fd, what in pairs(h.fds) do chatgpt.drive(fd, what) end
      if h.ms then
        h.ms = nil
        chatgpt.drive()
      end
      uv.sleep(1)
    end
  end

  it("has the host watch one descriptor for every socket, and none once idle", function()
    local h = recorder()
    local told = {}
    local watch = h.watch
    h.watch = function(fd, what)
      told[fd] = true
      watch(fd, what)
    end
    assert.is_true(chatgpt.attach { watch = h.watch, timer = h.timer, one_fd = true })
    for _ = 1, 3 do fake.script(stream(10, 0.01)) end
    local c = T.new()
    local reqs = {}
    for i = 1, 3 do reqs[i] = c:chat_async("x" .. i, { stream = true, on_delta = function() end }) end
    run(h, function() return reqs[1]:done() and reqs[2]:done() and reqs[3]:done() end)
    local n = 0
    for _ in pairs(told) do n = n + 1 end
    assert.equal(1, n)                                -- three connections, one descriptor
    for i = 1, 3 do assert.equal(string.rep("x", 10), (reqs[i]:result())) end
    assert.equal(0, watched(h))
  end)

  it("ends a refused connection and a reset mid-stream as network errors", function()
    local h = recorder()
    chatgpt.attach { watch = h.watch, timer = h.timer, one_fd = true }
    local refused = T.new { base_url = "http://127.0.0.1:1/v1", max_retries = 0 }:chat_async("x")
    fake.script { sse_repeat = { data = '{"choices":[{"index":0,"delta":{"content":"x"}}]}', count = 50 },
                  drop_after = 400, chunk_delay = 0.001 }
    local reset = T.new { max_retries = 0 }:chat_async("y", { stream = true })
    run(h, function() return refused:done() and reset:done() end)
    local _, e1 = refused:result()
    local _, e2 = reset:result()
    assert.equal("COULDNT_CONNECT", e1 and e1.code)
    assert.equal("network", e2 and e2.kind)
  end)

  it("refuses a one_fd that is not a boolean", function()
    assert.has_error(function() chatgpt.attach { watch = print, timer = print, one_fd = 1 } end,
      "bad argument #1 to 'attach' (one_fd: boolean expected, got number)")
  end)

  it("prints nothing through chatgpt.uv when the server is down or resets", function()
    for _ = 1, 2 do
      fake.script { sse_repeat = { data = '{"choices":[{"index":0,"delta":{"content":"x"}}]}', count = 50 },
                    drop_after = 400, chunk_delay = 0.001 }
    end
    local out = T.run("", [[
      local chatgpt, uv = require "chatgpt", require "luv"
      require("chatgpt.uv").attach(uv)
      local down = chatgpt.new { base_url = "http://127.0.0.1:1/v1", auth = "none", max_retries = 0 }
      local up = chatgpt.new { base_url = "]] .. fake.base_url() .. [[", auth = "none", max_retries = 0 }
      local reqs = {}
      for i = 1, 3 do reqs[i] = down:chat_async("x") end
      for i = 4, 5 do reqs[i] = up:chat_async("y", { stream = true }) end
      uv.run()
      for i = 1, 5 do assert(reqs[i].status == "failed", reqs[i].status) end
      require("chatgpt.uv").detach()
      uv.run("nowait")
    ]])
    assert.equal("", out)
  end)
end)

describe("chatgpt.uv with a schedule", function()
  before_each(function() T.drain(); fake.reset() end)
  after_each(function()
    cuv.detach()
    uv.run("nowait")
    T.drain()
  end)

  it("runs the engine's turns through opts.schedule, one queued at a time however many sockets fire",
     function()
    local queued, most, turns = 0, 0, 0
    cuv.attach(uv, { schedule = function(fn)
      queued = queued + 1
      most = math.max(most, queued)
      local t = uv.new_timer()
      t:start(1, 0, function()       -- later, on the loop: a host's main-loop queue
        t:close()
        queued = queued - 1
        turns = turns + 1
        fn()
      end)
    end })
    for _ = 1, 4 do fake.script(stream(20, 0.005)) end
    local c = T.new()
    local reqs, inside = {}, {}
    for i = 1, 4 do
      reqs[i] = c:chat_async("x" .. i, { stream = true, on_delta = function()
        inside[#inside + 1] = queued      -- a delta runs inside a scheduled turn
      end })
    end
    run_uv()
    for i = 1, 4 do assert.equal(string.rep("x", 20), (reqs[i]:result())) end
    assert.equal(1, most)
    assert.truthy(turns > 1, turns)
    assert.equal(80, #inside)
  end)

  it("raises on options that are not a schedule", function()
    assert.has_error(function() cuv.attach(uv, { schedule = 1 }) end,
      "bad argument #2 to 'attach' (option 'schedule': function or false expected, got number)")
    assert.has_error(function() cuv.attach(uv, { scheduler = print }) end,
      "bad argument #2 to 'attach' (unknown option 'scheduler')")
    assert.has_error(function() cuv.attach({}) end,
      "bad argument #1 to 'attach' (luv expected: vim.uv, vim.loop or require 'luv', got table)")
  end)
end)

-- A host that keeps its word: its timer fires when due, and every fd it
-- watches is handed to drive at each turn. raise(name) says whether this
-- call of watch or timer raises, and with what value (issue 19, item 5).
local function faulty(raise)
  local h = { fds = {}, calls = { watch = 0, timer = 0 } }
  local function fail(name)
    h.calls[name] = h.calls[name] + 1
    local yes, value = raise(name, h.calls[name])
    if yes then error(value, 0) end
  end
  function h.watch(fd, what)
    fail("watch")
    h.fds[fd] = what
  end
  function h.timer(ms)
    fail("timer")
    h.at = ms >= 0 and core.now() + ms / 1000 or nil
  end
  -- the host's loop until done() or `seconds`; returns the seconds taken
  function h.run(done, seconds)
    local t0 = core.now()
    while not done() and core.now() - t0 < seconds do
      for fd, what in pairs(h.fds) do chatgpt.drive(fd, what) end
      if h.at and core.now() >= h.at then
        h.at = nil
        chatgpt.drive()
      end
      uv.sleep(2)
    end
    return core.now() - t0
  end
  return h
end

local function once(which, value)
  return function(name, n) return name == which and n == 1, value end
end
local function always(which, value)
  return function(name) return name == which, value end
end

-- req ends within `seconds` (well before its own timeout) as
-- err{kind = "callback"} naming what the host raised.
local function ends_as_callback(h, req, what, seconds)
  h.run(function() return req:done() end, seconds or 3)
  assert.equal("failed", req.status)
  local _, err = req:result()
  assert.equal("callback", err.kind)
  assert.equal("HOST_CALLBACK", err.code)
  assert.truthy(err.message:find(what, 1, true), err.message)
  return err
end

describe("a host callback that raises", function()
  before_each(function() T.drain(); fake.reset(); chatgpt.errors() end)
  after_each(function()
    chatgpt.detach()
    T.drain()
    chatgpt.errors()
  end)

  local stall = { stall_after_headers = 5 }

  for _, which in ipairs { "watch", "timer" } do
    it("(" .. which .. ", once) ends the request in flight as kind 'callback'; the next requests run and time out",
       function()
      local h = faulty(once(which, "host " .. which .. " broke"))
      chatgpt.attach(h)
      fake.script(stall)
      local c = T.new { timeout = 30, idle_timeout = 30, max_retries = 0 }
      local req = c:chat_async("x", { stream = true })
      ends_as_callback(h, req, "chatgpt.attach's " .. which .. " raised: host " .. which .. " broke")
      fake.reset()                          -- the stall, when the request ended before sending
      -- the engine goes on with the host: a new request is answered ...
      local ok = c:chat_async("y")
      h.run(function() return ok:done() end, 5)
      assert.equal(HELLO, (ok:result()))
      -- ... and one that stalls midway ends at its idle_timeout, through the
      -- host's timer (a first event, then nothing for 3 s)
      fake.script { chunk_delay = 3 }
      local slow = T.new { idle_timeout = 0.3, max_retries = 0 }:chat_async("z", { stream = true })
      local took = h.run(function() return slow:done() end, 5)
      local _, err = slow:result()
      assert.equal("timeout", err and err.kind)
      assert.truthy(took < 3, took)
      assert.same({}, chatgpt.errors())
    end)

    it("(" .. which .. ", always) ends every request at once as kind 'callback', never at its timeout", function()
      local h = faulty(always(which, "no " .. which))
      chatgpt.attach(h)
      for i = 1, 3 do
        fake.script(stall)
        local t0 = core.now()
        local req = T.new { timeout = 30, idle_timeout = 30, max_retries = 0 }:chat_async("x" .. i, { stream = true })
        ends_as_callback(h, req, "no " .. which)
        assert.truthy(core.now() - t0 < 3, core.now() - t0)
      end
    end)
  end

  it("says what a host raised that is not a string: a table, nil, a table whose __tostring raises", function()
    local values = {
      { setmetatable({}, { __tostring = function() return "a table error" end }), "a table error" },
      { nil, "nil" },
      { setmetatable({}, { __tostring = function() error("no text") end }), "(error object is a table value)" },
      { 42, "42" },
    }
    for _, v in ipairs(values) do
      local h = faulty(always("timer", v[1]))
      chatgpt.attach(h)
      fake.script(stall)
      local req = T.new { timeout = 30, max_retries = 0 }:chat_async("x", { stream = true })
      ends_as_callback(h, req, v[2])
      chatgpt.detach()
      fake.reset()
    end
  end)

  it("ends a request waiting to retry at once, and wakes the coroutine waiting on it", function()
    local fail_timer = false
    local h = faulty(function(name) return name == "timer" and fail_timer, "late failure" end)
    chatgpt.attach(h)
    fake.script { status = 429, headers = { { "retry-after", "2" } } }
    local retrying = false
    local c = T.new { max_retries = 3, log = function(ev) retrying = retrying or ev.event == "retry" end }
    local req = c:chat_async("x")
    local got
    chatgpt.spawn(function() got = { req:wait() } end)
    h.run(function() return retrying end, 5)          -- it waits 2 s on the host's timer
    assert.is_true(retrying)
    fail_timer = true
    local t0 = core.now()
    local other = c:chat_async("y")                   -- sets the timer again: it raises
    ends_as_callback(h, other, "late failure")
    ends_as_callback(h, req, "late failure")
    assert.truthy(core.now() - t0 < 1.5, core.now() - t0)   -- not after its 2 s
    h.run(function() return got ~= nil end, 1)
    assert.is_nil(got and got[1])
    assert.equal("callback", got and got[2].kind)
  end)

  it("hands an error with nothing in flight to chatgpt.errors(), and detaches all the same", function()
    local h = faulty(always("watch", "cannot unwatch"))
    h.watch = function(fd, what)
      if what == nil then error("cannot unwatch", 0) end
      h.fds[fd] = what
    end
    chatgpt.attach(h)
    fake.script(stream(5, 0.05))                      -- the host watches its socket a while
    local req = T.new():chat_async("x", { stream = true })
    h.run(function() return req:done() end, 5)
    assert.equal("xxxxx", (req:result()))
    -- the socket is let go of when the request ends, or else at detach
    chatgpt.detach()
    local errs = chatgpt.errors()
    assert.truthy(#errs >= 1, #errs)
    assert.truthy(errs[1]:find("chatgpt.attach's watch raised: cannot unwatch", 1, true), errs[1])
    assert.has_no_error(function() chatgpt.poll(0) end)
  end)
end)

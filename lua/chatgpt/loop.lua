-- The event loop of a lua_State: drives the C engine, hands its news to the
-- objects that track a transfer, fires timers and resumes spawned
-- coroutines. Every callback of the module runs from here, inside poll()
-- or wait(), never under a libcurl frame.
--
-- Its interface, for request.lua and conversation.lua (as luv's handles
-- talk to their loop):
--   loop.track(ud, obj)       obj:on_news() runs when the C transfer ud has
--                             news (events, or its end); held weakly.
--                             obj:on_news(err): it must end with err (a
--                             host callback raised)
--   loop.untrack(ud)
--   loop.after(s, fn [, holds]) -> timer   fn() runs from a poll after s
--                             seconds; timer:cancel(). A timer that holds
--                             counts as running work in poll's answer (a
--                             request waiting to retry).
--   loop.wait(obj, seconds) -> settled    until obj.status ~= "pending":
--                             yields inside spawn, else drives the engine
--   loop.wake(obj)            obj settled: resume whoever waits on it
--
-- A host with its own event loop attaches (chatgpt.attach{watch, timer}):
-- it watches curl's sockets and keeps one timer, and calls chatgpt.drive;
-- after each turn the host hears what changed (flush). The timer covers
-- curl's timer, the transfers' idle and total timeouts, retry timers and
-- coroutines ready to resume; with nothing running there is no timer.
-- A host's watch or timer that raises ends the work in flight with
-- err{kind = "callback"} (host_failed): nothing may wait on a host that was
-- not told.

local core = require "chatgpt.core"
local args = require "chatgpt.args"
local errors = require "chatgpt.lazy" "chatgpt.error"

local coroutine, error, setmetatable, tostring, type =
      coroutine, error, setmetatable, tostring, type
local compat = require "chatgpt.compat"
local xpcall, co_running = compat.xpcall, compat.running   -- 5.1 too
local debug_traceback = debug.traceback
local now, cpoll, crunning, protect = core.now, core.poll, core.running, core.protect
local caction, cchanges, cattach = core.action, core.changes, core.attach
local huge, max, ceil = math.huge, math.max, math.ceil
local select, pairs = select, pairs

local M = {}

-- C transfer -> its tracker. Weak values: a request its owner dropped is
-- collected, and its C transfer's __gc stops the transfer.
local tracked = setmetatable({}, { __mode = "v" })
local waiters = setmetatable({}, { __mode = "k" })   -- obj -> coroutine waiting on it
local timers = {}             -- live timers, unsorted
local held = 0                -- live timers that hold
local live = {}               -- spawned coroutines not finished (strong)
local nlive = 0
local resumable = {}          -- coroutines to resume, with their values
local reported = {}           -- errors of spawned coroutines, for M.errors()
local news, nhead, ntail = {}, 1, 0   -- transfers whose news waits for its turn (FIFO)
local handler                 -- M.on_error's function
local polling = false
local host                    -- chatgpt.attach's {watch, timer}, when attached
local watched = {}            -- fd -> what the host watches it for (UNKNOWN: its watch raised)
local timer_at                -- when the host's timer fires (monotonic), or nil
local flush                   -- tells the host what changed (below)
local flushing = false        -- inside flush: a nested one leaves it to the outer
local host_err                -- the first error of a host callback, for flush
local UNKNOWN = {}

function M.track(ud, obj)
  tracked[ud] = obj
  if host and not polling then flush() end   -- a new request kicks the engine
end
function M.untrack(ud) tracked[ud] = nil end

local Timer = {}
Timer.__index = Timer

-- Idempotent; a timer that fired is cancelled already.
function Timer:cancel()
  if self.fn == nil then return end
  self.fn = nil
  if self.holds then held = held - 1 end
end

function M.after(seconds, fn, holds)
  local t = setmetatable({ at = now() + seconds, fn = fn, holds = holds or false }, Timer)
  if holds then held = held + 1 end
  timers[#timers + 1] = t
  if host and not polling then flush() end
  return t
end

local function next_deadline()
  local at
  for i = 1, #timers do
    local t = timers[i]
    if t.fn and (not at or t.at < at) then at = t.at end
  end
  return at
end

local function fire_timers()
  local t, due, keep = now(), {}, {}
  for i = 1, #timers do
    local tm = timers[i]
    if tm.fn then
      if tm.at <= t then due[#due + 1] = tm else keep[#keep + 1] = tm end
    end
  end
  timers = keep
  for i = 1, #due do
    local tm = due[i]
    local fn = tm.fn
    if fn then                  -- an earlier timer's fn may have cancelled it
      tm:cancel()
      fn()
    end
  end
end

-- Seconds of callbacks one turn runs (at least one transfer's): the
-- transfers whose news is left get it first in the next turn, which does
-- not wait. With a thousand streams, one poll(0) ran up to 9 ms of them
-- (bench/RESULTS.md). Their own budget, not what is left of curl's turn
-- (src/sockets.h): a share of the turn that curl's work could eat left
-- news to pile up, and one transfer's pile made a 12 ms call. With
-- curl's ~1.2 ms a turn works ~2 ms: a cycle of the collector landing in
-- it still leaves a poll(0) under 5 ms.
local TURN_BUDGET = 0.0008

-- Hands the transfers with news (core.poll's answer after its count) to
-- their trackers, oldest news first. Each leaves the queue before its
-- tracker runs, so an error there loses no one else's news.
local function dispatch(_, ...)
  local k = select("#", ...)
  if k == 1 then
    ntail = ntail + 1
    news[ntail] = ...
  elseif k > 1 then
    local t = { ... }
    for i = 1, k do news[ntail + i] = t[i] end
    ntail = ntail + k
  end
  if nhead > ntail then return end
  local stop = now() + TURN_BUDGET
  repeat
    local ud = news[nhead]
    news[nhead] = nil
    nhead = nhead + 1
    local obj = tracked[ud]
    if obj then obj:on_news() end
  until nhead > ntail or now() > stop
  if nhead > ntail then nhead, ntail = 1, 0 end
end

local function report(co, err)
  if handler then
    local ok, herr = xpcall(handler, debug_traceback, err, co)
    if ok then return end
    err = "chatgpt.on_error handler failed: " .. tostring(herr)
  end
  reported[#reported + 1] = err
end

local function resume(co, ...)
  local ok, err = coroutine.resume(co, ...)
  if not ok then
    err = debug_traceback(co, tostring(err))
  end
  if coroutine.status(co) == "dead" then
    live[co] = nil
    nlive = nlive - 1
    if not ok then report(co, err) end
  end
end

local function resume_queued()
  while #resumable > 0 do
    local batch = resumable
    resumable = {}
    for i = 1, #batch do
      local r = batch[i]
      resume(r[1], r[2])
    end
  end
end

function M.wake(obj)
  local co = waiters[obj]
  if co then
    waiters[obj] = nil
    resumable[#resumable + 1] = { co, obj }
    if host and not polling then flush() end
  end
end

local function step(seconds)
  dispatch(cpoll(seconds))
  if timers[1] then fire_timers() end
end

-- One turn of the loop: waits at most `seconds` (less when a timer is
-- due, not at all when a coroutine is ready to resume), dispatches what the
-- engine has, fires due timers, resumes coroutines.
local function drive(seconds)
  if timers[1] then
    local at = next_deadline()
    if at and at - now() < seconds then seconds = max(0, at - now()) end
  end
  if resumable[1] or nhead <= ntail then seconds = 0 end
  -- protect, not xpcall: a callback that yields (Lua 5.4 and LuaJIT let
  -- it cross a pcall) gets an error instead, so this frame always returns
  polling = true
  local ok, err = protect(step, seconds)
  polling = false
  if not ok then error(err, 0) end
  if resumable[1] then resume_queued() end
  if host then flush() end
end

local function running()
  local n = crunning() + held + nlive
  for i = nhead, ntail do                 -- ended, its end not told yet
    if news[i]:state() == "done" then n = n + 1 end
  end
  return n
end

local function check_seconds(level, fname, seconds)
  if type(seconds) ~= "number" or not (seconds >= 0) or seconds == huge then
    args.error(level + 1, 1, fname, "a finite number >= 0 expected, got " .. tostring(seconds))
  end
end

-- chatgpt.poll([seconds]) -> requests and spawned coroutines still running
-- (requests: in the engine, or waiting to retry).
function M.poll(seconds)
  if polling then
    error("chatgpt.poll: re-entrant call (poll or wait from inside a callback)", 2)
  end
  seconds = seconds or 0
  check_seconds(2, "poll", seconds)
  if running() == 0 and not resumable[1] then return 0 end   -- nothing to wait for
  drive(seconds)
  return running()
end

-- The current coroutine, when it is one that spawn made.
local function spawned()
  local co, main = co_running()
  if co and not main and live[co] then return co end
end

function M.wait(obj, seconds, level)
  level = level or 1
  if seconds ~= nil then check_seconds(level + 1, "wait", seconds) end
  local deadline = seconds and now() + seconds
  local co = spawned()
  if co then
    if obj.status == "pending" then
      waiters[obj] = co
      local timer = deadline and M.after(seconds, function() M.wake(obj) end)
      coroutine.yield()
      if timer then timer:cancel() end
    end
    return obj.status ~= "pending"
  end
  if polling then
    error("chatgpt: wait called from inside a callback (re-entrant); use chat_async", level + 1)
  end
  while obj.status == "pending" do
    local left = deadline and deadline - now() or 3600
    if left <= 0 then return false end
    drive(left < 3600 and left or 3600)
  end
  return true
end

-- chatgpt.spawn(fn, ...): fn runs in a coroutine in which blocking calls
-- yield to the engine. Runs at once, up to its first wait.
function M.spawn(fn, ...)
  if type(fn) ~= "function" then
    args.error(2, 1, "spawn", "function expected, got " .. type(fn))
  end
  local co = coroutine.create(fn)
  live[co] = true
  nlive = nlive + 1
  resume(co, ...)
  return co
end

-- ---- the host's event loop ----------------------------------------------------

-- Calls the host's watch or timer; an error is kept for flush, as the
-- text (with a traceback) of what `name` raised. Returns whether it returned.
local function traceback(e)     -- loads chatgpt.error only when one raised
  return errors.traceback(e)
end

local function call_host(name, fn, a, b)
  local ok, err = xpcall(fn, traceback, a, b)
  if not ok and not host_err then
    host_err = "chatgpt.attach's " .. name .. " raised: " .. err
  end
  return ok
end

-- Hands host h the socket changes since the last call and sets its one
-- timer to the earliest deadline: the engine's (curl's timer, idle and
-- total timeouts), a Lua timer's, or now when a coroutine is ready. What
-- the host was told is recorded only once its callback has returned.
local function tell(h, at, ...)
  for i = 1, select("#", ...), 2 do
    local fd, what = select(i, ...)
    what = what or nil
    if watched[fd] ~= what then
      watched[fd] = UNKNOWN
      if call_host("watch", h.watch, fd, what) then watched[fd] = what end
      if host ~= h then return end              -- its watch detached
    end
  end
  at = at or nil
  if timers[1] then
    local t = next_deadline()
    if t and (not at or t < at) then at = t end
  end
  if resumable[1] or nhead <= ntail then at = now() end
  if not at then
    if timer_at then
      timer_at = nil
      call_host("timer", h.timer, -1)
    end
  elseif not timer_at or at < timer_at - 0.001 then
    -- a later deadline keeps the earlier timer: it fires, and is set again
    local ms = ceil((at - now()) * 1000)
    timer_at = nil
    if call_host("timer", h.timer, ms >= 1 and ms or 0) then  -- never -0 (LuaJIT's ceil)
      timer_at = at
    end
  end
end

-- A host callback raised `text`: the host may not know of a socket or of
-- the timer, so no work in flight can count on being driven. One turn,
-- run here: timers that hold (retries waiting) fire now, every request
-- in flight ends with err{kind = "callback"} (obj:on_news(err)), and the
-- coroutines woken resume. Returns whether it ended anything.
local function host_failed(text)
  local ended = false
  polling = true
  local ok, err = protect(function()
    for i = 1, #timers do
      local tm = timers[i]
      if tm.fn and tm.holds then
        tm.at = -huge
        ended = true
      end
    end
    if ended then fire_timers() end
    local list = {}
    for ud, obj in pairs(tracked) do
      if ud:state() == "running" then list[#list + 1] = obj end
    end
    for i = 1, #list do
      list[i]:on_news(errors.new { kind = "callback", code = "HOST_CALLBACK", message = text })
    end
    ended = ended or #list > 0
  end)
  polling = false
  if not ok then error(err, 0) end
  if resumable[1] then resume_queued() end
  return ended
end

-- Tells the host what changed. After a host callback raised, the work in
-- flight ends and the host hears of that end; an error with nothing in
-- flight goes to chatgpt.errors(). Each round ends what the last one's
-- callbacks started, so this stops with the work.
local function tell_all()
  tell(host, cchanges())
  while host_err and host do
    local text = host_err
    host_err = nil
    if not host_failed(text) then
      report(nil, text)
      break
    end
    tell(host, cchanges())
  end
end

flush = function()
  if flushing then return end
  flushing = true
  local ok, err = protect(tell_all)      -- no closure a call: one per turn
  flushing = false
  if host_err then
    report(nil, host_err)
    host_err = nil
  end
  if not ok then error(err, 0) end
end

-- chatgpt.detach(): back to polling; the host stops watching everything
-- (an error of its callbacks then goes to chatgpt.errors(): nothing in
-- flight depends on the host any more).
function M.detach()
  if polling then error("chatgpt.detach: called from inside a callback", 2) end
  local h = host
  if not h then return end
  host = nil
  cattach(false)
  local fds = watched
  watched = {}
  for fd in pairs(fds) do call_host("watch", h.watch, fd, nil) end
  if timer_at then
    timer_at = nil
    call_host("timer", h.timer, -1)
  end
  if host_err and not flushing then
    report(nil, host_err)
    host_err = nil
  end
end

local function check_host(h)
  if type(h) ~= "table" or type(h.watch) ~= "function" or type(h.timer) ~= "function" then
    args.error(3, 1, "attach", "{watch = function, timer = function} expected, got " .. type(h))
  end
  if h.one_fd ~= nil and type(h.one_fd) ~= "boolean" then
    args.error(3, 1, "attach", "one_fd: boolean expected, got " .. type(h.one_fd))
  end
end

-- chatgpt.attach{watch = fn(fd, what), timer = fn(ms) [, one_fd = true]}:
-- the host's event loop drives the engine from now on (requests in flight
-- carry on). one_fd: the host watches one descriptor, an epoll set of
-- curl's sockets (Linux; elsewhere each socket); attach returns whether.
function M.attach(h)
  check_host(h)
  if polling then error("chatgpt.attach: called from inside a callback", 2) end
  M.detach()
  host = { watch = h.watch, timer = h.timer }
  local one = cattach(true, h.one_fd)
  flush()
  return one
end

-- One turn for the host (no closure a call: one per chunk of a stream).
local function host_step(fd, what)
  dispatch(caction(fd, what))
  if timers[1] then fire_timers() end
end

-- chatgpt.drive([fd, what]): the host saw fd ready for what ("r", "w",
-- "rw"), or its timer fired (no arguments). Never waits.
function M.drive(fd, what)
  if polling then
    error("chatgpt.drive: re-entrant call (from inside a callback)", 2)
  end
  if not host then error("chatgpt.drive: not attached (chatgpt.attach first)", 2) end
  if fd == nil then timer_at = nil end   -- the host's timer has fired
  polling = true
  local ok, err = protect(host_step, fd, what)
  polling = false
  if not ok then error(err, 0) end
  if resumable[1] then resume_queued() end
  if host then flush() end
end

-- loop.busy() -> whether a turn is running: a callback of the module is on
-- the stack (a host adapter that is asked for a turn then must not drive).
function M.busy() return polling end

-- chatgpt.errors() -> list of errors raised in spawned coroutines since the
-- last call (each a message with a traceback).
function M.errors()
  local list = reported
  reported = {}
  return list
end

function M.on_error(fn)
  if fn ~= nil and type(fn) ~= "function" then
    args.error(2, 1, "on_error", "function or nil expected, got " .. type(fn))
  end
  handler = fn
end

return M

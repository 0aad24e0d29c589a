-- The event loop of a lua_State: drives the C engine, dispatches its news to
-- the request objects, fires retry timers and resumes spawned coroutines.
-- Every callback of the module runs from here, inside poll() or wait(),
-- never under a libcurl frame.

local core = require "chatgpt.core"

local coroutine, error, math, type, tostring, xpcall =
      coroutine, error, math, type, tostring, xpcall
local debug_traceback = debug.traceback
local now, cpoll, crunning, protect = core.now, core.poll, core.running, core.protect
local huge = math.huge

local M = {}

-- C request -> Request. Weak values: a Request that its owner dropped is
-- collected, and its __gc cancels the transfer.
local active = setmetatable({}, { __mode = "v" })
local timers = {}             -- { at = seconds, fn = function }, unsorted
local live = {}               -- spawned coroutines not finished (strong)
local nlive = 0
local resumable = {}          -- coroutines to resume, with their values
local reported = {}           -- errors of spawned coroutines, for M.errors()
local handler                 -- M.on_error's function
local polling = false

M.waiting = 0                 -- Requests waiting on a timer to retry

M.active = active

-- Runs fn after `seconds`, from inside a later poll.
function M.after(seconds, fn)
  local t = { at = now() + seconds, fn = fn }
  timers[#timers + 1] = t
  return t
end

local function next_deadline()
  local at
  for i = 1, #timers do
    local t = timers[i].at
    if not at or t < at then at = t end
  end
  return at
end

local function fire_timers()
  if #timers == 0 then return end
  local t, due, keep = now(), {}, {}
  for i = 1, #timers do
    local tm = timers[i]
    if tm.at <= t then due[#due + 1] = tm else keep[#keep + 1] = tm end
  end
  timers = keep
  for i = 1, #due do due[i].fn() end
end

local function dispatch(running, ud, ...)
  if ud == nil then return running end
  local req = active[ud]
  if req then req:_pump() end
  return dispatch(running, ...)
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

-- Queues the spawned coroutine waiting on req, if any, to be resumed.
function M.wake(req)
  local co = req._waiter
  if co then
    req._waiter = nil
    resumable[#resumable + 1] = { co, req }
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
    if at - now() < seconds then seconds = math.max(0, at - now()) end
  end
  if resumable[1] then seconds = 0 end
  -- protect, not xpcall: a callback that yields (Lua 5.4 and LuaJIT let
  -- it cross a pcall) gets an error instead, so this frame always returns
  polling = true
  local ok, err = protect(step, seconds)
  polling = false
  if not ok then error(err, 0) end
  if resumable[1] then resume_queued() end
end

-- chatgpt.poll([seconds]) -> requests and spawned coroutines still running
-- (requests: in the engine, or waiting to retry).
function M.poll(seconds)
  if polling then
    error("chatgpt.poll: re-entrant call (poll or wait from inside a callback)", 2)
  end
  seconds = seconds or 0
  if type(seconds) ~= "number" or not (seconds >= 0) or seconds == huge then
    error("bad argument #1 to 'poll' (non-negative number expected)", 2)
  end
  local busy = crunning() + M.waiting + nlive
  if busy == 0 and not resumable[1] then return 0 end   -- nothing to wait for
  drive(seconds)
  return crunning() + M.waiting + nlive
end

-- The current coroutine, when it is one that spawn made.
local function spawned()
  local co, main = coroutine.running()
  if co and not main and live[co] then return co end
end

-- req:wait([seconds]): yields inside a spawned coroutine, else drives the
-- engine until the request settles or the time is up.
function M.wait(req, seconds)
  local deadline = seconds and now() + seconds
  local co = spawned()
  if co then
    if req.status == "pending" then
      req._waiter = co
      local timer
      if deadline then
        timer = M.after(seconds, function()
          if req._waiter == co then M.wake(req) end
        end)
      end
      coroutine.yield()
      if timer then timer.at = -1; timer.fn = function() end end
    end
    return req.status ~= "pending"
  end
  if polling then
    error("chatgpt: wait called from inside a callback (re-entrant); use chat_async", 3)
  end
  while req.status == "pending" do
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
    error("bad argument #1 to 'spawn' (function expected, got " .. type(fn) .. ")", 2)
  end
  local co = coroutine.create(fn)
  live[co] = true
  nlive = nlive + 1
  resume(co, ...)
  return co
end

-- chatgpt.errors() -> list of errors raised in spawned coroutines since the
-- last call (each a message with a traceback).
function M.errors()
  local list = reported
  reported = {}
  return list
end

function M.on_error(fn)
  if fn ~= nil and type(fn) ~= "function" then
    error("bad argument #1 to 'on_error' (function or nil expected)", 2)
  end
  handler = fn
end

return M

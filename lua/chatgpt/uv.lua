-- The engine on a libuv loop (luv): Neovim's vim.uv / vim.loop, luvit, or
-- require "luv".
--
--   require("chatgpt.uv").attach(uv [, { schedule = fn | false }])
--   require("chatgpt.uv").detach()
--
-- Sockets. On Linux one poll handle watches an epoll set that holds curl's
-- sockets (chatgpt.attach's one_fd); elsewhere one poll handle per socket.
-- luv prints "EBADF: bad file descriptor" to stderr whenever libuv reports
-- an error on a polled socket (a refused connection, a reset), and libuv
-- never sees one on the set.
--
-- Turns. libuv's callbacks are "fast events" in Neovim, where most of
-- vim.api raises (E5560). So inside Neovim the engine's turns run from the
-- main loop instead (vim.schedule): a libuv callback only asks for a turn,
-- once however many sockets and timers fire before it runs. Neovim runs
-- it before libuv's loop comes round again, unless it is busy elsewhere
-- (a blocking system(), a prompt): a handle that fires a second time
-- before its turn rests until then, so that a ready socket does not spin
-- the loop (stopping it every time cost a fifth more CPU a delta,
-- bench/RESULTS.md). Every callback of the module (on_delta,
-- on_event, on_tool_call, log, a conversation's hooks, spawned
-- coroutines) then runs where vim.api may be called. opts.schedule: a
-- function(fn) that runs fn soon, outside libuv's callbacks; false: turns
-- run inside them (plain luv, and the default outside Neovim).

local chatgpt = require "chatgpt"
local loop = require "chatgpt.loop"
local args = require "chatgpt.args"

local pairs, rawget, type, _G = pairs, rawget, type, _G

local M = {}

local attached_uv
local polls = {}      -- fd -> its uv poll handle
local wants = {}      -- fd -> what the engine wants it watched for
local resting = {}    -- fd -> true: fired, its handle stopped until the turn
local timer           -- the engine's one timer
local later           -- a turn that found the engine busy tries again on it
local schedule        -- opts.schedule, or nil: turns run in libuv's callbacks
local ready = {}      -- fd -> what it was ready for, for the scheduled turn
local spare = {}      -- the next turn's `ready` (two, swapped: no table a turn)
local timer_fired = false
local queued = false  -- a turn is scheduled
local gen = 0         -- the attachment a scheduled turn belongs to
local run_turn        -- this attachment's turn, as schedule takes it

local function close(h)
  if not h:is_closing() then h:close() end
end

local request_turn, on_ready

local function arm(fd)
  local p, what = polls[fd], wants[fd]
  if p and what and not resting[fd] then p:start(what, on_ready[fd]) end
end

-- One turn from the main loop: hands the engine what fired since the last
-- one, then lets the handles watch again.
local function turn(g)
  if g ~= gen then return end
  queued = false
  if loop.busy() then
    -- a callback runs the host's loop (vim.wait inside on_delta): the
    -- engine's turn is on the stack below; try again in a while
    later:start(10, 0, request_turn)
    return
  end
  local fds, fired = ready, timer_fired
  ready, spare, timer_fired = spare, fds, false
  local ok, err = true, nil
  for fd, what in pairs(fds) do
    local rested = resting[fd]
    fds[fd], resting[fd] = nil, nil
    if ok and g == gen then ok, err = pcall(chatgpt.drive, fd, what) end
    if rested and g == gen then arm(fd) end
  end
  if fired and ok and g == gen then ok, err = pcall(chatgpt.drive) end
  if not ok then error(err, 0) end
end

request_turn = function()
  if queued then return end
  queued = true
  schedule(run_turn)
end

-- The poll callback of fd (made once per fd, kept while it is watched).
local function ready_fn(fd)
  return function(err, events)
    -- an error on the socket (libuv stopped the handle): curl finds out
    -- when it looks at it
    local what = err and "rw" or events
    if not schedule then
      chatgpt.drive(fd, what)
      if err then arm(fd) end
      return
    end
    local had = ready[fd]
    if had == nil then
      ready[fd] = what
      return request_turn()
    end
    ready[fd] = had == what and what or "rw"
    local p = polls[fd]          -- fired again before its turn: rests
    if p and not resting[fd] then
      resting[fd] = true
      p:stop()
    end
  end
end

on_ready = {}

local function watch(uv, fd, what)
  local p = polls[fd]
  wants[fd] = what
  if not what then
    if p then
      polls[fd], on_ready[fd], resting[fd], ready[fd] = nil, nil, nil, nil
      p:stop()
      close(p)
    end
    return
  end
  if not p then
    local err
    p, err = (uv.new_socket_poll or uv.new_poll)(fd)
    if not p then error("chatgpt.uv: cannot watch fd " .. fd .. ": " .. tostring(err), 0) end
    polls[fd] = p
    on_ready[fd] = ready_fn(fd)
  end
  arm(fd)
end

local function on_timer()
  if not schedule then return chatgpt.drive() end
  timer_fired = true
  request_turn()
end

-- The scheduler opts asks for: nil, false, a function, or (by default)
-- Neovim's vim.schedule when running inside Neovim.
local function scheduler(opts)
  local s = opts and opts.schedule
  if s == nil then
    local vim = rawget(_G, "vim")
    if type(vim) == "table" and type(vim.schedule) == "function" then return vim.schedule end
    return nil
  end
  return s or nil
end

local function check_opts(opts)
  if opts == nil then return end
  if type(opts) ~= "table" then args.error(3, 2, "attach", "table expected, got " .. type(opts)) end
  for k, v in pairs(opts) do
    if k ~= "schedule" then args.error(3, 2, "attach", "unknown option '" .. tostring(k) .. "'") end
    if v ~= false and type(v) ~= "function" then
      args.error(3, 2, "attach", "option 'schedule': function or false expected, got " .. type(v))
    end
  end
end

-- chatgpt.uv.attach(uv [, opts]): uv is luv's module table.
function M.attach(uv, opts)
  if type(uv) ~= "table" or type(uv.new_timer) ~= "function" then
    args.error(2, 1, "attach", "luv expected: vim.uv, vim.loop or require 'luv', got " .. type(uv))
  end
  check_opts(opts)
  M.detach()
  attached_uv = uv
  schedule = scheduler(opts)
  local g = gen
  run_turn = function() turn(g) end
  timer, later = uv.new_timer(), uv.new_timer()
  -- libuv counts a timer in whole ms from the time its loop cached when
  -- the iteration began: one set later in that iteration, or mid-ms, would
  -- fire before its deadline, find nothing due, and cost a second wake-up
  -- a ms later. Hence the time updated first, and one ms more.
  local update_time = uv.update_time or function() end
  chatgpt.attach {
    one_fd = true,
    watch = function(fd, what) watch(uv, fd, what) end,
    timer = function(ms)
      timer:stop()
      if ms >= 0 then
        update_time()
        timer:start(ms > 0 and ms + 1 or 0, 0, on_timer)
      end
    end,
  }
end

-- Back to polling (requests in flight carry on); closes the handles, which
-- finish closing on the loop's next turn (a script that exits right after
-- should run uv.run("nowait") first).
function M.detach()
  if not attached_uv then return end
  gen = gen + 1
  chatgpt.detach()
  for fd, p in pairs(polls) do
    polls[fd] = nil
    p:stop()
    close(p)
  end
  for _, t in pairs { timer, later } do
    t:stop()
    close(t)
  end
  timer, later, attached_uv, schedule, run_turn = nil, nil, nil, nil, nil
  wants, resting, ready, spare, on_ready = {}, {}, {}, {}, {}
  timer_fired, queued = false, false
end

return M

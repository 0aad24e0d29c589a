-- The engine on a libuv loop (luv): Neovim's vim.uv / vim.loop, luvit, or
-- require "luv". One poll handle per socket curl wants watched, one timer.
--
--   require("chatgpt.uv").attach(vim.uv or vim.loop)
--   require("chatgpt.uv").detach()
--
-- Callbacks (on_delta, ...) then run from libuv's callbacks: in Neovim that
-- is a "fast event", where most of vim.api is off limits; wrap what touches
-- buffers in vim.schedule.

local chatgpt = require "chatgpt"

local error, pairs, type = error, pairs, type

local M = {}

local polls = {}      -- fd -> uv poll handle
local timer           -- the uv timer
local attached_uv

local function close(h)
  if not h:is_closing() then h:close() end
end

-- chatgpt.uv.attach(uv): uv is luv's module table.
function M.attach(uv)
  if type(uv) ~= "table" or type(uv.new_timer) ~= "function" then
    error("bad argument #1 to 'attach' (luv expected: vim.uv, vim.loop or require 'luv')", 2)
  end
  M.detach()
  attached_uv = uv
  timer = uv.new_timer()
  local new_poll = uv.new_socket_poll or uv.new_poll
  chatgpt.attach {
    watch = function(fd, what)
      local p = polls[fd]
      if not what then
        if p then
          polls[fd] = nil
          p:stop()
          close(p)
        end
        return
      end
      if not p then
        p = new_poll(fd)
        polls[fd] = p
      end
      p:start(what, function(err, events)
        -- an error on the socket: curl finds out when it looks at it
        chatgpt.drive(fd, err and "rw" or events)
      end)
    end,
    timer = function(ms)
      timer:stop()
      if ms >= 0 then timer:start(ms, 0, function() chatgpt.drive() end) end
    end,
  }
end

-- Back to polling (requests in flight carry on); closes the handles, which
-- finish closing on the loop's next turn (a script that exits right after
-- should run uv.run("nowait") first).
function M.detach()
  if not attached_uv then return end
  chatgpt.detach()
  for fd, p in pairs(polls) do
    polls[fd] = nil
    p:stop()
    close(p)
  end
  if timer then
    timer:stop()
    close(timer)
    timer = nil
  end
  attached_uv = nil
end

return M

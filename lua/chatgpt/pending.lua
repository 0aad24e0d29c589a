-- What every handle of work that settles later shares (a request, a say):
-- status, done, result, wait, and the settling that wakes its waiters.
-- A class takes these methods with pending.into(Class) and brings its own
-- cancel (which ends in pending.settle) and `kind` ("request", "say").

local lazy = require "chatgpt.lazy"
local loop = require "chatgpt.loop"
local errors = lazy "chatgpt.error"

local pairs = pairs

local M = {}

local P = {}

function P:done()
  return self.status ~= "pending"
end

-- results..., or nil, err once settled; nothing while pending. Results are
-- three (value, response, info), or two when r.n says so (value, info).
function P:result()
  local r = self._results
  if r then
    if r.n == 2 then return r[1], r[2] end
    return r[1], r[2], r[3]
  end
  if self._err then return nil, self._err end
end

-- Drives the engine (or yields, inside chatgpt.spawn) until settled; after
-- `seconds`, nil, err{kind = "timeout", code = "WAIT_TIMEOUT"}, and the
-- work goes on.
function P:wait(seconds)
  if not loop.wait(self, seconds, 2) then
    return nil, errors.new { kind = "timeout", code = "WAIT_TIMEOUT",
      message = "still pending after " .. seconds .. " s (the " .. self.kind .. " goes on)" }
  end
  return self:result()
end

function P:__tostring()
  return "chatgpt." .. self.kind .. " (" .. self.status .. ")"
end

-- Settles h with results (a list) or err, and wakes whoever waits on it.
function M.settle(h, results, err)
  if err then
    h.status = err.kind == "cancelled" and "cancelled" or "failed"
    h._err = err
  else
    h.status = "done"
    h._results = results
  end
  loop.wake(h)
end

function M.into(class)
  for k, v in pairs(P) do class[k] = v end
  class.__close = class.cancel
  return class
end

return M

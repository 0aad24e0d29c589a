-- What differs between the Lua versions the suite runs under (make test-all:
-- 5.4, 5.3, 5.2, 5.1, LuaJIT), for the few specs that can only exist on some.
-- Such a spec says why and is pending elsewhere; every other spec runs on all.
local compat = require "chatgpt.compat"

local M = {}

-- Lua 5.3+ has an integer subtype; before, every number is a double and
-- compat.math_type calls an integral one (in int64 range) an integer.
M.INTS = math.type ~= nil
M.INTS_WHY = "Lua 5.3+ only: before 5.3 every number is a double"
-- `<close>` exists from 5.4 on.
M.CLOSE = compat.version >= "5.4"
M.CLOSE_WHY = "Lua 5.4 only: <close>"

-- busted's it where cond holds, else a pending spec that says why:
--   local it_ints = versions.gate(versions.INTS, versions.INTS_WHY, it, pending)
function M.gate(cond, why, it, pending)
  if cond then return it end
  return function(name) pending(name .. " (" .. why .. ")") end
end

-- Compiles Lua 5.4 source (a function with `<close>`) only where it
-- parses, so that the spec file holding it still loads on 5.1.
function M.close_fn(source, name)
  if not M.CLOSE then return function() end end
  return assert(load("return " .. source, "=" .. name))()
end

return M

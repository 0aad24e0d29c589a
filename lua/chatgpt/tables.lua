-- Small table helpers the Lua layer shares.

local getmetatable, pairs, setmetatable, type = getmetatable, pairs, setmetatable, type
local concat = table.concat

local M = {}

-- A copy of v in which tables are fresh (metatables, e.g. chatgpt.array
-- markers, are kept); functions and other values are shared.
function M.deepcopy(v, seen)
  if type(v) ~= "table" then return v end
  seen = seen or {}
  if seen[v] then return seen[v] end
  local t = {}
  seen[v] = t
  for k, x in pairs(v) do t[M.deepcopy(k, seen)] = M.deepcopy(x, seen) end
  return setmetatable(t, getmetatable(v))
end

-- A copy without functions (for saving).
function M.plain(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do
    if type(x) ~= "function" then t[k] = M.plain(x) end
  end
  return setmetatable(t, getmetatable(v))
end

-- Is t a list: keys 1..n and nothing else?
function M.is_list(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k % 1 ~= 0 then return false end
    n = n + 1
  end
  return n == #t
end

-- A string buffer {n = 0}: the pieces of a streamed text. append adds one;
-- joined returns them joined and collapses the buffer to that one string,
-- so that repeated calls (text() on every error, then finish()) stay linear.
function M.append(buf, s)
  local n = buf.n + 1
  buf.n = n
  buf[n] = s
end

function M.joined(buf)
  local n = buf.n
  if n == 0 then return "" end
  if n == 1 then return buf[1] end
  local s = concat(buf, "", 1, n)
  buf[1] = s
  for i = 2, n do buf[i] = nil end
  buf.n = 1
  return s
end

return M

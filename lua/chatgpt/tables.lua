-- Small table helpers the conversation layer shares.

local getmetatable, pairs, setmetatable, type = getmetatable, pairs, setmetatable, type

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

return M

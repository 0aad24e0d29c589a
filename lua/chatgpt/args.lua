-- Argument and option checks: one wording for every programmer's mistake,
-- luaL_argerror's ("bad argument #1 to 'new' (option 'timeout' must be a
-- number > 0, got -1)"), raised at the caller's line.

local error, pairs, tostring, type = error, pairs, tostring, type
local find, format = string.find, string.format
local huge = math.huge

local M = {}

-- Raises "bad argument #n to 'fname' (msg)" at `level` (1 = the caller of
-- the function that calls error()).
function M.error(level, n, fname, msg)
  error(format("bad argument #%d to '%s' (%s)", n, fname, msg), level + 1)
end

local function finite(v)
  return v == v and v ~= huge and v ~= -huge
end
M.finite = finite

-- Why the number v breaks rule r, or nil. r = { min = x, above = x,
-- max = x, integer = true }: v >= min, v > above, v <= max.
local function number_problem(v, r)
  if not finite(v) then return "a finite number" end
  if r.integer and v % 1 ~= 0 then return "an integer" end
  if r.above and not (v > r.above) then return format("a number > %s", tostring(r.above)) end
  if r.min and v < r.min then return format("a number >= %s", tostring(r.min)) end
  if r.max and v > r.max then return format("a number <= %.14g", r.max) end
end

local function show(v)
  if type(v) == "string" then return format("%q", #v > 40 and v:sub(1, 40) .. "..." or v) end
  return tostring(v)
end

-- Why the value v does not fit rule r, or nil. A rule is a type name
-- ("string", "table", "function", "boolean") or a table { "number", min =
-- ..., max = ..., above = ..., integer = true } / { "string", ... }.
-- Strings never hold a NUL byte: they go to C.
function M.problem(v, r)
  local want = type(r) == "table" and r[1] or r
  if type(v) ~= want then return want .. " expected, got " .. type(v) end
  if want == "number" and type(r) == "table" then
    local p = number_problem(v, r)
    if p then return p .. ", got " .. show(v) end
  elseif want == "string" and find(v, "\0", 1, true) then
    return "a string without NUL bytes expected"
  end
end

-- Checks a table of options against rules { name = rule }: an unknown
-- option or a bad value raises, naming the option. nil opts is {}.
function M.options(level, n, fname, opts, rules, what)
  what = what or "option"
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    M.error(level + 1, n, fname, "table expected, got " .. type(opts))
  end
  for k, v in pairs(opts) do
    local r = rules[k]
    if r == nil then
      M.error(level + 1, n, fname, format("unknown %s '%s'", what, tostring(k)))
    end
    local p = M.problem(v, r)
    if p then M.error(level + 1, n, fname, format("%s '%s': %s", what, k, p)) end
  end
  return opts
end

return M

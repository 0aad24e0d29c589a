-- Argument and option checks: one wording for every programmer's mistake,
-- luaL_argerror's ("bad argument #1 to 'new' (option 'timeout' must be a
-- number > 0, got -1)"), raised at the caller's line.

local error, getmetatable, ipairs, pairs, tostring, type =
      error, getmetatable, ipairs, pairs, tostring, type
local find, format, gsub = string.find, string.format, string.gsub
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
-- ("string", "table", "function", "boolean"), several ("string|function"),
-- or a table { "number", min = ..., max = ..., above = ..., integer = true }
-- / { "string", ... }. Strings never hold a NUL byte: they go to C.
function M.problem(v, r)
  local want, t = type(r) == "table" and r[1] or r, type(v)
  if t ~= want and not (find(want, "|", 1, true) and find("|" .. want .. "|", "|" .. t .. "|", 1, true)) then
    return (gsub(want, "|", " or ")) .. " expected, got " .. t
  end
  if t == "number" and type(r) == "table" then
    local p = number_problem(v, r)
    if p then return p .. ", got " .. show(v) end
  elseif t == "string" and find(v, "\0", 1, true) then
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

-- A conversation's params and a call's (argument #2, over them), split into
-- the request body and the options the conversation reads itself (`own`:
-- name -> its Lua type), whose types are checked.
function M.split_params(level, fname, own, base, params)
  if params ~= nil and type(params) ~= "table" then
    M.error(level + 1, 2, fname, "table expected, got " .. type(params))
  end
  local body, mine = {}, {}
  for _, src in ipairs { base, params or {} } do
    for k, v in pairs(src) do
      if own[k] then mine[k] = v else body[k] = v end
    end
  end
  for k, v in pairs(mine) do
    if type(v) ~= own[k] then
      M.error(level + 1, 2, fname, "param '" .. k .. "' must be a " .. own[k] .. ", got " .. type(v))
    end
  end
  return body, mine
end

-- A conversation's `schema` param ({name, schema, description, strict}),
-- argument #2 of fname.
function M.check_schema(level, fname, s)
  if type(s.name) ~= "string" or not s.name:match("^[%w_%-]+$") then
    M.error(level + 1, 2, fname, "schema.name must be a name of letters, digits, '_' or '-'")
  end
  if type(s.schema) ~= "table" then
    M.error(level + 1, 2, fname, "schema.schema must be a JSON schema table")
  end
  if s.description ~= nil and type(s.description) ~= "string" then
    M.error(level + 1, 2, fname, "schema.description must be a string")
  end
  if s.strict ~= nil and type(s.strict) ~= "boolean" then
    M.error(level + 1, 2, fname, "schema.strict must be a boolean")
  end
end

-- A value that can be called: a function, or a value whose metatable has
-- __call.
function M.callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

-- Argument #n of fname: nil or a table whose fields `names` are nil or
-- callable. Returns it ({} for nil).
function M.handlers(level, n, fname, handlers, names)
  if handlers == nil then return {} end
  if type(handlers) ~= "table" then
    M.error(level + 1, n, fname, "table expected, got " .. type(handlers))
  end
  for _, name in ipairs(names) do
    local h = handlers[name]
    if h ~= nil and not M.callable(h) then
      M.error(level + 1, n, fname, name .. ": function expected, got " .. type(h))
    end
  end
  return handlers
end

return M

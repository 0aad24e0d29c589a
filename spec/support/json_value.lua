-- What a decoded value stands for as JSON, for the specs of what goes back
-- to the server (spec/json_roundtrip_spec.lua, spec/sent_back_spec.lua):
-- canon(v) reads a value the way core.encode writes it; judge(pairs) asks
-- Python's json module (spec/support/json_same.py) whether texts are the
-- same JSON values.
local core = require "chatgpt.core"
local compat = require "chatgpt.compat"

local null = core.null
local math_type = compat.math_type

local M = {}

-- An integer's digits, exact (%d needs a 5.3+ integer; before, %.0f is
-- exact for every integral double)
function M.int_text(n)
  if math.type then return ("%d"):format(n) end
  return ("%.0f"):format(n)
end

-- A decoded value as canonical text: the JSON value it stands for, read
-- the way the encoder reads it (empty tables by their mark, null members
-- from the metatable), objects with sorted keys.
function M.canon(v)
  if v == nil or v == null then return "null" end
  local t = type(v)
  if t == "number" then
    if math_type(v) == "integer" then return "i" .. M.int_text(v) end
    local i = compat.tointeger(v)
    if i and not (v == 0 and 1 / v < 0) then return "i" .. M.int_text(i) end   -- 2.0 goes out as 2: one JSON number
    return ("f%.17g"):format(v)
  elseif t == "string" then
    return ("%q"):format(v)
  elseif t ~= "table" then
    return tostring(v)
  end
  local mt = getmetatable(v)
  local kind = mt and rawget(mt, "__jsontype")
  if kind == nil then
    assert(next(v) ~= nil, "an empty table without a mark")
    kind = type(next(v)) == "number" and "array" or "object"     -- decoded: 1..n or names
  end
  local out = {}
  if kind == "array" then
    for i = 1, #v do out[i] = M.canon(v[i]) end
    return "[" .. table.concat(out, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  for k in pairs(mt and rawget(mt, "__jsonnull") or {}) do
    if v[k] == nil then keys[#keys + 1] = k end
  end
  table.sort(keys)
  for i, k in ipairs(keys) do out[i] = ("%q"):format(k) .. ":" .. M.canon(v[k]) end
  return "{" .. table.concat(out, ",") .. "}"
end

-- judge({{a, b}, ...} [, ordered]): asks Python whether each a and b are the
-- same JSON values (in the same key order too, ordered); returns its
-- complaints ("" when none).
function M.judge(list, ordered)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  for i, p in ipairs(list) do
    for j, name in ipairs { "a", "b" } do
      local f = assert(io.open(("%s/%s%d.json"):format(dir, name, i), "wb"))
      f:write(p[j])
      f:close()
    end
  end
  local py = os.getenv("PYTHON") or "python3"
  local cmd = ("%s spec/support/json_same.py %s %d%s 2>&1"):format(py, dir, #list, ordered and " --ordered" or "")
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  os.execute("rm -rf " .. dir)
  assert(out:find("checked " .. #list, 1, true), "json_same.py: " .. out)
  return (out:gsub("checked %d+%s*$", ""))
end

return M

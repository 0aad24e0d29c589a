-- What differs between Lua 5.1, LuaJIT 2.1, 5.2, 5.3 and 5.4, in one place
-- (src/compat.h is the C side). Every other module is written in the common
-- subset and takes from here what that subset lacks.
--
--   compat.band(a, b), bor(a, b), lshift(a, n), rshift(a, n)
--                       on non-negative integers below 2^31 (all the code needs)
--   compat.unpack, compat.pack(...) -> {n = select("#", ...), ...}
--   compat.tointeger(x) -> x as an integer, or nil (before 5.3: an integral
--                       double in int64 range, as the C codec sees it)
--   compat.math_type(x) -> "integer" | "float" | nil (the same rule)
--   compat.utf8_len(s) -> number of characters, or nil, byte of the first
--                       invalid one
--   compat.float32le(s, i) -> the little-endian IEEE float32 at byte i
--   compat.xpcall(f, handler, ...) -> as 5.2's (5.1's passes no arguments)
--   compat.ypcall(f, ...), yxpcall(f, handler, ...) -> pcall and xpcall that
--                       f may yield across (5.1's cannot); compat.running()
--                       -> coroutine.running() that sees through them
--   compat.has_pairs_mm  __pairs is honoured (5.2+), else pairs sees raw fields
--   compat.one_arg(f) -> true when f is a Lua function that declares at most one
--                       parameter and no `...`, so that it cannot see a
--                       second argument (false when that cannot be told:
--                       C functions, and 5.1, whose getinfo has no nparams)
--   compat.version       "5.1" | "5.2" | "5.3" | "5.4"; compat.luajit: bool

local _G, _VERSION, coroutine, debug, load, math, package, pairs, pcall, rawget, require, select,
      setmetatable, string, table, type, xpcall =
      _G, _VERSION, coroutine, debug, load, math, package, pairs, pcall, rawget, require, select,
      setmetatable, string, table, type, xpcall
local floor, huge = math.floor, math.huge

local M = {}

M.version = _VERSION:match("%d+%.%d+")
M.luajit = type(rawget(_G, "jit")) == "table"

M.unpack = table.unpack or rawget(_G, "unpack")

-- package.searchpath(name, path) -> file | nil; nil where there is none (5.1)
M.searchpath = rawget(package, "searchpath")

function M.pack(...)
  return { n = select("#", ...), ... }
end

-- ---- bit operations ------------------------------------------------------
-- 5.3+: the native operators, compiled at run time so that this file still
-- parses on 5.1. LuaJIT: its bit library. 5.1: arithmetic (the operands are
-- small and non-negative).
local native = M.version >= "5.3" and load([[
  return function(a, b) return a & b end, function(a, b) return a | b end,
         function(a, n) return a << n end, function(a, n) return a >> n end
]])
local ok_bit, bit = pcall(require, "bit")
if native then
  M.band, M.bor, M.lshift, M.rshift = native()
elseif ok_bit and type(bit) == "table" then
  M.band, M.bor, M.lshift, M.rshift = bit.band, bit.bor, bit.lshift, bit.rshift
elseif type(rawget(_G, "bit32")) == "table" then
  local b32 = rawget(_G, "bit32")
  M.band, M.bor, M.lshift, M.rshift = b32.band, b32.bor, b32.lshift, b32.rshift
else
  function M.lshift(a, n) return a * 2 ^ n end
  function M.rshift(a, n) return floor(a / 2 ^ n) end
  local function op(a, b, both)
    local r, p = 0, 1
    while a > 0 or b > 0 do
      local x, y = a % 2, b % 2
      if (both and x + y == 2) or (not both and x + y > 0) then r = r + p end
      a, b, p = (a - x) / 2, (b - y) / 2, p * 2
    end
    return r
  end
  function M.band(a, b) return op(a, b, true) end
  function M.bor(a, b) return op(a, b, false) end
end

-- ---- numbers -------------------------------------------------------------
local TWO63 = 2 ^ 63

if math.tointeger then
  M.tointeger = math.tointeger
  M.math_type = math.type
else
  local function integral(x)
    return type(x) == "number" and x == floor(x) and x >= -TWO63 and x < TWO63
      and not (x == 0 and 1 / x < 0)
  end
  function M.tointeger(x)
    if integral(x) then return x end
    return nil
  end
  function M.math_type(x)
    if type(x) ~= "number" then return nil end
    return integral(x) and "integer" or "float"
  end
end

-- ---- strings -------------------------------------------------------------
local byte = string.byte

local utf8 = rawget(_G, "utf8")
if utf8 and utf8.len then
  M.utf8_len = utf8.len
else
  -- 5.3's rules: no overlongs, no surrogates, nothing above U+10FFFF
  function M.utf8_len(s)
    local i, n, len = 1, 0, #s
    while i <= len do
      local c = byte(s, i)
      local k, min
      if c < 0x80 then k, min = 0, 0
      elseif c >= 0xC2 and c < 0xE0 then k, min = 1, 0x80
      elseif c >= 0xE0 and c < 0xF0 then k, min = 2, 0x800
      elseif c >= 0xF0 and c < 0xF5 then k, min = 3, 0x10000
      else return nil, i end
      local cp = k == 0 and c or c % 2 ^ (6 - k)
      for j = 1, k do
        local d = byte(s, i + j)
        if not d or d < 0x80 or d >= 0xC0 then return nil, i end
        cp = cp * 64 + d % 64
      end
      if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return nil, i end
      i, n = i + k + 1, n + 1
    end
    return n
  end
end

if string.unpack then
  local sunpack = string.unpack
  function M.float32le(s, i) return (sunpack("<f", s, i)) end
else
  function M.float32le(s, i)
    local b1, b2, b3, b4 = byte(s, i, i + 3)
    local sign = b4 >= 128 and -1 or 1
    local exp = (b4 % 128) * 2 + floor(b3 / 128)
    local mant = ((b3 % 128) * 256 + b2) * 256 + b1
    if exp == 255 then
      if mant == 0 then return sign * huge end
      return 0 / 0
    elseif exp == 0 then
      return sign * mant * 2 ^ -149   -- subnormal (and zero, signed)
    end
    return sign * (1 + mant / 2 ^ 23) * 2 ^ (exp - 127)
  end
end

-- ---- functions -----------------------------------------------------------
-- 5.1's xpcall passes no arguments to f (LuaJIT's and 5.2's do).
if select(2, xpcall(function(a) return a end, function(e) return e end, true)) then
  M.xpcall = xpcall
else
  local unpack = M.unpack
  function M.xpcall(f, handler, ...)
    local n, a = select("#", ...), { ... }
    return xpcall(function() return f(unpack(a, 1, n)) end, handler)
  end
end

-- ---- yielding across pcall ------------------------------------------------
-- 5.1 cannot yield across pcall or xpcall (LuaJIT and 5.2+ can), and a say
-- inside chatgpt.spawn waits (yields) under a pcall. There, ypcall and
-- yxpcall run f in a coroutine of their own and pass its yields up and the
-- answers down (as coxpcall does); compat.running() then names the
-- outermost coroutine, so the loop sees who really waits.
local co_create, co_resume, co_running, co_status, co_yield =
      coroutine.create, coroutine.resume, coroutine.running, coroutine.status, coroutine.yield

local yieldable = coroutine.wrap(function()
  return pcall(co_yield, "yielded")
end)() == "yielded"

if yieldable then
  M.running = co_running
  M.ypcall, M.yxpcall = pcall, M.xpcall
else
  local outer = setmetatable({}, { __mode = "k" })   -- inner coroutine -> outermost
  function M.running()
    local co, main = co_running()
    if co and outer[co] then co = outer[co] end
    return co, main
  end
  local function finish(co, handler, ok, ...)
    if not ok then
      if handler then return false, handler((...)) end
      return false, (...)
    end
    if co_status(co) == "dead" then return true, ... end
    return finish(co, handler, co_resume(co, co_yield(...)))   -- up, then down
  end
  function M.yxpcall(f, handler, ...)
    local co = co_create(f)
    local cur = co_running()
    if cur then outer[co] = outer[cur] or cur end
    return finish(co, handler, co_resume(co, ...))
  end
  function M.ypcall(f, ...) return M.yxpcall(f, nil, ...) end
end

-- __pairs is consulted from 5.2 on (and by LuaJIT built with 5.2 extras)
M.has_pairs_mm = false
for _ in pairs(setmetatable({}, { __pairs = function()
  M.has_pairs_mm = true
  return function() end, nil, nil
end })) do end

local getinfo = type(debug) == "table" and debug.getinfo
function M.one_arg(f)
  if not getinfo or type(f) ~= "function" then return false end
  local i = getinfo(f, "u")
  return i.nparams ~= nil and i.nparams <= 1 and not i.isvararg
end

return M

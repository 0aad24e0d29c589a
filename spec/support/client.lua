-- Clients pointed at the fake server, with a key whose marker is easy to
-- search for in anything the module prints or sends; and the few helpers
-- every spec shares (HELLO, drain, read).
local chatgpt = require "chatgpt"
local core = require "chatgpt.core"
local fake = require "spec.support.fake"

local M = {}

-- The fake server's default chat text (CHAT_TEXT in spec/support/fakeapi/model.py).
M.HELLO = "Hello! I am the local fake OpenAI server."

-- Runs the loop until no request is in flight (at most 10 s), so that one
-- spec's leftovers never reach the next one's fake server script.
function M.drain()
  local t0 = core.now()
  while chatgpt.poll(0.05) > 0 and core.now() - t0 < 10 do end
end

-- The codes of an answer the server cut off (a reset, or a close before
-- its end), by name. Which one curl reports is the machine's timing: which
-- of its calls meets the cut first (a receive, a send, the check of a
-- reused connection), and whether it reads the bytes before the reset or
-- after. A spec of a cut accepts every one of them, and nothing else.
M.CUT = { RECV_ERROR = true, SEND_ERROR = true, PARTIAL_FILE = true, GOT_NOTHING = true }

-- Asserts that err is a cut connection: kind "network", a code of M.CUT.
function M.cut(err)
  assert(type(err) == "table", "an error expected, got " .. tostring(err))
  assert(err.kind == "network" and M.CUT[err.code],
         "a cut connection expected (network RECV_ERROR, SEND_ERROR, PARTIAL_FILE or GOT_NOTHING), got "
         .. tostring(err.kind) .. " " .. tostring(err.code))
end

-- seconds fn(...) took, then its first three results.
function M.timed(fn, ...)
  local t0 = core.now()
  local a, b, c = fn(...)
  return core.now() - t0, a, b, c
end

-- T.capture(cmd) -> output (stdout and stderr), whether it exited 0, its
-- status: through the shell, as popen's and os.execute's results differ
-- before 5.2 (they give no status there).
function M.capture(cmd)
  local p = io.popen("(" .. cmd .. ") 2>&1; echo \"__status=$?\"")
  local out = p:read("*a")
  p:close()
  local code = tonumber(out:match("__status=(%d+)%s*$"))
  out = out:gsub("__status=%d+%s*$", "")
  return out, code == 0, code
end

-- T.ok(cmd) -> whether cmd exits 0 (its output dropped)
function M.ok(cmd)
  local _, ok = M.capture(cmd .. " >/dev/null 2>&1")
  return ok
end

-- A file's bytes, or nil, err when it cannot be read.
function M.read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("*a")
  f:close()
  return s
end

-- A temporary file holding bytes (its name ends with ext, when given).
function M.tmpfile(bytes, ext)
  local path = os.tmpname()
  if ext then
    os.remove(path)
    path = path .. ext
  end
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
  return path
end

-- The multipart part called name of a request the fake server recorded.
function M.part(rec, name)
  for _, p in ipairs(rec.form or {}) do if p.name == name then return p end end
end

M.MARKER = "MARKERk3y"
M.KEY = "sk-proj-" .. M.MARKER .. "0123456789abcdefWXYZ"

-- What a proxy in front of the API sends when the API is down.
M.HTML_502 = [[<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>cloudflare</center>
</body>
</html>]]

-- chatgpt.new with base_url = the fake server and M.KEY, unless given.
function M.new(opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  if o.base_url == nil then o.base_url = fake.base_url() end
  if o.api_key == nil and o.api_key_file == nil and o.api_key_cmd == nil then o.api_key = M.KEY end
  if o.api_key == false then o.api_key = nil end
  return chatgpt.new(o)
end

-- The fake's records of API requests, in order.
function M.requests() return fake.requests() end

-- Deep search: does the key marker occur in any string of v (or its tostring)?
function M.leaks(v, seen)
  seen = seen or {}
  if type(v) == "string" then return v:find(M.MARKER, 1, true) ~= nil end
  if type(v) ~= "table" then return tostring(v):find(M.MARKER, 1, true) ~= nil end
  if seen[v] then return false end
  seen[v] = true
  if tostring(v):find(M.MARKER, 1, true) then return true end
  for k, x in pairs(v) do
    if M.leaks(k, seen) or M.leaks(x, seen) then return true end
  end
  return false
end

-- Runs a Lua snippet in a fresh interpreter (CHATGPT_LUA: the one the suite
-- runs under) with the in-tree module and the given environment
-- ("NAME=value ..."); returns its stdout.
function M.run(env, code)
  local build = os.getenv("CHATGPT_BUILD") or "build"
  local f = os.tmpname()
  local h = assert(io.open(f, "w"))
  h:write(code)
  h:close()
  local cmd = string.format("env %s LUA_PATH='lua/?.lua;lua/?/init.lua;./?.lua;;' "
    .. "LUA_CPATH='%s/?.so;;' %s %s 2>&1", env or "", build, os.getenv("CHATGPT_LUA") or "lua5.4", f)
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  os.remove(f)
  return out
end

return M

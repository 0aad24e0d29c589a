-- What every example loads first, by its own path, so that the examples
-- run from any folder:
--
--   local server = dofile((debug.getinfo(1, "S").source:match("^@(.*)[/\\]") or ".") .. "/server.lua")
--
-- It finds the module (as installed, else the checkout's lua/ and build/
-- beside this folder), and tells where to send requests: the real API when
-- OPENAI_API_KEY is set, else the fake OpenAI server bundled for the tests
-- (started here, stopped when this process exits). Says which on stderr.
--
--   local client = chatgpt.new { base_url = server.base_url() }   -- nil: the real API

local M = {}

local here = debug.getinfo(1, "S").source:match("^@(.*)[/\\]") or "."

-- package.searchpath, which Lua 5.1 lacks
local function found(name, path)
  local file = name:gsub("%.", "/")
  for template in path:gmatch("[^;]+") do
    local f = io.open((template:gsub("%?", file)))
    if f then
      f:close()
      return true
    end
  end
  return false
end

-- the checkout's build for this Lua: build/ for 5.4, build/<lua> for the
-- others (make LUA=luajit builds build/luajit)
local flavour = jit and "luajit" or "lua" .. _VERSION:match("%d+%.%d+")
local build = here .. "/../build" .. (flavour == "lua5.4" and "" or "/" .. flavour)

if not (found("chatgpt", package.path) and found("chatgpt.core", package.cpath)) then
  package.path = here .. "/../lua/?.lua;" .. here .. "/../lua/?/init.lua;" .. package.path
  package.cpath = build .. "/?.so;" .. package.cpath
end

-- The server's stdin pipe, held and never read: the server exits at its EOF.
local proc -- luacheck: ignore 231
local port                       -- the bundled server's, once started

local function sleep(s)
  local ok, socket = pcall(require, "socket")
  if ok then socket.sleep(s) else os.execute("sleep " .. s) end
end

-- Starts the bundled server; returns its base URL.
function M.start()
  local portfile = os.tmpname()
  local script = here .. "/../spec/support/fake_openai.py"
  proc = assert(io.popen("exec python3 '" .. script .. "' --exit-on-stdin-eof --port-file '"
                         .. portfile .. "' >/dev/null", "w"))
  for _ = 1, 100 do
    local f = io.open(portfile)
    port = f and tonumber(f:read("*a"))
    if f then f:close() end
    if port then
      os.remove(portfile)
      return "http://127.0.0.1:" .. port .. "/v1"
    end
    sleep(0.05)
  end
  error("the bundled server did not start (is python3 installed?)")
end

-- The real API's base URL (nil: the default) when OPENAI_API_KEY or
-- OPENAI_BASE_URL is set, else the bundled server's; second value: bundled.
function M.base_url()
  local key, base = os.getenv("OPENAI_API_KEY"), os.getenv("OPENAI_BASE_URL")
  if (key and key ~= "") or (base and base ~= "") then
    io.stderr:write("[talking to " .. (base or "the OpenAI API") .. "]\n")
    return base ~= "" and base or nil, false
  end
  local url = M.start()
  io.stderr:write("[no OPENAI_API_KEY: using the bundled local server at " .. url .. "]\n")
  return url, true
end

-- Queues scripted replies on the bundled server (POST /_fake/script, its
-- control API, over a plain socket): the fake answers what it is told.
function M.script(json)
  local socket = require "socket"
  local c = assert(socket.tcp())
  c:settimeout(10)
  assert(c:connect("127.0.0.1", assert(port, "the bundled server is not running")))
  assert(c:send("POST /_fake/script HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    .. "Content-Type: application/json\r\nContent-Length: " .. #json .. "\r\n\r\n" .. json))
  local status = c:receive("*l")
  c:close()
  assert(status and status:match(" 200 "), "the fake server refused the script: " .. tostring(status))
end

return M

-- Runs the `chatgpt` command (bin/chatgpt) as a user would, in a process of
-- its own, against the fake server, with the in-tree module (CHATGPT_BUILD's
-- core.so) and state and config folders of its own.
--
--   local cli = require "spec.support.cli"
--   local out, err, status = cli.run({ "-m", "gpt-4o", "hello" }, { stdin = "...", env = {...} })
--   local pid, done = cli.start(args, opts)   -- in the background; done() -> status | nil
--   local r = cli.pty(args, steps, opts)       -- in a real terminal: r.status, r.output, r.failed
--
-- env: extra variables (false unsets one); wrap: a command to run it in
-- ("unshare -n": no network at all). By default OPENAI_BASE_URL is
-- the fake server and OPENAI_API_KEY a test key; every other variable of
-- the command's own (CHATGPT_LOG, OPENAI_API_KEY_FILE, ...) is unset.
local fake = require "spec.support.fake"
local T = require "spec.support.client"

local M = {}

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = quote

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end
M.write = write

-- a file's permission bits, as stat prints them ("600"), or nil
function M.mode(path)
  local p = io.popen("stat -c %a " .. quote(path) .. " 2>/dev/null")
  local m = p:read("*l")
  p:close()
  return m
end

-- the lines of s that are not empty
function M.lines(s)
  local t = {}
  for line in (s or ""):gmatch("[^\n]+") do t[#t + 1] = line end
  return t
end

function M.sleep(s) os.execute("sleep " .. s) end

local read = T.read
M.read = read

local UNSET = { "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_KEY_FILE", "CHATGPT_API_KEY_CMD",
                "CHATGPT_LOG", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "XDG_STATE_HOME",
                "XDG_CONFIG_HOME", "http_proxy", "https_proxy", "HTTPS_PROXY", "ALL_PROXY",
                "all_proxy", "LD_PRELOAD" }

-- A fresh home for the command: state and config folders.
function M.home()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. quote(dir .. "/state") .. " " .. quote(dir .. "/config/lua-chatgpt")))
  return dir
end

-- The shell command that runs bin/chatgpt with args and opts.
function M.command(args, opts)
  opts = opts or {}
  local home = opts.home or M.home()
  local build = os.getenv("CHATGPT_BUILD") or "build"
  local vars = {
    OPENAI_BASE_URL = fake.base_url(), OPENAI_API_KEY = T.KEY, HOME = home,
    XDG_STATE_HOME = home .. "/state", XDG_CONFIG_HOME = home .. "/config",
    LUA_PATH = "lua/?.lua;lua/?/init.lua;;", LUA_CPATH = build .. "/?.so;;",
  }
  for k, v in pairs(opts.env or {}) do vars[k] = v end
  local parts = { opts.wrap or "", "env" }
  for _, k in ipairs(UNSET) do parts[#parts + 1] = "-u " .. k end
  local names = {}
  for k, v in pairs(vars) do
    if v then names[#names + 1] = k else parts[#parts + 1] = "-u " .. k end
  end
  table.sort(names)
  for _, k in ipairs(names) do parts[#parts + 1] = k .. "=" .. quote(vars[k]) end
  -- only lua5.4 gets the sanitizer runtime that make check preloads
  parts[#parts + 1] = "LD_PRELOAD=" .. quote(os.getenv("LD_PRELOAD") or "")
  parts[#parts + 1] = (os.getenv("CHATGPT_LUA") or "lua5.4") .. " bin/chatgpt"
  for _, a in ipairs(args) do parts[#parts + 1] = quote(a) end
  return table.concat(parts, " "), home
end

-- cli.run(args [, opts]) -> stdout, stderr, exit status
function M.run(args, opts)
  opts = opts or {}
  local base = os.tmpname()
  local input = "/dev/null"
  if opts.stdin then
    input = base .. ".in"
    write(input, opts.stdin)
  end
  local cmd = M.command(args, opts)
  -- the status through the shell: os.execute's results differ before 5.2
  -- (a signal shows as 128 + its number, as the shell says it)
  os.execute(cmd .. " <" .. quote(input) .. " >" .. quote(base .. ".out")
             .. " 2>" .. quote(base .. ".err") .. "; echo $? >" .. quote(base .. ".rc"))
  local out, err = read(base .. ".out"), read(base .. ".err")
  local code = tonumber((read(base .. ".rc") or ""):match("%d+"))
  for _, ext in ipairs { "", ".out", ".err", ".rc" } do os.remove(base .. ext) end
  if opts.stdin then os.remove(input) end
  assert(code, "the command's status is unknown")
  return out, err, code
end

-- cli.start(args [, opts]) -> pid, done, files: the command in the
-- background; done() -> its exit status once it ended, else nil.
function M.start(args, opts)
  opts = opts or {}
  local base = os.tmpname()
  local cmd = M.command(args, opts)
  local script = string.format("%s </dev/null >%s 2>%s & echo $! >%s; wait $!; echo $? >%s",
    cmd, quote(base .. ".out"), quote(base .. ".err"), quote(base .. ".pid"), quote(base .. ".rc"))
  -- the outer shell returns at once; the inner one waits for the command
  assert(os.execute("sh -c " .. quote(script) .. " >/dev/null 2>&1 &"))
  local pid
  for _ = 1, 200 do
    pid = tonumber(read(base .. ".pid") or "")
    if pid then break end
    os.execute("sleep 0.02")
  end
  assert(pid, "the command did not start")
  local function done()
    local rc = read(base .. ".rc")
    return rc and tonumber(rc:match("%d+"))
  end
  return pid, done, { out = base .. ".out", err = base .. ".err" }
end

-- cli.pty(args, steps [, opts]) -> {status, output, failed}: the command
-- in a real terminal (spec/support/pty_run.py), typed at as the steps say
-- ({expect = text} | {send = keys} | {sleep = s}). opts as for run, plus
-- cols, rows and timeout; TERM is xterm unless opts.env says otherwise.
function M.pty(args, steps, opts)
  opts = opts or {}
  local env = { TERM = "xterm" }
  for k, v in pairs(opts.env or {}) do env[k] = v end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.env = env
  local cmd = M.command(args, o)
  local cjson = require("cjson").new()
  local base = os.tmpname()
  write(base, cjson.encode { command = cmd, steps = steps, cols = opts.cols or 80,
                             rows = opts.rows or 24, timeout = opts.timeout or 20 })
  local p = io.popen("python3 spec/support/pty_run.py " .. quote(base))
  local text = p:read("*a")
  p:close()
  os.remove(base)
  local r = cjson.decode(text)
  r.output = require("chatgpt.core").unbase64(r.output)
  if r.failed == cjson.null then r.failed = nil end
  if r.status == cjson.null then r.status = nil end
  return r
end

return M

-- The specs' handle on the local fake OpenAI server (spec/support/fake_openai.py).
--
--   local fake = require "spec.support.fake"
--   local base = fake.start()            -- "http://127.0.0.1:PORT/v1" (idempotent)
--   fake.script { status = 429, headers = {{"retry-after", "1"}} }
--   ... run the client against base ...
--   local req = fake.last()              -- what the client sent
--
-- One server per Lua process. It is started through io.popen(cmd, "w") with
-- --exit-on-stdin-eof, so it dies with the pipe: on fake.stop(), or when this
-- process exits in any way. Its state lives in the Lua registry, so it
-- survives busted's per-file unloading of modules.
--
-- Control calls speak plain HTTP/1.1 over a fresh luasocket TCP connection
-- (Connection: close). The server does not count such control-only
-- connections in fake.connections() nor give them `conn` ids.
--
-- API (every call starts the server if needed; failures raise):
--   fake.start() -> base URL         fake.stop()
--   fake.base_url() -> "http://127.0.0.1:PORT/v1"     fake.port() -> PORT
--   fake.url("/x") -> root .. "/x";  fake.url("x") -> base_url() .. "/x"
--   fake.script(reply | {reply, ...}) -> replies queued
--   fake.requests() -> {record, ...}  fake.last() -> record | nil
--   fake.reset()                     fake.config{require_key = "sk-..."} -> config
--   fake.connections() -> accepted, {accepted, open, tcp}
--   fake.queued() -> n               fake.call(method, path[, json]) -> reply
--   fake.null (cjson.null, e.g. fake.config{require_key = fake.null})
-- A record: {id, method, path, query, args, headers = {{name, value}...},
-- header = {lower-name = value}, body (exact bytes), body_b64, json (decoded
-- body or cjson.null), form (a multipart body: a list of parts {name,
-- filename, type, size, data (exact bytes)}, or nil), conn, http_version, time}.
-- Reply fields (status, headers, json, sse, sse_file, split, delay,
-- drop_after, stall, ...) are documented at the top of fake_openai.py.
-- Strings given as body/raw/sse_raw with bytes >= 0x80 are sent as base64,
-- so the server replays exactly the Lua string's bytes.

local socket = require "socket"
local mime = require "mime"
local cjson = require("cjson").new()   -- private: spec settings never leak in

local M = {}

M.null = cjson.null

local REG_KEY = "lua-chatgpt.spec.fake"
local reg = debug.getregistry()
local state = reg[REG_KEY]
if not state then
  state = {}            -- proc (popen handle), port, external
  reg[REG_KEY] = state
end

local function here()
  local src = debug.getinfo(1, "S").source
  if src:sub(1, 1) == "@" then
    local dir = src:sub(2):match("^(.*)[/\\][^/\\]*$")
    if dir then return dir end
  end
  return "spec/support"
end

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- Starts the server once per Lua process; returns the base URL.
-- FAKE_OPENAI_PORT=N uses a server already running on 127.0.0.1:N instead.
function M.start()
  if state.port then return M.base_url() end
  local ext = tonumber(os.getenv("FAKE_OPENAI_PORT") or "")
  if ext then
    state.port, state.external = ext, true
    return M.base_url()
  end
  local portfile = os.tmpname()            -- exists, empty until the server renames onto it
  local python = os.getenv("PYTHON") or "python3"
  local cmd = "exec " .. python .. " " .. shell_quote(here() .. "/fake_openai.py")
    .. " --exit-on-stdin-eof --port-file " .. shell_quote(portfile) .. " >/dev/null"
  local proc = assert(io.popen(cmd, "w"))
  local port
  local deadline = socket.gettime() + 5
  repeat
    local s = read_file(portfile)
    port = s and tonumber(s:match("^(%d+)%s*$"))
    if not port then socket.sleep(0.005) end
  until port or socket.gettime() > deadline
  os.remove(portfile)
  if not port then
    proc:close()
    error("fake_openai.py did not report its port within 5 s (cmd: " .. cmd .. ")", 2)
  end
  state.proc, state.port, state.external = proc, port, false
  return M.base_url()
end

local function ensure()
  if not state.port then M.start() end
end

function M.port()
  ensure()
  return state.port
end

-- "http://127.0.0.1:PORT/v1"
function M.base_url()
  ensure()
  return "http://127.0.0.1:" .. state.port .. "/v1"
end

-- url("/x/y") -> "http://127.0.0.1:PORT/x/y" (from the root);
-- url("chat/completions") -> base_url() .. "/chat/completions"; url() -> the root.
function M.url(path)
  ensure()
  local root = "http://127.0.0.1:" .. state.port
  if path == nil or path == "" then return root end
  if path:sub(1, 1) == "/" then return root .. path end
  return M.base_url() .. "/" .. path
end

local tointeger = require("chatgpt.compat").tointeger
local function int(x)
  return tointeger(x) or x
end

-- One control request; returns the decoded JSON reply. Raises on failure.
local function call(method, path, body)
  ensure()
  local c = assert(socket.tcp())
  c:settimeout(60)
  local ok, err = c:connect("127.0.0.1", state.port)
  if not ok then
    c:close()
    error("fake server: cannot connect to 127.0.0.1:" .. state.port .. ": " .. tostring(err), 3)
  end
  local head = method .. " " .. path .. " HTTP/1.1\r\nHost: 127.0.0.1:" .. state.port
    .. "\r\nConnection: close\r\n"
  if body then
    head = head .. "Content-Type: application/json\r\nContent-Length: " .. #body .. "\r\n"
  end
  assert(c:send(head .. "\r\n" .. (body or "")))
  local line, e = c:receive("*l")
  if not line then
    c:close()
    error("fake server: " .. method .. " " .. path .. ": " .. tostring(e), 3)
  end
  local status = tonumber(line:match("^HTTP/%S+ (%d+)"))
  local len
  while true do
    local h = assert(c:receive("*l"))
    if h == "" then break end
    local n = h:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
    if n then len = tonumber(n) end
  end
  local data = len and (len > 0 and assert(c:receive(len)) or "") or assert(c:receive("*a"))
  c:close()
  local value = cjson.decode(data)
  if status ~= 200 then
    local msg = type(value) == "table" and value.error or data
    error("fake server: " .. method .. " " .. path .. ": " .. status .. ": " .. tostring(msg), 3)
  end
  return value
end
M.call = call

-- Lua strings are bytes: anything not plain ASCII goes as base64, exactly.
local B64 = { body = "body_b64", raw = "raw_b64", sse_raw = "sse_raw_b64" }

local function prepare(reply)
  local out = {}
  for k, v in pairs(reply) do out[k] = v end
  for k, k64 in pairs(B64) do
    local v = out[k]
    if type(v) == "string" and v:find("[\128-\255]") then
      out[k], out[k64] = nil, (mime.b64(v))
    end
  end
  return out
end

-- Queues one reply object or a list of them; returns the queue length.
function M.script(reply)
  assert(type(reply) == "table", "fake.script: a reply table or a list of them")
  local list = reply
  if reply[1] == nil then list = { reply } end
  local prepared = {}
  for i, r in ipairs(list) do prepared[i] = prepare(r) end
  return int(call("POST", "/_fake/script", cjson.encode(prepared)).queued)
end

local function fix(rec)
  -- the exact request bytes (the JSON "body" is their latin-1 reading)
  rec.body = rec.body_b64 ~= "" and mime.unb64(rec.body_b64) or ""
  rec.id, rec.conn = int(rec.id), int(rec.conn)
  if rec.form == cjson.null then rec.form = nil end
  for _, part in ipairs(rec.form or {}) do
    part.data = mime.unb64(part.data_b64) or ""
    part.size = int(part.size)
    if part.filename == cjson.null then part.filename = nil end
    if part.type == cjson.null then part.type = nil end
  end
  return rec
end

-- Every recorded API request since the last reset, oldest first.
function M.requests()
  local list = call("GET", "/_fake/requests")
  for _, rec in ipairs(list) do fix(rec) end
  return list
end

-- The last recorded request, or nil.
function M.last()
  local list = call("GET", "/_fake/requests?last=1")
  return list[1] and fix(list[1]) or nil
end

function M.reset()
  call("POST", "/_fake/reset", "{}")
end

-- Sets config keys (require_key, chat_text, completion_text); a key set to
-- M.null removes it. Returns the whole config.
function M.config(t)
  return call("POST", "/_fake/config", cjson.encode(t or {}))
end

-- Connections that carried an API request so far; then the full table
-- { accepted, open, tcp }.
function M.connections()
  local t = call("GET", "/_fake/connections")
  for k, v in pairs(t) do t[k] = int(v) end
  return t.accepted, t
end

-- Replies still queued.
function M.queued()
  return int(call("GET", "/_fake/queue").queued)
end

-- Stops the server (waits for it to exit). fake.start() may start a new one.
function M.stop()
  if not state.port then return end
  local proc = state.proc
  state.proc, state.port, state.external = nil, nil, nil
  if proc then proc:close() end
end

return M

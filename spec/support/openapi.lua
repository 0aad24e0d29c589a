-- The specs' handle on spec/support/openapi_check.py: requests checked
-- against the official OpenAPI description of the API, the copy in
-- spec/fixtures/openapi.yaml (`make fixtures` brings it in step with
-- ../shared/wire/openapi.yaml).
--
--   local openapi = require "spec.support.openapi"
--   openapi.start()                                          -- optional: at once
--   local errors, operation = openapi.check(fake.last())   -- errors: {} when valid
--   openapi.check_json("POST", "/v1/chat/completions", text)
--   openapi.stop()
--
-- One checker process for a whole spec file: it loads the 3 MB description
-- once (about a second, in the background from start()), then answers each
-- check over one TCP connection on 127.0.0.1 (a JSON line each way). It is started through io.popen(cmd,
-- "w") with --exit-on-stdin-eof, so it dies with the pipe: on stop(), or
-- when this process exits in any way.

local socket = require "socket"
local mime = require "mime"
local cjson = require("cjson").new()   -- private: spec settings never leak in

local M = {}

M.DESCRIPTION = "spec/fixtures/openapi.yaml"

local state = {}     -- proc, portfile, conn

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- openapi.start(): starts the checker and returns at once, so that it
-- reads the description while a spec makes its first requests.
function M.start()
  if state.proc then return end
  state.portfile = os.tmpname()
  local python = os.getenv("PYTHON") or "python3"
  state.cmd = "exec " .. python .. " spec/support/openapi_check.py " .. shell_quote(M.DESCRIPTION)
    .. " --exit-on-stdin-eof --port-file " .. shell_quote(state.portfile) .. " >/dev/null"
  state.proc = assert(io.popen(state.cmd, "w"))
end

-- The connection to the checker, once it has told its port.
local function connection()
  if state.conn then return state.conn end
  M.start()
  local port
  local deadline = socket.gettime() + 60      -- a loaded machine parses 3 MB of YAML slowly
  repeat
    local f = io.open(state.portfile, "rb")
    local s = f and f:read("*a")
    if f then f:close() end
    port = s and tonumber(s:match("^(%d+)%s*$"))
    local why = s and s:match("^error: ([^\n]*)")
    if why then
      M.stop()
      error("openapi_check.py: " .. why, 3)
    end
    if not port then socket.sleep(0.01) end
  until port or socket.gettime() > deadline
  os.remove(state.portfile)
  if not port then
    local cmd = state.cmd
    M.stop()
    error("openapi_check.py did not report its port within 60 s (cmd: " .. cmd .. ")", 3)
  end
  local conn = assert(socket.tcp())
  conn:settimeout(60)
  assert(conn:connect("127.0.0.1", port))
  state.conn = conn
  return conn
end

-- One request (the fields of a fake server record), checked.
local function ask(t)
  local conn = connection()
  assert(conn:send(cjson.encode(t) .. "\n"))
  local line = assert(conn:receive("*l"))
  local answer = cjson.decode(line)
  local op = answer.operation
  return answer.errors, op ~= cjson.null and op or nil
end

-- openapi.check(record) -> errors (a list of texts; empty: valid), the
-- operation's id. record: as fake.requests() gives them.
function M.check(rec)
  local form
  if rec.form then
    form = {}
    for i, p in ipairs(rec.form) do
      form[i] = { name = p.name, filename = p.filename, data_b64 = p.data_b64 }
    end
  end
  return ask { method = rec.method, path = rec.path, query = rec.query,
               header = { ["content-type"] = rec.header["content-type"] },
               body_b64 = rec.body_b64, form = form }
end

-- openapi.check_json(method, path, text) -> errors, operation: a JSON
-- body that no client sent (a mutated one).
function M.check_json(method, path, text)
  return ask { method = method, path = path, query = "",
               header = { ["content-type"] = "application/json" },
               body_b64 = (mime.b64(text)) }
end

function M.stop()
  if state.conn then state.conn:close() end
  if state.proc then state.proc:close() end
  if state.portfile then os.remove(state.portfile) end
  state.proc, state.conn, state.portfile, state.cmd = nil, nil, nil, nil
end

return M

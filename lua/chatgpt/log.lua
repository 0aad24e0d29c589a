-- chatgpt.log: what a client tells about its requests. The `log` option is
-- a function that receives one table per event; CHATGPT_LOG=info|debug
-- gives every client without one a function that writes a line per event
-- to stderr.
--
-- Events (every one has event, method and path):
--   request        once per call, when it settles: status, duration (s),
--                  attempts, request_id; error ("429 rate_limit_exceeded",
--                  "timeout IDLE_TIMEOUT", ...) when it failed
--   retry          an attempt failed and another follows: attempt, status,
--                  reason, delay (s)
--   timeout        an attempt ended on a timeout: attempt, code, duration
--   request_body   debug only: body, the JSON sent (before the first attempt)
--   response_body  debug only: status, body, the whole answer received
--   response_event debug only: data (and type) of each server-sent event
-- Every string in an event went through the client's redaction first: a
-- server that echoes the key sees it replaced by its hint, as in errors.

local io, ipairs, pairs, pcall, tostring, type = io, ipairs, pairs, pcall, tostring, type
local format, gsub, byte = string.format, string.gsub, string.byte
local concat, sort = table.concat, table.sort

local M = {}

M.LEVELS = { info = true, debug = true }

-- The fields after the event name, in this order; any other field follows,
-- sorted by name.
local ORDER = { "status", "duration", "attempts", "attempt", "request_id", "code", "reason",
                "delay", "error", "type", "body", "data" }
local KNOWN = { event = true, method = true, path = true }
for _, k in ipairs(ORDER) do KNOWN[k] = true end

local function escape(c)
  if c == '"' then return '\\"' elseif c == "\\" then return "\\\\"
  elseif c == "\n" then return "\\n" elseif c == "\r" then return "\\r"
  elseif c == "\t" then return "\\t" end
  return format("\\x%02x", byte(c))
end

-- A value as logfmt writes it: bare when it has no blank, quote or
-- control byte; quoted and escaped otherwise (one event, one line).
local function value(v)
  if type(v) == "number" then
    if v % 1 == 0 and v > -1e15 and v < 1e15 then return format("%d", v) end
    return format("%.3f", v)
  end
  local s = tostring(v)
  if s ~= "" and not s:find('[%s"\\%c=]') then return s end
  return '"' .. gsub(s, '[%c"\\]', escape) .. '"'
end

-- log.line(event) -> "request POST /chat/completions status=200 ..."
function M.line(ev)
  local out = { tostring(ev.event) }
  if ev.method then out[#out + 1] = tostring(ev.method) end
  if ev.path then out[#out + 1] = value(ev.path) end
  for _, k in ipairs(ORDER) do
    local v = ev[k]
    if v ~= nil then out[#out + 1] = k .. "=" .. value(v) end
  end
  local rest = {}
  for k in pairs(ev) do
    if not KNOWN[k] and type(k) == "string" then rest[#rest + 1] = k end
  end
  sort(rest)
  for _, k in ipairs(rest) do out[#out + 1] = k .. "=" .. value(ev[k]) end
  return concat(out, " ")
end

-- Writes one event as a line on stderr.
function M.stderr(ev)
  io.stderr:write("chatgpt: ", M.line(ev), "\n")
end

-- The short reason of a failure, for retry and request events.
function M.reason(err)
  local kind, status, code = err.kind, err.status, err.code or err.type
  if (kind == "http" or kind == "api") and status then
    return code and (tostring(status) .. " " .. tostring(code)) or tostring(status)
  end
  return code and (tostring(kind) .. " " .. tostring(code)) or tostring(kind)
end

-- log.setup(fn, level, env_level) -> emit, bodies | nil: the client's
-- logger. fn: the `log` option (nil: CHATGPT_LOG's stderr lines, when
-- env_level is "info" or "debug"); level: "info" (default) or "debug".
-- emit(ev, clean) redacts every string of ev with clean, then calls fn
-- under pcall: a failing log function is reported on stderr, never raised
-- into a request.
function M.setup(fn, level, env_level)
  if fn == nil then
    if not M.LEVELS[env_level] then return nil end
    fn, level = M.stderr, env_level
  end
  local function emit(ev, clean)
    if clean then
      for k, v in pairs(ev) do
        if type(v) == "string" then ev[k] = clean(v) end
      end
    end
    local ok, err = pcall(fn, ev)
    if not ok then io.stderr:write("chatgpt: the log function failed: ", tostring(err), "\n") end
  end
  return emit, level == "debug"
end

return M

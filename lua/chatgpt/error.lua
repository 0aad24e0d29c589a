-- chatgpt.error: the error objects every wire failure returns as `nil, err`,
-- and their making from what went wrong (the transport, an HTTP answer, an
-- API error body). Whether to try again is chatgpt.retry's business.
--
-- An error is a plain table with a metatable (error.Error) that only adds
-- __tostring, so users can read, copy and compare its fields freely.

local type, pairs, tostring, tonumber, pcall = type, pairs, tostring, tonumber, pcall
local huge = math.huge
local debug_traceback = debug.traceback
local setmetatable, getmetatable, require = setmetatable, getmetatable, require
local decode = require("chatgpt.core").decode  -- value | nil, msg; JSON nulls dropped
local format, sub, gsub, find, match, lower, char =
  string.format, string.sub, string.gsub, string.find, string.match, string.lower,
  string.char
local concat = table.concat
local tointeger = require("chatgpt.compat").tointeger   -- an integral double on 5.1/LuaJIT

local retry = require "chatgpt.retry"
local argerror = require("chatgpt.args").error
local header = retry.header

local M = {}

local KINDS = {
  network = true, timeout = true, http = true, api = true, parse = true,
  cancelled = true, callback = true, limit = true, refusal = true, auth = true,
}

local Error = { __name = "chatgpt.error" }
M.Error = Error

local EXCERPT_MAX = 200 -- bytes of a non-JSON body kept in a message
local SCAN_MAX = 65536  -- bytes of a non-JSON body read for that excerpt
local LINE_MAX = 1000   -- bytes of a message kept by tostring

local REASONS = {
  [400] = "Bad Request", [401] = "Unauthorized", [402] = "Payment Required",
  [403] = "Forbidden", [404] = "Not Found", [405] = "Method Not Allowed",
  [406] = "Not Acceptable", [408] = "Request Timeout", [409] = "Conflict",
  [410] = "Gone", [411] = "Length Required", [413] = "Payload Too Large",
  [414] = "URI Too Long", [415] = "Unsupported Media Type",
  [422] = "Unprocessable Entity", [423] = "Locked", [424] = "Failed Dependency",
  [425] = "Too Early", [429] = "Too Many Requests",
  [431] = "Request Header Fields Too Large",
  [451] = "Unavailable For Legal Reasons", [500] = "Internal Server Error",
  [501] = "Not Implemented", [502] = "Bad Gateway", [503] = "Service Unavailable",
  [504] = "Gateway Timeout", [505] = "HTTP Version Not Supported",
  [507] = "Insufficient Storage", [508] = "Loop Detected",
  [511] = "Network Authentication Required",
  -- Cloudflare's, seen in front of api.openai.com and many proxies
  [520] = "Web Server Returned an Unknown Error", [521] = "Web Server Is Down",
  [522] = "Connection Timed Out", [523] = "Origin Is Unreachable",
  [524] = "A Timeout Occurred", [525] = "SSL Handshake Failed",
  [529] = "Site Is Overloaded",
}

local function first_line(s)
  local line = match(s, "^[^\r\n]*")
  if #line > LINE_MAX then line = sub(line, 1, LINE_MAX) .. "..." end
  return line
end

-- 400.0 from a float-decoding JSON library reads as 400
local function show(v)
  if type(v) == "number" and tointeger then v = tointeger(v) or v end
  return tostring(v)
end

function Error.__tostring(e)
  local kind = e.kind
  local code, msg = e.code, e.message
  local head
  if code ~= nil then code = show(code) end
  if msg ~= nil then msg = first_line(tostring(msg)) end
  if msg == "" then msg = nil end
  if kind == "http" or kind == "api" then
    local status = e.status
    local label = code or (e.type ~= nil and show(e.type) or nil)
    if status ~= nil then
      status = show(status)
      if label == nil and msg and find(msg, status, 1, true) == 1 then
        -- the message already opens with "502 Bad Gateway": it is the head
        head, msg = msg, nil
      else
        head = label and (status .. " " .. label) or status
      end
    else
      head = label or kind
    end
  else
    head = tostring(kind)
    if code and code ~= "" then head = head .. " " .. code end
    if msg == code then msg = nil end -- a transport error with no text
  end
  local s = "chatgpt: " .. head
  if msg then s = s .. ": " .. msg end
  if e.request_id then s = s .. " (request " .. tostring(e.request_id) .. ")" end
  local n = e.attempts
  if type(n) == "number" and n > 1 then s = s .. " after " .. show(n) .. " attempts" end
  -- the server's own word on when to come back, which its message may
  -- not say (or say in other units)
  local after = e.retry_after
  if type(after) == "number" and after >= 0 and after < huge then
    s = s .. "; retry after " .. format(after < 10 and "%.3g" or "%.0f", after) .. " s"
  end
  -- one line, whatever a server put in a code, a type or a request id
  return (gsub(s, "[\r\n]", " "))
end

-- Raises in luaL_argerror's wording, for the caller of fname, unless v has
-- type `want` (or is nil, when nil_ok).
local function expect(v, want, n, fname, nil_ok)
  if type(v) ~= want and not (nil_ok and v == nil) then
    argerror(3, n, fname, want .. " expected, got " .. type(v))
  end
end

--- error.new(t) -> err: gives t the error metatable; t.kind is required.
function M.new(t)
  expect(t, "table", 1, "new")
  if not KINDS[t.kind] then
    argerror(2, 1, "new", "unknown error kind "
      .. (t.kind == nil and "(missing)" or format("%q", tostring(t.kind))))
  end
  return setmetatable(t, Error)
end

--- error.traceback(e) -> string: the message handler for xpcall around
-- user code. Any error value becomes text, even a table whose __tostring
-- raises, so that a callback's failure is always an err{kind = "callback"}.
function M.traceback(e)
  return debug_traceback(M.text(e), 2)
end

--- error.text(e) -> any error value as text, never raising (a table's
-- __tostring may).
function M.text(e)
  if type(e) == "string" then return e end
  local ok, s = pcall(tostring, e)
  return ok and type(s) == "string" and s or "(error object is a " .. type(e) .. " value)"
end

--- error.is(x) -> bool
function M.is(x)
  return type(x) == "table" and getmetatable(x) == Error
end

-- Builders -----------------------------------------------------------------

--- error.from_transport(t) -> err: t from the C core ({kind, code,
-- message, received, retryable, status}); the table itself becomes the
-- error. Whether a retry helps is curl_errors.h's verdict, kept as is.
function M.from_transport(t)
  expect(t, "table", 1, "from_transport")
  if t.kind == nil then t.kind = "network" end
  if t.message == nil then t.message = t.code end
  M.new(t)
  if t.retryable == nil then t.retryable = retry.retryable(t) end
  return t
end

local function str(v)
  if type(v) == "string" and v ~= "" then return v end
  if type(v) == "number" then return v end -- some servers send numeric codes
  return nil
end

-- Readable text from a non-JSON body: tags stripped, entities decoded,
-- whitespace collapsed, passed through clean, cut to EXCERPT_MAX bytes (at
-- a UTF-8 character boundary).
local ENTITIES = { amp = "&", lt = "<", gt = ">", quot = '"', apos = "'", nbsp = " " }

local function named_entity(name) return ENTITIES[lower(name)] end

-- &#115; or &#x73;, printable ASCII only: enough to read a key written as
-- entities (a long hex run would wrap around in tonumber)
local function numeric_entity(x, n)
  n = match(n, "^0*(.*)$")
  n = #n <= 7 and tonumber(n, x == "" and 10 or 16)
  if n and n >= 32 and n < 127 then return char(n) end
end

-- Replaces each section from `open` to the first `close` after it (Lua
-- patterns) with a blank, in one pass: `open.-close` in gsub would rescan
-- to the end from every unclosed opening, which is quadratic.
local function drop(s, open, close)
  local out, n, pos = {}, 0, 1
  while true do
    local a, b = find(s, open, pos)
    if not a then break end
    local _, e = find(s, close, b + 1)
    if not e then break end -- no later opening can close either
    n = n + 1
    out[n] = sub(s, pos, a - 1)
    n = n + 1
    out[n] = " "
    pos = e + 1
  end
  if n == 0 then return s end
  out[n + 1] = sub(s, pos)
  return concat(out)
end

local function excerpt(body, keep_head, clean)
  local s = body
  if #s > SCAN_MAX then
    -- end the window at a blank or a tag's edge: a key, even as entities,
    -- has neither, so this cut cannot leave the head of one
    s = sub(s, 1, SCAN_MAX)
    s = sub(s, 1, (match(s, "^.*()[%s<>]") or 1) - 1)
  end
  if find(s, "<", 1, true) then
    if not keep_head then
      -- the <title> mostly repeats the page's heading
      s = drop(s, "<[Hh][Ee][Aa][Dd][%s>]", "</[Hh][Ee][Aa][Dd]%s*>")
    end
    s = drop(s, "<!%-%-", "%-%->")
    s = drop(s, "<[Ss][Cc][Rr][Ii][Pp][Tt]", "</[Ss][Cc][Rr][Ii][Pp][Tt]%s*>")
    s = drop(s, "<[Ss][Tt][Yy][Ll][Ee]", "</[Ss][Tt][Yy][Ll][Ee]%s*>")
    -- tags; a "<" after the last ">" is text (and would cost a rescan)
    local last = find(s, ">[^>]*$")
    if last then s = gsub(sub(s, 1, last), "<[^>]*>", " ") .. sub(s, last + 1) end
    s = gsub(s, "&(%a+);", named_entity)
    s = gsub(s, "&#([Xx]?)(%x+);", numeric_entity)
  end
  s = gsub(s, "[%s%c]+", " ")
  s = match(s, "^ ?(.-) ?$")
  -- before the cut, so that no cut splits a key
  if clean then s = clean(s) end
  if #s > EXCERPT_MAX then
    local cut = EXCERPT_MAX
    -- do not split a UTF-8 sequence: back up over continuation bytes
    while cut > 0 and find(s, "^[\128-\191]", cut + 1) do cut = cut - 1 end
    s = sub(s, 1, cut) .. "..."
  end
  return s
end

local function status_line(status)
  local reason = REASONS[status]
  if status == nil then return "HTTP error" end
  return reason and (status .. " " .. reason) or ("HTTP " .. tostring(status))
end

-- A message: a non-empty string, or NestJS's list of validation messages.
local function message_of(v)
  if type(v) == "string" then return v ~= "" and v or nil end
  if type(v) ~= "table" then return nil end
  local parts = {}
  for i = 1, #v do
    if type(v[i]) ~= "string" then return nil end
    parts[i] = v[i]
  end
  return #parts > 0 and concat(parts, "; ") or nil
end

-- Finds the error object in a decoded body, leniently: {"error": {...}},
-- {"error": "text"}, a top-level {"message": ...}, FastAPI/vLLM's
-- {"detail": ...}, or a one-element list of those (Gemini's compat layer).
-- Returns the inner table, or nil when the body is not an error body.
local function error_object(obj)
  if type(obj) ~= "table" then return nil end
  if obj[1] ~= nil and type(obj[1]) == "table" and obj.error == nil then obj = obj[1] end
  local e = obj.error
  if type(e) == "table" then
    if type(e.error) == "table" then return e.error end
    return e
  end
  if type(e) == "string" then
    -- Express/NestJS: {"statusCode": 404, "message": "Cannot POST /x",
    -- "error": "Not Found"}, where "error" is the status's reason phrase: the
    -- message wins and the phrase becomes the type, the label tostring shows
    -- after the status. statusCode repeats the status, so it is no code.
    local m = message_of(obj.message)
    if m then return { message = m, type = obj.type or e, code = obj.code, param = obj.param } end
    -- Ollama, llama.cpp: {"error": "text"}
    return { message = e, type = obj.type, code = obj.code, param = obj.param }
  end
  if type(obj.message) == "string" then return obj end
  local d = obj.detail
  if type(d) == "string" then return { message = d } end
  if type(d) == "table" then
    if type(d.message) == "string" then return d end
    -- FastAPI validation errors: a list of {loc, msg, type}
    local msgs, first_type = {}, nil
    for i = 1, #d do
      local item = d[i]
      if type(item) == "table" and type(item.msg) == "string" then
        if #msgs == 0 then first_type = item.type end
        local loc = item.loc
        if type(loc) == "table" then
          local parts = {}
          for j = 1, #loc do parts[j] = tostring(loc[j]) end
          msgs[#msgs + 1] = concat(parts, ".") .. ": " .. item.msg
        else
          msgs[#msgs + 1] = item.msg
        end
      end
    end
    if #msgs > 0 then return { message = concat(msgs, "; "), type = first_type } end
  end
  return nil
end

-- v through clean when it is a string (numbers stay numbers)
local function wipe(v, clean)
  if clean and type(v) == "string" then return clean(v) end
  return v
end

local function api_error(inner, status, clean)
  local t = inner.type
  if type(t) ~= "string" and type(inner.status) == "string" then
    t = inner.status -- Google style: {"code": 400, "status": "INVALID_ARGUMENT"}
  end
  local err = {
    kind = "api",
    status = tonumber(status),
    code = wipe(str(inner.code), clean),
    type = wipe(str(t), clean),
    param = wipe(str(inner.param), clean),
    message = wipe(str(inner.message), clean),
  }
  if type(err.message) ~= "string" then
    err.message = err.status and status_line(err.status) or "API error"
  end
  return err
end

local function finish(err, headers, clean)
  err.request_id = wipe(header(headers, "x-request-id"), clean)
  err.retry_after = retry.retry_after(headers)
  err._should_retry = retry.should_retry(headers)
  M.new(err)
  err.retryable = retry.retryable(err)
  return err
end

--- error.from_http(status, headers, body [, clean]) -> err for a non-2xx
-- answer. A JSON error body gives kind "api" with its fields; anything else
-- kind "http" with the status line and a short excerpt of the body.
-- clean (string -> string, e.g. one that redacts the API key) is applied to
-- every string taken from the wire, before any of it is cut.
function M.from_http(status, headers, body, clean)
  expect(clean, "function", 4, "from_http", true)
  status = tonumber(status)
  if type(body) ~= "string" then body = "" end
  local inner
  if match(body, "^%s*[%[{]") then inner = error_object(decode(body)) end
  local err
  if inner then
    err = api_error(inner, status, clean)
  else
    local line = status_line(status)
    local text = excerpt(body, false, clean)
    if text == "" then text = excerpt(body, true, clean) end
    local msg
    if text == "" then
      msg = line .. " (empty body)"
    elseif find(text, line, 1, true) == 1 then
      msg = text -- HTML error pages usually open with the status line
    else
      msg = line .. ": " .. text
    end
    err = { kind = "http", status = status, message = msg }
  end
  return finish(err, headers, clean)
end

--- error.from_api(obj [, status [, headers [, clean]]]) -> err from a
-- decoded error object ({error = {...}} or the inner {message, type, code,
-- param}), as in SSE `error` events and 200 bodies that carry an "error".
-- clean as in from_http.
function M.from_api(obj, status, headers, clean)
  expect(clean, "function", 4, "from_api", true)
  local inner = error_object(obj)
  if not inner then
    inner = type(obj) == "table" and obj or { message = obj ~= nil and tostring(obj) or nil }
  end
  return finish(api_error(inner, status, clean), headers, clean)
end

--- error.scrub(err, clean) -> err: every string field at the top level of
-- err passed through clean, in place; other values are left alone. For an
-- error built without clean, or text added later (partial).
function M.scrub(err, clean)
  expect(err, "table", 1, "scrub")
  expect(clean, "function", 2, "scrub")
  for k, v in pairs(err) do -- assigning a present field is safe in pairs
    if type(v) == "string" then err[k] = clean(v) end
  end
  return err
end

return M

-- chatgpt.endpoints: client:request, one call for every endpoint of the
-- API, and the thin helpers made on it (moderations, images, audio, files,
-- stored responses). Each has an _async form; every call is a Request
-- (request.lua), so retries, timeouts, limits, errors and info are chat's.
--
--   local body, info = client:request("GET", "/files", nil, { query = { purpose = "batch" } })
--
-- Results: request and the helpers that hand back an object of the API
-- (upload, delete_file, response, cancel_response, delete_response, speech)
-- give `value, info`; those that take something out of the answer
-- (moderate, image, transcribe, files) give `value, response, info`, as
-- chat does.

local core    = require "chatgpt.core"
local args    = require "chatgpt.args"
local client  = require "chatgpt.client"
local errors  = require "chatgpt.lazy" "chatgpt.error"
local form    = require "chatgpt.form"
local pending = require "chatgpt.pending"
local responses = require "chatgpt.responses"

local error, io, ipairs, os, pairs, pcall, setmetatable, string, table, tostring, type =
      error, io, ipairs, os, pairs, pcall, setmetatable, string, table, tostring, type
local encode, unbase64 = core.encode, core.unbase64
local argerror, urlencode = args.error, client.urlencode
local header_check = require("chatgpt.call").header_check

local M = {}

local RETRIES = { "number", min = 0, max = 100, integer = true }
local SECONDS = { "number", above = 0 }
local IDLE = { "number", min = 0 }

-- Params that are ours in every helper; the rest go to the API.
local OWN = { max_retries = RETRIES, timeout = SECONDS, idle_timeout = IDLE, first_byte_timeout = IDLE }

local function own_with(more)
  local t = {}
  for k, v in pairs(OWN) do t[k] = v end
  for k, v in pairs(more) do t[k] = v end
  return t
end

-- client:request's params: all ours (API fields go in the body).
local REQUEST_PARAMS = own_with { on_data = "function", on_event = "function", query = "table",
                                  headers = "table" }

-- ---- accumulators for what is not chat or Responses --------------------------

-- Server-sent events of any endpoint: each decoded event to on_event (and
-- its `delta` to on_delta when its type is delta_type); the result is the
-- list of events. The stream's end is the end of the body (curl tells a
-- cut one: its chunked framing is incomplete).
local Events = {}
Events.__index = Events

local function events(on_event, on_delta, delta_type)
  return setmetatable({ list = {}, on_event = on_event, on_delta = on_delta,
                        delta_type = delta_type }, Events)
end

function Events:add(ev)
  self.list[#self.list + 1] = ev
  if self.stopped then return false end
  local h = self.on_event
  if h and h(ev) == false then self.stopped = true end
  h = self.on_delta
  if h and not self.stopped and ev.type == self.delta_type and type(ev.delta) == "string" then
    if h(ev.delta, ev) == false then self.stopped = true end
  end
  return not self.stopped
end
function Events.complete() return true end
function Events.text() return nil end
function Events.whole() return true end
function Events:finish() return self.list end

-- The pieces of a binary answer, to on_data as they come; the result is
-- their total size.
local Bytes = { raw = true }
Bytes.__index = Bytes

local function bytes(on_data)
  return setmetatable({ on_data = on_data, size = 0 }, Bytes)
end

function Bytes:add(piece)
  self.size = self.size + #piece
  if self.on_data(piece) == false then return false end
  return true
end
function Bytes.complete() return true end
function Bytes.text() return nil end
function Bytes.whole() return true end
function Bytes:finish() return self.size end

-- ---- a request that failed before it started (a file that cannot be read) ----

local Failed = { kind = "request" }
Failed.__index = Failed
function Failed.cancel() end
pending.into(Failed)

local function failed(err)
  return setmetatable({ status = "failed", _err = err }, Failed)
end

-- ---- the one call ------------------------------------------------------------

-- Prepared endpoints per client and shape of call; a path holds ids, so
-- the table is bounded: when full it starts again, and when the client's
-- key changed (a new origin holds it: auth.lua).
local MAX_SPECS = 64
local specs = setmetatable({}, { __mode = "k" })

local function endpoint(self, t, key)
  local cache = specs[self]
  if not cache or cache.n >= MAX_SPECS or cache.origin ~= self._origin then
    cache = { n = 0, origin = self._origin }
    specs[self] = cache
  end
  local spec = cache[key]
  if not spec then
    spec = client.endpoint(self, t)
    cache[key] = spec
    cache.n = cache.n + 1
  end
  return spec
end

-- A call's query: arrays as name[]=v, tables as name[key]=v (form.flatten:
-- the API's style, e.g. include[] and metadata[k]); chatgpt.null left out.
local function query_string(q)
  if q == nil then return "" end
  local keys = {}
  for k in pairs(q) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    for _, leaf in ipairs(form.flatten(k, q[k])) do
      if type(leaf[2]) ~= "userdata" then
        out[#out + 1] = urlencode(leaf[1]) .. "=" .. urlencode(leaf[2])
      end
    end
  end
  return table.concat(out, "&")
end

-- A path relative to base_url: printable, no white space, no fragment.
-- (Where it leads is checked again in C, on the URL curl will use: no
-- path can leave the client's origin.)
local function check_path(level, fname, path)
  if type(path) ~= "string" then
    argerror(level + 1, 2, fname, "path: string expected, got " .. type(path))
  end
  if path == "" or path:find("[%c%s#\127-\255]") then
    argerror(level + 1, 2, fname, "path: a non-empty URL path without white space, "
             .. "control characters or '#' expected, got " .. string.format("%q", path))
  end
  if path:sub(1, 1) ~= "/" then path = "/" .. path end
  return path:match("^([^?]*)%??(.*)$")
end

local METHODS = { GET = true, POST = true, DELETE = true }

local function identity(response) return response end

-- The one way every call of this module starts. t = {method, path, query
-- (table), body (nil | table: JSON | string | form), own, finish, accept,
-- stream ("bytes" | "events" | nil), on_event, on_delta, delta_type, pair,
-- done}.
local function call(self, t, level, fname)
  local method = t.method
  local path, pquery = check_path(level + 1, fname, t.path)
  local q = query_string(t.query)
  if pquery ~= "" then q = q == "" and pquery or pquery .. "&" .. q end
  local body, ctype, shape = t.body, nil, "-"
  if method ~= "POST" then
    if body ~= nil then argerror(level + 1, 3, fname, "a " .. method .. " request has no body") end
  elseif form.is_form(body) then
    local file, why = form.unreadable(body)
    if file then
      return failed(errors.new { kind = "network", code = "READ_ERROR", retryable = false,
                                 attempts = 0, message = "cannot read " .. why })
    end
    body, shape = form.parts(body), "form"
  else
    ctype, shape = "application/json", "json"
    if body == nil then
      body = ""
    elseif type(body) == "table" then
      local text, why = encode(body, client.ARRAY_KEYS)
      if not text then argerror(level + 1, 3, fname, why) end
      body = text
    elseif type(body) ~= "string" then
      argerror(level + 1, 3, fname, "body: a table, a string or chatgpt.form expected, got " .. type(body))
    end
  end
  local mode = t.stream
  local accept = t.accept or (mode == "events" and "text/event-stream")
                 or (mode == "bytes" and "*/*") or "application/json"
  local stream = mode == "events" or (mode == "bytes" and "bytes") or nil
  local own = t.own
  -- a call's headers are merged over the client's (call.endpoint); each
  -- set of them is an endpoint of its own
  local headers, key = own and own.headers, ""
  if headers then
    local lines = {}
    for name, value in pairs(headers) do lines[#lines + 1] = name .. ": " .. tostring(value) end
    table.sort(lines)
    key = " " .. table.concat(lines, "\n")
  end
  local shaped = { method = method, path = path, query = q, accept = accept, content_type = ctype,
                   stream = stream, own = headers and { headers = headers } or nil }
  local id = method .. " " .. path .. "?" .. q .. " " .. accept .. " " .. shape .. " "
             .. tostring(stream) .. key
  local spec = endpoint(self, shaped, id)
  local acc
  if mode == "events" then
    acc = function() return events(t.on_event, t.on_delta, t.delta_type) end
  elseif mode == "bytes" then
    acc = function() return bytes(t.on_data) end
  end
  return client.start(self, spec, body, own, {
    finish = t.finish or identity, stream = acc, bytes = true, keep_error_field = true,
    pair = t.pair, done = t.done, method = method, path = path,
    respec = self._auth and function() return endpoint(self, shaped, id) end,
  })
end

-- Whether a JSON body or a form asks for a stream (stream = true).
local function streamed(body)
  if form.is_form(body) then return form.field(body, "stream") == "true" end
  return type(body) == "table" and body.stream == true
end

-- client:request_async(method, path, body, params) -> request
local function request_async(self, method, path, body, params, level)
  if type(method) ~= "string" or not METHODS[method:upper()] then
    argerror(level + 1, 1, "request", "method: \"GET\", \"POST\" or \"DELETE\" expected, got "
             .. (type(method) == "string" and string.format("%q", method) or type(method)))
  end
  local p = args.options(level + 1, 4, "request", params, REQUEST_PARAMS, "param")
  for name, value in pairs(p.headers or {}) do          -- false removes one of the client's
    local _, why = header_check(name, value == false and "" or value)
    if why then argerror(level + 1, 4, "request", "param 'headers': " .. why) end
  end
  local mode
  if p.on_data then mode = "bytes"
  elseif p.on_event or streamed(body) then mode = "events" end
  local req = call(self, { method = method:upper(), path = path, query = p.query, body = body, own = p,
                      stream = mode, on_event = p.on_event, on_data = p.on_data, pair = true },
              level + 1, "request")
  return req
end

-- Each helper as name_async and name (= name_async(...):wait()).
-- (No tail calls where a level is passed on: Lua 5.1 counts their frames,
-- 5.2 and later do not.)
local function both(name, async)
  M[name .. "_async"] = function(self, ...)
    local req = async(self, 2, ...)
    return req
  end
  M[name] = function(self, ...) return async(self, 2, ...):wait() end
end

both("request", function(self, level, method, path, body, params)
  local req = request_async(self, method, path, body, params, level + 1)
  return req       -- not a tail call: `level` counts this frame
end)

-- ---- helpers ----------------------------------------------------------------------

local function parse_error(code, message, response)
  return errors.new { kind = "parse", code = code, message = message, response = response }
end

local function split(params, level, fname, n, rules)
  return client.split(params, level + 1, fname, n, rules or OWN)
end

local function check_id(level, fname, id)
  if type(id) ~= "string" or not id:find("^[%w_%-%.]+$") or id:find("^%.+$") then
    argerror(level + 1, 1, fname, "an id of letters, digits, '_', '-' or '.' expected, got "
             .. (type(id) == "string" and string.format("%q", id) or type(id)))
  end
  return id
end

-- client:moderate(input, params) -> results, response, info
both("moderate", function(self, level, input, params)
  if type(input) ~= "string" and type(input) ~= "table" then
    argerror(level + 1, 1, "moderate", "string or list expected, got " .. type(input))
  end
  local body, own = split(params, level + 1, "moderate")
  body.input = input
  local req = call(self, { method = "POST", path = "/moderations", body = body, own = own,
    finish = function(response)
      if type(response) ~= "table" or type(response.results) ~= "table" then
        return nil, parse_error("NO_RESULTS", "the response has no results list", response)
      end
      return response.results, response
    end }, level + 1, "moderate")
  return req
end)

-- client:image(prompt, params) -> image, response, info: the first image's
-- bytes (b64_json, decoded: each data[i] gets .bytes) or its url.
both("image", function(self, level, prompt, params)
  if type(prompt) ~= "string" then
    argerror(level + 1, 1, "image", "string expected, got " .. type(prompt))
  end
  local body, own = split(params, level + 1, "image")
  body.prompt = prompt
  local req = call(self, { method = "POST", path = "/images/generations", body = body, own = own,
    finish = function(response)
      local data = type(response) == "table" and response.data
      if type(data) ~= "table" or type(data[1]) ~= "table" then
        return nil, parse_error("NO_DATA", "the response has no images", response)
      end
      for i, img in ipairs(data) do
        if type(img) == "table" and type(img.b64_json) == "string" then
          local b, why = unbase64(img.b64_json)
          if not b then return nil, parse_error("BAD_BASE64", "image " .. i .. ": " .. why, response) end
          img.bytes = b
        end
      end
      local first = data[1].bytes or data[1].url
      if type(first) ~= "string" then
        return nil, parse_error("NO_IMAGE", "the first image has neither b64_json nor url", response)
      end
      return first, response
    end }, level + 1, "image")
  return req
end)

local function file_arg(level, fname, n, f)
  if type(f) == "string" then return form.file(f) end
  if not form.is_file(f) then
    argerror(level + 1, n, fname, "a path or chatgpt.file expected, got " .. type(f))
  end
  return f
end

-- client:transcribe(path_or_file, params) -> text, response, info
-- (on_delta(text, event) streams it: stream = true is sent)
both("transcribe", function(self, level, file, params)
  file = file_arg(level + 1, "transcribe", 1, file)
  local fields, own = split(params, level + 1, "transcribe", 2, own_with { on_delta = "function" })
  fields.file = file
  if fields.model == nil then fields.model = "whisper-1" end
  if own.on_delta then fields.stream = true end
  local body = form.build(fields, level + 1, "transcribe", 2)
  local req = call(self, { method = "POST", path = "/audio/transcriptions", body = body, own = own,
    stream = streamed(body) and "events" or nil, on_delta = own.on_delta,
    delta_type = "transcript.text.delta",
    finish = function(response)
      if type(response) == "string" then return response, response end   -- text, srt, vtt
      if type(response) ~= "table" then
        return nil, parse_error("NO_TEXT", "the response has no text", response)
      end
      if response.text == nil and response[1] ~= nil then        -- the events of a stream
        local done, pieces = nil, {}
        for _, ev in ipairs(response) do
          if ev.type == "transcript.text.done" then done = ev end
          if ev.type == "transcript.text.delta" and type(ev.delta) == "string" then
            pieces[#pieces + 1] = ev.delta
          end
        end
        response = done or { type = "transcript.text.done", text = table.concat(pieces) }
      end
      if type(response.text) ~= "string" then
        return nil, parse_error("NO_TEXT", "the response has no text", response)
      end
      return response.text, response
    end }, level + 1, "transcribe")
  return req
end)

-- A file written as the pieces come: to path .. ".part", renamed over path
-- when the call succeeds, removed when it fails. A file that cannot be
-- opened or written ends the call as err{kind = "callback"} saying why;
-- one that cannot be renamed, with finish's err.
local function to_file(path)
  local tmp, f = path .. ".part", nil
  local function open()
    local e
    f, e = io.open(tmp, "wb")
    if not f then error("cannot write the audio: " .. tostring(e), 0) end
  end
  local function on_data(piece)
    if not f then open() end
    local ok, e = f:write(piece)
    if not ok then error("cannot write the audio to " .. tmp .. ": " .. tostring(e), 0) end
  end
  local renamed
  local function done(err)
    if not err and not f then pcall(open) end     -- an empty answer: an empty file
    if f then f:close() end
    if err or not f then
      os.remove(tmp)
      return
    end
    local ok, rerr = os.rename(tmp, path)
    if ok then renamed = true else
      renamed = rerr
      os.remove(tmp)
    end
  end
  -- finish: runs before done, so it renames itself (done then finds it
  -- closed) and turns a failed rename into the call's err
  local function finish(n)
    done(nil)
    f = nil
    if renamed ~= true then
      return nil, errors.new { kind = "network", code = "WRITE_ERROR",
                               message = "cannot move the audio to " .. path .. ": " .. tostring(renamed) }
    end
    return n
  end
  return on_data, function(err) if err and f then done(err) end end, finish
end

-- client:speech(text, params) -> audio, info (the bytes), or with on_data
-- (each piece as it comes) or to_file = path: the number of bytes, info.
both("speech", function(self, level, text, params)
  if type(text) ~= "string" then
    argerror(level + 1, 1, "speech", "string expected, got " .. type(text))
  end
  local body, own = split(params, level + 1, "speech", 2,
                          own_with { on_data = "function", to_file = "string" })
  body.input = text
  if body.model == nil then body.model = "gpt-4o-mini-tts" end
  if body.voice == nil then body.voice = "alloy" end
  local on_data, done, finish = own.on_data, nil, nil
  if own.to_file then
    if on_data then argerror(level + 1, 2, "speech", "give on_data or to_file, not both") end
    on_data, done, finish = to_file(own.to_file)
  end
  local req = call(self, { method = "POST", path = "/audio/speech", body = body, own = own,
    accept = "*/*", stream = on_data and "bytes" or nil, on_data = on_data, pair = true,
    done = done, finish = finish }, level + 1, "speech")
  return req
end)

-- Params of a GET helper: ours, and the rest as the query.
local function get_params(params, level, fname, n)
  local query, own = split(params, level + 1, fname, n)
  return own, query
end

-- client:files(params) -> list, response, info (params: query, e.g. purpose)
both("files", function(self, level, params)
  local own, query = get_params(params, level + 1, "files", 1)
  local req = call(self, { method = "GET", path = "/files", query = query, own = own,
    finish = function(response)
      if type(response) ~= "table" or type(response.data) ~= "table" then
        return nil, parse_error("NO_DATA", "the response has no data list", response)
      end
      return response.data, response
    end }, level + 1, "files")
  return req
end)

-- client:upload(path_or_file, purpose, params) -> file object, info
both("upload", function(self, level, file, purpose, params)
  file = file_arg(level + 1, "upload", 1, file)
  if type(purpose) ~= "string" then
    argerror(level + 1, 2, "upload", "purpose: string expected, got " .. type(purpose))
  end
  local fields, own = split(params, level + 1, "upload", 3)
  fields.file, fields.purpose = file, purpose
  local body = form.build(fields, level + 1, "upload", 3)
  local req = call(self, { method = "POST", path = "/files", body = body, own = own,
                      pair = true }, level + 1, "upload")
  return req
end)

-- The calls on one stored object, by its id: name -> method, path (%s: the
-- id), and whether the call's params go out as the query.
--   client:delete_file(id) -> {id, object, deleted}, info
--   client:response(id, params) -> response, info (a stored response;
--     params: query, e.g. include)
--   client:cancel_response(id) -> response, info (background responses)
--   client:delete_response(id) -> {id, object, deleted}, info
local BY_ID = {
  delete_file = { "DELETE", "/files/%s" },
  response = { "GET", "/responses/%s", query = true },
  cancel_response = { "POST", "/responses/%s/cancel" },
  delete_response = { "DELETE", "/responses/%s" },
}
for name, how in pairs(BY_ID) do
  both(name, function(self, level, id, params)
    check_id(level + 1, name, id)
    local own, query = get_params(params, level + 1, name, 2)
    local req = call(self, { method = how[1], path = how[2]:format(id), own = own, pair = true,
                             query = how.query and query or nil }, level + 1, name)
    return req
  end)
end

M.output_text = responses.output_text

return M

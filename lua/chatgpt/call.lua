-- How a client's call is made, for every endpoint module (client.lua's
-- chat family, responses.lua, endpoints.lua): params split into API fields
-- and our own options, the prepared endpoint chosen (the client's headers
-- and query, a call's merged over them), the body encoded, the request
-- started. And the facts they share: which fields are lists, which params
-- are ours.

local core    = require "chatgpt.core"
local args    = require "chatgpt.args"
local Request = require "chatgpt.request"

local io, ipairs, pairs, string, table, tostring, type =
      io, ipairs, pairs, string, table, tostring, type
local encode = core.encode
local argerror = args.error

local M = {}

-- Request fields whose value is a list: an empty table there goes out as []
-- (core.encode's array_keys; elsewhere an empty table is {}). This guess is
-- only for empty tables built by hand: a decoded [] or {} (an item sent
-- back), chatgpt.array and chatgpt.object carry their kind (json.h).
M.ARRAY_KEYS = {
  messages = true, tools = true, functions = true, stop = true, tool_calls = true,
  content = true, required = true, enum = true, anyOf = true, allOf = true, oneOf = true,
  prefixItems = true, input = true, prompt = true, modalities = true, annotations = true,
}
local ARRAY_KEYS = M.ARRAY_KEYS

-- Short on purpose: libcurl writes header lines a byte at a time, on every
-- request (bench/RESULTS.md has what a byte costs).
local USER_AGENT = core.defaults.user_agent

local SECONDS = { "number", above = 0 }    -- the engine caps what is longer than a lifetime
local RETRIES = { "number", min = 0, max = 100, integer = true }

-- Params that are ours, not request fields of the API.
local OWN = {
  on_delta = "function", on_chunk = "function", on_tool_call = "function",
  on_reasoning = "function", max_retries = RETRIES, timeout = SECONDS,
  idle_timeout = { "number", min = 0 }, first_byte_timeout = { "number", min = 0 },
  headers = "table", query = "table",
}
M.OWN = OWN

local TOKEN = "^[%w!#$%%&'*+%-.^_`|~]+$"        -- a header name (RFC 9110 token)

-- Headers that frame or route a message: libcurl writes them from the
-- request itself. One given by hand could smuggle a second body or request
-- past a proxy (Content-Length beside Transfer-Encoding), or send the
-- request to another virtual host (Host), so none is taken, from any place.
local FRAMING = {
  host = true, ["content-length"] = true, ["transfer-encoding"] = true, connection = true,
  expect = true, ["keep-alive"] = true, upgrade = true, te = true, trailer = true,
  ["proxy-connection"] = true, ["http2-settings"] = true,
}

-- The headers that carry a key: a call that gives one brings its own
-- credentials, and the client's key is not sent beside it (call.endpoint).
local CREDENTIALS = { authorization = true, ["api-key"] = true }
M.CREDENTIALS = CREDENTIALS

local function urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end
M.urlencode = urlencode

-- "Name: value", or nil and why: a name that is a token and not one of
-- the framing headers, a value without CR, LF or NUL (a number is written
-- as a string).
local function header_check(name, value)
  if type(name) ~= "string" or not name:find(TOKEN) then
    return nil, "bad header name " .. tostring(name)
  end
  if FRAMING[name:lower()] then
    return nil, name .. " is not a header to set: libcurl writes it from the request"
  end
  if type(value) == "number" then value = tostring(value) end
  if type(value) ~= "string" or value:find("[\r\n%z]") then
    return nil, "the value of " .. name .. " must be a string without CR, LF or NUL"
  end
  return name .. ": " .. value
end
M.header_check = header_check

-- Splits call params into the request body (every API field, untouched)
-- and our own options.
local NO_OWN = {}            -- the own params of a call that gave none (never written)
M.NO_OWN = NO_OWN

local function split(params, level, fname, n, rules)
  if params == nil then return {}, NO_OWN end
  if type(params) ~= "table" then
    argerror(level + 1, n or 2, fname, "params: table expected, got " .. type(params))
  end
  rules = rules or OWN
  local body, own = {}, {}
  for k, v in pairs(params) do
    local rule = rules[k]
    if rule then
      local p = args.problem(v, rule)
      if not p and k == "headers" then
        for name, value in pairs(v) do        -- false removes a header: its name is checked
          local _, why = header_check(name, value == false and "" or value)
          p = p or why
        end
      elseif not p and k == "query" then
        for name, value in pairs(v) do
          local tn, tv = type(name), type(value)
          if (tn ~= "string" and tn ~= "number") or (value ~= false and tv ~= "string" and tv ~= "number") then
            p = "names and values are strings or numbers (false removes one), got " .. tn .. " = " .. tv
          end
        end
      end
      if p then argerror(level + 1, n or 2, fname, "param '" .. k .. "': " .. p) end
      own[k] = v
    else
      body[k] = v
    end
  end
  -- on_delta(text, chunk): io.write, which the docs show, would choke on the chunk
  if own.on_delta == io.write then own.on_delta = function(text) io.write(text) end end
  return body, own
end
-- call.split(params, level, fname, n, rules) -> body, own: rules default to
-- chat's OWN; the other endpoint modules bring their own.
M.split = split

-- Endpoints whose answers are worth asking gzip for: long lists and
-- vectors. A chat answer is a few hundred bytes to a few KB; asking costs
-- more CPU than it saves on the wire. Any answer that comes compressed is
-- decoded all the same.
local COMPRESSED = { ["/models"] = true, ["/embeddings"] = true }

-- The C spec of one kind of call (endpoint, streamed or not), made once
-- per client: core.endpoint works out the URL, headers and options, and keeps
-- handles configured with them, so a call only brings its body.
local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

-- A call's headers merged over the lines of the client's (checked by
-- split): a call's header replaces one of the same name, any case; false
-- removes one.
local function merge_headers(headers, mine)
  local lower = {}
  for name, value in pairs(mine) do lower[name:lower()] = value end
  local kept = {}
  for _, line in ipairs(headers) do
    if lower[line:match("^[^:]+"):lower()] == nil then kept[#kept + 1] = line end
  end
  for _, name in ipairs(sorted_keys(mine)) do
    if mine[name] ~= false then kept[#kept + 1] = header_check(name, mine[name]) end
  end
  return kept
end

-- The client's query with a call's merged over it: "?a=1&b=2" or "".
local function merge_query(self, mine)
  local merged = {}
  for k, v in pairs(self._query_map) do merged[tostring(k)] = v end
  for k, v in pairs(mine) do merged[tostring(k)] = v end
  local q = {}
  for _, k in ipairs(sorted_keys(merged)) do
    if merged[k] ~= false then q[#q + 1] = urlencode(k) .. "=" .. urlencode(merged[k]) end
  end
  return #q > 0 and ("?" .. table.concat(q, "&")) or ""
end

-- call.endpoint(client, t) -> a prepared endpoint of this client (its
-- origin, key, headers, limits, proxy and certificate): t = {method, path,
-- query (more parameters, "a=1&b=2", after the client's own), accept,
-- content_type (nil: none; curl sets a multipart one), stream (true: SSE;
-- "bytes"), compressed, own (a call's params: its headers and query are
-- merged over the client's)}.
function M.endpoint(self, t)
  local headers = { "Accept: " .. t.accept }
  if t.content_type then headers[2] = "Content-Type: " .. t.content_type end
  for _, line in ipairs(self._headers) do headers[#headers + 1] = line end
  local query = self._query
  local own = t.own
  local without_key = false
  if own and own.headers then
    headers = merge_headers(headers, own.headers)
    for name in pairs(own.headers) do       -- its own credentials (or false): not the key
      if CREDENTIALS[name:lower()] then without_key = true end
    end
  end
  if own and own.query then query = merge_query(self, own.query) end
  if t.query and t.query ~= "" then
    query = (query == "" and "?" or query .. "&") .. t.query
  end
  return core.endpoint {
    origin = self._origin, path = t.path, query = query, method = t.method,
    headers = headers, connect_timeout = self.connect_timeout,
    max_body = self.max_response_bytes, max_event = self.max_event_bytes,
    max_stream = self.max_stream_bytes,
    stream = t.stream, compressed = t.compressed or false, user_agent = USER_AGENT,
    ca_file = self.ca_file, proxy = self.proxy, no_proxy = self.no_proxy,
    cert_file = self.cert_file, key_file = self.key_file,
    key_passphrase = self._key_passphrase or nil, without_key = without_key,
  }
end

local function spec_for(self, method, path, stream)
  local cache = stream and self._stream_specs or self._specs
  local spec = cache[path]
  if spec then return spec end
  spec = M.endpoint(self, {
    method = method, path = path, stream = stream, compressed = COMPRESSED[path],
    accept = stream and "text/event-stream" or "application/json",
    content_type = method == "POST" and "application/json" or nil,
  })
  cache[path] = spec
  return spec
end

-- Starts the transfer of a job that has every field.
local function launch(self, spec, body, own, job)
  if self._log_bodies and type(body) == "string" then
    self._log({ event = "request_body", method = job.method, path = job.path, body = body }, self._clean)
  end
  local timeout, idle = own.timeout or self.timeout, own.idle_timeout or self.idle_timeout
  local first = own.first_byte_timeout or self.first_byte_timeout
  local ud = core.transfer(spec, body, timeout, idle, first)
  local auth = self._auth
  if auth then
    local respec = assert(job.respec, "call.start: a client whose key changes needs job.respec")
    job.auth, job.origin = auth, self._origin
    job.remake = function() return core.transfer(respec(), body, timeout, idle, first) end
  end
  return Request.new(ud, job)
end

-- call.start(client, spec, body, own, job) -> request: runs a body
-- (what core.transfer takes) on a prepared endpoint, with the call's own
-- params (callbacks, timeouts, retries) over the client's. job as in
-- Request.new (with its method and path, for the log); its callbacks,
-- max_retries, clean and log are filled in here. For a client whose key
-- changes (auth.lua), job.respec() gives the endpoint again (made from the
-- client's origin of the moment), and the request remakes its transfer
-- from it when the key changed.
function M.start(self, spec, body, own, job)
  job.callbacks = own
  job.max_retries = own.max_retries or self.max_retries
  job.clean = self._clean
  job.log, job.bodies = self._log, self._log_bodies
  return launch(self, spec, body, own, job)
end

-- The spec of a call with its own headers or query: kept per distinct
-- set, up to 32 of them.
local function custom_spec(self, method, path, stream, own)
  local t = { method = method, path = path, stream = stream, compressed = COMPRESSED[path],
              accept = stream and "text/event-stream" or "application/json",
              content_type = method == "POST" and "application/json" or nil, own = own }
  local id = { method, stream and "stream" or "", path,
              own.query and merge_query(self, own.query) or self._query }
  for _, name in ipairs(sorted_keys(own.headers or {})) do
    id[#id + 1] = name .. ": " .. tostring(own.headers[name])    -- false: removed
  end
  id = table.concat(id, "\n")
  local spec = self._custom[id]
  if spec then return spec end
  if self._ncustom >= 32 then self._custom, self._ncustom = {}, 0 end
  spec = M.endpoint(self, t)
  self._custom[id] = spec
  self._ncustom = self._ncustom + 1
  return spec
end

-- call.send(client, method, path, body, own, finish, stream, level, fname
-- [, job]) -> request: a JSON call, as chat makes it. finish and stream as
-- in Request.new's job (stream: an accumulator's kind or constructor); job:
-- more of its fields, or nil.
function M.send(self, method, path, body, own, finish, stream, level, fname, job)
  local spec
  if own.headers or own.query then
    spec = custom_spec(self, method, path, stream ~= nil, own)
  else
    spec = spec_for(self, method, path, stream ~= nil)
  end
  if body then
    local why
    body, why = encode(body, ARRAY_KEYS)
    if not body then argerror(level + 1, 2, fname, why) end
  end
  if job or self._auth then
    job = job or {}
    job.finish, job.stream, job.method, job.path = finish, stream, method, path
    if self._auth then
      job.respec = function()
        if own.headers or own.query then return custom_spec(self, method, path, stream ~= nil, own) end
        return spec_for(self, method, path, stream ~= nil)
      end
    end
    return M.start(self, spec, body, own, job)
  end
  -- the common call: its job in one constructor (a table grown a field at
  -- a time is rebuilt four times on the way to nine fields)
  return launch(self, spec, body, own, {
    finish = finish, stream = stream, method = method, path = path, callbacks = own,
    max_retries = own.max_retries or self.max_retries, clean = self._clean,
    log = self._log, bodies = self._log_bodies,
  })
end

return M

-- Clients: options, keys, URLs and headers, and the endpoint methods
-- (chat, complete, models, embed, each with an _async form). The Responses
-- API is responses.lua's, client:request and its helpers endpoints.lua's:
-- both are loaded on first use, and make their calls through M.send,
-- M.endpoint and M.start below.

local core    = require "chatgpt.core"
local args    = require "chatgpt.args"
local errors  = require "chatgpt.lazy" "chatgpt.error"
local Request = require "chatgpt.request"
local compat  = require "chatgpt.compat"

local encode, check_messages = core.encode, core.check_messages
local argerror = args.error
local band, bor, lshift, rshift = compat.band, compat.bor, compat.lshift, compat.rshift
local float32le, tointeger = compat.float32le, compat.tointeger

local io, ipairs, os, pairs, setmetatable, string, table, tostring, type =
      io, ipairs, os, pairs, setmetatable, string, table, tostring, type

local M = {}

local DEFAULTS = core.defaults     -- one place for every default: src/defaults.h
M.VERSION = core._VERSION
M.default_key = nil         -- set by chatgpt.set_key (a key userdata)

-- Request fields whose value is a list: an empty table there goes out as []
-- (core.encode's array_keys; elsewhere an empty table is {}).
M.ARRAY_KEYS = {
  messages = true, tools = true, functions = true, stop = true, tool_calls = true,
  content = true, required = true, enum = true, anyOf = true, allOf = true, oneOf = true,
  prefixItems = true, input = true, prompt = true, modalities = true, annotations = true,
}
local ARRAY_KEYS = M.ARRAY_KEYS

-- Short on purpose: libcurl writes header lines a byte at a time, on every
-- request (bench/RESULTS.md has what a byte costs).
local USER_AGENT = DEFAULTS.user_agent

local Client = {}
Client.__index = Client
M.Client = Client

local SECONDS = { "number", above = 0 }    -- the engine caps what is longer than a lifetime
local BYTES = { "number", min = 1, max = 2 ^ 53, integer = true }
local RETRIES = { "number", min = 0, max = 100, integer = true }

-- Option name -> rule (lua/chatgpt/args.lua), for chatgpt.new.
local OPTIONS = {
  api_key = "string", api_key_file = "string", api_key_cmd = "table",
  api_key_cmd_timeout = { "number", above = 0, max = 3600 },
  base_url = "string", model = "string", organization = "string", project = "string",
  auth = "string", headers = "table", query = "table",
  timeout = SECONDS, connect_timeout = SECONDS, idle_timeout = { "number", min = 0 },
  max_retries = RETRIES, max_response_bytes = BYTES, max_event_bytes = BYTES,
  allow_insecure = "boolean", ca_file = "string",
  proxy = "string", no_proxy = "string", cert_file = "string", key_file = "string",
  log = "function", log_level = "string",
}

-- Params that are ours, not request fields of the API.
local OWN = {
  on_delta = "function", on_chunk = "function", on_tool_call = "function",
  max_retries = RETRIES, timeout = SECONDS, idle_timeout = OPTIONS.idle_timeout,
  headers = "table", query = "table",
}
M.OWN = OWN

local DEFAULT_BASE = "https://api.openai.com/v1"
local AUTH = { bearer = true, ["api-key"] = true, none = true }
local TOKEN = "^[%w!#$%%&'*+%-.^_`|~]+$"        -- a header name (RFC 9110 token)

local function fail(level, msg)
  argerror(level + 1, 1, "new", msg)
end

local function env(name)
  local v = os.getenv(name)
  if v and v ~= "" then return v end
end

-- The key and where it came from: "given" (api_key, a file, a command,
-- chatgpt.set_key) or "env" (OPENAI_API_KEY); nil when there is none.
local function resolve_key(opts, level)
  local k, msg
  if opts.api_key ~= nil then
    local r, why = core.key(opts.api_key)
    if not r then fail(level + 1, "option 'api_key': " .. why) end
    return r, "given"
  elseif opts.api_key_file ~= nil then
    k, msg = core.key_file(opts.api_key_file)
  elseif opts.api_key_cmd ~= nil then
    local argv = opts.api_key_cmd
    for i = 1, #argv do
      local p = args.problem(argv[i], "string")
      if p then fail(level + 1, "option 'api_key_cmd': element " .. i .. ": " .. p) end
    end
    k, msg = core.key_cmd(argv, opts.api_key_cmd_timeout)
  elseif M.default_key then
    return M.default_key, "given"
  else
    k = core.key_env("OPENAI_API_KEY")
    return k, k and "env"
  end
  if not k then fail(level + 1, msg) end
  return k, "given"
end

local function urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end
M.urlencode = urlencode

-- "Name: value", or nil and why: a name that is a token, a value without
-- CR, LF or NUL (a number is written as a string).
local function header_check(name, value)
  if type(name) ~= "string" or not name:find(TOKEN) then
    return nil, "bad header name " .. tostring(name)
  end
  if type(value) == "number" then value = tostring(value) end
  if type(value) ~= "string" or value:find("[\r\n%z]") then
    return nil, "the value of " .. name .. " must be a string without CR, LF or NUL"
  end
  return name .. ": " .. value
end

-- A header line, or a raise at new() naming the option.
local function header_line(level, option, name, value)
  local line, why = header_check(name, value)
  if not line then fail(level + 1, "option '" .. option .. "': " .. why) end
  return line
end

-- Proxies libcurl speaks; a proxy without a scheme is an http one.
local PROXY_SCHEMES = { http = true, https = true, socks4 = true, socks4a = true,
                        socks5 = true, socks5h = true }

local function check_proxy(level, p)
  local scheme = p:match("^([%w+.-]*)://")
  if p:find("[%s%c]") or (scheme and not PROXY_SCHEMES[scheme:lower()]) then
    fail(level + 1, "option 'proxy' must be a proxy URL (http, https, socks4, socks4a, socks5 "
         .. "or socks5h://), or \"\" for none")
  end
end

-- chatgpt.new(options) -> client
function M.new(opts)
  if opts ~= nil and type(opts) == "table" and opts.max_connections ~= nil then
    fail(2, "option 'max_connections' is state-wide now: chatgpt.configure { max_host_connections = n }")
  end
  opts = args.options(2, 1, "new", opts, OPTIONS)
  local self = setmetatable({}, Client)
  self.model = opts.model or "gpt-4o-mini"
  self.organization = opts.organization or env("OPENAI_ORG_ID")
  self.project = opts.project or env("OPENAI_PROJECT_ID")
  self.auth = opts.auth or "bearer"
  if not AUTH[self.auth] then
    fail(2, "option 'auth' must be \"bearer\", \"api-key\" or \"none\"")
  end
  self.timeout = opts.timeout or DEFAULTS.timeout
  self.connect_timeout = opts.connect_timeout or DEFAULTS.connect_timeout
  self.idle_timeout = opts.idle_timeout or DEFAULTS.idle_timeout
  self.max_retries = opts.max_retries or DEFAULTS.max_retries
  self.max_response_bytes = opts.max_response_bytes or DEFAULTS.max_response_bytes
  self.max_event_bytes = opts.max_event_bytes or DEFAULTS.max_event_bytes
  self.allow_insecure = opts.allow_insecure or false
  self.ca_file = opts.ca_file
  if opts.proxy then check_proxy(2, opts.proxy) end
  self.proxy, self.no_proxy = opts.proxy, opts.no_proxy
  self.cert_file, self.key_file = opts.cert_file, opts.key_file
  -- logging: nothing is loaded, and nothing runs per request, without it
  if opts.log or opts.log_level ~= nil or os.getenv("CHATGPT_LOG") then
    local log = require "chatgpt.log"
    if opts.log_level ~= nil and not log.LEVELS[opts.log_level] then
      fail(2, "option 'log_level' must be \"info\" or \"debug\"")
    end
    self._log, self._log_bodies = log.setup(opts.log, opts.log_level, env("CHATGPT_LOG"))
  end

  -- The key is bound, in C, to the origin of base_url (src/origin.h):
  -- every request of this client goes there, whatever its fields say later.
  local base = opts.base_url or env("OPENAI_BASE_URL") or DEFAULT_BASE
  local here, why = core.origin_of(base)
  if not here then fail(2, "option 'base_url': " .. why) end
  local key, source
  if self.auth ~= "none" then
    key, source = resolve_key(opts, 2)
    local openai = core.origin_of(env("OPENAI_BASE_URL") or DEFAULT_BASE)
    if source == "env" and here ~= openai then
      fail(2, "OPENAI_API_KEY is sent only to " .. openai .. " (the OpenAI API, or $OPENAI_BASE_URL); "
           .. "give api_key for " .. here .. ", or auth = \"none\" for a server that needs no key")
    end
    if not key and here == core.origin_of(DEFAULT_BASE) then
      fail(2, "no API key: give api_key, api_key_file or api_key_cmd, call "
           .. "chatgpt.set_key, or set OPENAI_API_KEY")
    end
  end
  local origin
  origin, why = core.origin { url = base, key = key, auth = self.auth,
                              allow_insecure = self.allow_insecure }
  if not origin then fail(2, "option 'base_url': " .. why) end
  self._origin = origin
  self._clean = function(s) return origin:redact(s) end
  self.base_url = origin:url()

  -- The query string and the fixed headers are built once.
  local q = {}
  for k, v in pairs(opts.query or {}) do q[#q + 1] = urlencode(k) .. "=" .. urlencode(v) end
  table.sort(q)
  self._query = #q > 0 and ("?" .. table.concat(q, "&")) or ""
  self._query_map = {}                -- for per-call query params, merged over it
  for k, v in pairs(opts.query or {}) do self._query_map[k] = v end
  local h = {}
  if self.organization then h[1] = header_line(2, "organization", "OpenAI-Organization", self.organization) end
  if self.project then h[#h + 1] = header_line(2, "project", "OpenAI-Project", self.project) end
  local names = {}
  for name in pairs(opts.headers or {}) do names[#names + 1] = tostring(name) end
  table.sort(names)
  for _, name in ipairs(names) do
    h[#h + 1] = header_line(2, "headers", name, opts.headers[name])
  end
  self._headers = h
  self._specs, self._stream_specs, self._custom, self._ncustom = {}, {}, {}, 0
  return self
end

-- client:conversation(options) -> conversation (see conversation.lua;
-- api = "responses": responses_conversation.lua)
function Client:conversation(opts)
  -- no tail calls (5.1 would lose the caller's line): new raises at level 3
  if type(opts) == "table" and opts.api ~= nil then
    if opts.api == "responses" then
      local conv = require("chatgpt.responses_conversation").new(self, opts, 3)
      return conv
    end
    if opts.api ~= "chat" then
      argerror(2, 1, "conversation", "option 'api' must be \"chat\" or \"responses\"")
    end
    local o = {}
    for k, v in pairs(opts) do if k ~= "api" then o[k] = v end end
    opts = o
  end
  local conv = require("chatgpt.conversation").new(self, opts, 3)
  return conv
end

function Client:key_hint()
  return self._origin:hint() or nil
end

function Client:__tostring()
  return "chatgpt.client (" .. self.base_url .. ", " .. self.model .. ", key "
         .. (self:key_hint() or "none") .. ")"
end

-- Splits call params into the request body (every API field, untouched)
-- and our own options.
local NO_OWN = {}            -- the own params of a call that gave none (never written)

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
-- client.split(params, level, fname, n, rules) -> body, own: for the other
-- endpoint modules, with their own rules (default: chat's OWN).
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

-- client.endpoint(client, t) -> a prepared endpoint of this client (its
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
  if own and own.headers then headers = merge_headers(headers, own.headers) end
  if own and own.query then query = merge_query(self, own.query) end
  if t.query and t.query ~= "" then
    query = (query == "" and "?" or query .. "&") .. t.query
  end
  return core.endpoint {
    origin = self._origin, path = t.path, query = query, method = t.method,
    headers = headers, connect_timeout = self.connect_timeout,
    max_body = self.max_response_bytes, max_event = self.max_event_bytes,
    stream = t.stream, compressed = t.compressed or false, user_agent = USER_AGENT,
    ca_file = self.ca_file, proxy = self.proxy, no_proxy = self.no_proxy,
    cert_file = self.cert_file, key_file = self.key_file,
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

-- client.start(client, spec, body, own, job) -> request: runs a body
-- (what core.transfer takes) on a prepared endpoint, with the call's own
-- params (callbacks, timeouts, retries) over the client's. job as in
-- Request.new (with its method and path, for the log); its callbacks,
-- max_retries, clean and log are filled in here.
function M.start(self, spec, body, own, job)
  if self._log_bodies and type(body) == "string" then
    self._log({ event = "request_body", method = job.method, path = job.path, body = body }, self._clean)
  end
  local ud = core.transfer(spec, body, own.timeout or self.timeout,
                           own.idle_timeout or self.idle_timeout)
  job.callbacks = own
  job.max_retries = own.max_retries or self.max_retries
  job.clean = self._clean
  job.log, job.bodies = self._log, self._log_bodies
  return Request.new(ud, job)
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

-- Starts a request on the engine: finish and stream as in Request.new's job
-- (job: more of its fields, or nil).
function Client:_send(method, path, body, own, finish, stream, level, fname, job)
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
  job = job or {}
  job.finish, job.stream, job.method, job.path = finish, stream, method, path
  return M.start(self, spec, body, own, job)
end
-- client.send(client, method, path, body, own, finish, stream, level,
-- fname [, job]) -> request: a JSON call, as chat makes it (stream: an
-- accumulator's kind or constructor, see Request.new).
M.send = Client._send

local function parse_error(code, message, response)
  return errors.new { kind = "parse", code = code, message = message, response = response }
end

-- ---- chat -----------------------------------------------------------

local function finish_chat(response)
  local choices = response.choices
  if type(choices) ~= "table" or type(choices[1]) ~= "table" then
    return nil, parse_error("NO_CHOICES", "the response has no choices", response)
  end
  local message = choices[1].message
  if type(message) ~= "table" then
    return nil, parse_error("NO_MESSAGE", "the first choice has no message", response)
  end
  local content = message.content
  if content == nil and message.tool_calls == nil and message.function_call == nil then
    if type(message.refusal) == "string" then
      return nil, errors.new { kind = "refusal", code = "REFUSAL", message = message.refusal,
                               response = response }
    end
    return nil, parse_error("NO_CONTENT", "the message has no content", response)
  end
  return content, response
end

local function messages_arg(messages, level)
  if type(messages) == "string" then return { { role = "user", content = messages } } end
  if type(messages) ~= "table" then
    argerror(level + 1, 1, "chat", "messages or a string expected, got " .. type(messages))
  end
  local ok, err = check_messages(messages)
  if not ok then argerror(level + 1, 1, "chat", err) end
  return messages
end

-- Chat and legacy completions: the input field, the default model, and a
-- stream when asked for or when a callback is given.
local function generate(self, path, kind, field, value, finish, params, level, fname)
  if params == nil then             -- the common call, built in one go: the cheapest path
    return self:_send("POST", path, { [field] = value, model = self.model }, NO_OWN,
                      finish, nil, level + 1, fname)
  end
  local body, own = split(params, level + 1, fname)
  body[field] = value
  if body.model == nil then body.model = self.model end
  local stream
  if body.stream == true or own.on_delta or own.on_chunk or own.on_tool_call then
    body.stream = true
    stream = kind
  end
  return self:_send("POST", path, body, own, finish, stream, level + 1, fname)
end

local function chat_async(self, messages, params, level)
  return generate(self, "/chat/completions", "chat", "messages",
                  messages_arg(messages, level + 1), finish_chat, params, level + 1, "chat")
end

-- client:chat_async(messages, params) -> request
function Client:chat_async(messages, params)
  local req = chat_async(self, messages, params, 2)
  return req       -- not a tail call: the level of an argument error counts this frame
end

-- client:chat(messages, params) -> text, response, info | nil, err
function Client:chat(messages, params)
  return chat_async(self, messages, params, 2):wait()
end

-- ---- legacy completions ------------------------------------------------

local function finish_completion(response)
  local choices = response.choices
  if type(choices) ~= "table" or type(choices[1]) ~= "table" then
    return nil, parse_error("NO_CHOICES", "the response has no choices", response)
  end
  local text = choices[1].text
  if type(text) ~= "string" then
    return nil, parse_error("NO_TEXT", "the first choice has no text", response)
  end
  return text, response
end

local function complete_async(self, prompt, params, level)
  if type(prompt) ~= "string" and type(prompt) ~= "table" then
    argerror(level + 1, 1, "complete", "string expected, got " .. type(prompt))
  end
  return generate(self, "/completions", "completion", "prompt", prompt, finish_completion,
                  params, level + 1, "complete")
end

function Client:complete_async(prompt, params)
  local req = complete_async(self, prompt, params, 2)
  return req
end

function Client:complete(prompt, params)
  return complete_async(self, prompt, params, 2):wait()
end

-- ---- models --------------------------------------------------------------

local function finish_models(response)
  if type(response.data) ~= "table" then
    return nil, parse_error("NO_DATA", "the response has no data list", response)
  end
  return response.data, response
end

local function models_async(self, params, level)
  local _, own = split(params, level + 1, "models", 1)
  return self:_send("GET", "/models", nil, own, finish_models, nil, level + 1, "models")
end

function Client:models_async(params)
  local req = models_async(self, params, 2)
  return req
end
function Client:models(params) return models_async(self, params, 2):wait() end

-- ---- embeddings ------------------------------------------------------------

-- base64 (standard alphabet) of little-endian float32s -> list of numbers.
local B64 = {}
do
  local a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  for i = 1, #a do B64[a:byte(i)] = i - 1 end
end

local function unbase64(s)
  local out, n, acc, bits = {}, 0, 0, 0
  for i = 1, #s do
    local v = B64[s:byte(i)]
    if v then
      acc = bor(lshift(acc, 6), v)
      bits = bits + 6
      if bits >= 8 then
        bits = bits - 8
        n = n + 1
        out[n] = string.char(rshift(acc, bits))
        acc = band(acc, lshift(1, bits) - 1)   -- keeps acc small (bit ops are 32-bit on LuaJIT)
      end
    end
  end
  return table.concat(out)
end

local function floats(s)
  local bytes, v = unbase64(s), {}
  for i = 1, #bytes - 3, 4 do v[#v + 1] = float32le(bytes, i) end
  return v
end

local function finish_embeddings(response)
  local data = response.data
  if type(data) ~= "table" then
    return nil, parse_error("NO_DATA", "the response has no data list", response)
  end
  local vectors = {}
  for i, item in ipairs(data) do
    local e = type(item) == "table" and item.embedding
    if type(e) == "string" then e = floats(e) end
    if type(e) ~= "table" then
      return nil, parse_error("NO_EMBEDDING", "data[" .. i .. "] has no embedding", response)
    end
    vectors[(tointeger(item.index) or (i - 1)) + 1] = e
  end
  return vectors, response
end

local function embed_async(self, input, params, level)
  if type(input) ~= "string" and type(input) ~= "table" then
    argerror(level + 1, 1, "embed", "string or list expected, got " .. type(input))
  end
  local body, own = split(params, level + 1, "embed")
  body.input = input
  if body.model == nil then body.model = "text-embedding-3-small" end
  return self:_send("POST", "/embeddings", body, own, finish_embeddings, nil, level + 1, "embed")
end

function Client:embed_async(input, params)
  local req = embed_async(self, input, params, 2)
  return req
end
function Client:embed(input, params) return embed_async(self, input, params, 2):wait() end

-- ---- the Responses API, client:request and its helpers --------------------
-- (responses.lua and endpoints.lua, loaded at their first call)

-- Each method is a stand-in until its module is loaded, which then puts
-- its own functions in their place.
local function later(module, names)
  for _, name in ipairs(names) do
    Client[name] = function(...)
      local m = require(module)
      for _, n in ipairs(names) do Client[n] = m[n] end
      return m[name](...)
    end
  end
end
later("chatgpt.responses", { "respond", "respond_async" })
do
  local names = {}
  for _, name in ipairs { "request", "moderate", "image", "transcribe", "speech", "files", "upload",
                          "delete_file", "response", "cancel_response", "delete_response" } do
    names[#names + 1] = name
    names[#names + 1] = name .. "_async"
  end
  later("chatgpt.endpoints", names)
end

return M

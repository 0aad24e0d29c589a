-- Clients: options, keys, URLs and headers, and the endpoint methods
-- (chat, complete, models, embed, each with an _async form).

local core    = require "chatgpt.core"
local errors  = require "chatgpt.lazy" "chatgpt.errors"
local Request = require "chatgpt.request"

local encode, check_messages = core.encode, core.check_messages

local error, io, ipairs, math, os, pairs, pcall, setmetatable, string, table, tostring, type =
      error, io, ipairs, math, os, pairs, pcall, setmetatable, string, table, tostring, type

local M = {}

M.VERSION = "0.1.0"
M.default_key = nil         -- set by chatgpt.set_key (a key userdata)

-- Short on purpose: libcurl writes header lines a byte at a time, ~180
-- instructions a byte (measured), on every request.
local USER_AGENT = "lua-chatgpt/" .. M.VERSION

local Client = {}
Client.__index = Client
M.Client = Client

-- Option name -> Lua type, for chatgpt.new.
local OPTIONS = {
  api_key = "string", api_key_file = "string", api_key_cmd = "table",
  base_url = "string", model = "string", organization = "string", project = "string",
  auth = "string", headers = "table", query = "table",
  timeout = "number", connect_timeout = "number", idle_timeout = "number",
  max_retries = "number", max_response_bytes = "number", max_event_bytes = "number",
  max_connections = "number", allow_insecure = "boolean", ca_file = "string",
}

-- Params that are ours, not request fields of the API.
local OWN = {
  on_delta = "function", on_chunk = "function", on_tool_call = "function",
  max_retries = "number", timeout = "number", idle_timeout = "number",
}

local DEFAULT_BASE = "https://api.openai.com/v1"

local function fail(level, msg)
  error("chatgpt: " .. msg, level + 1)
end

local function env(name)
  local v = os.getenv(name)
  if v and v ~= "" then return v end
end

-- Loopback hosts may be spoken to over plain http with a key.
local function loopback(host)
  return host == "localhost" or host == "[::1]" or host:match("^127%.%d+%.%d+%.%d+$") ~= nil
      or host:match("%.localhost$") ~= nil
end

local function parse_url(url)
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then return nil end
  local host = rest:match("^(%[[^%]]*%])") or rest:match("^([^/:?#]*)")
  return scheme:lower(), (host or ""):lower()
end

local function resolve_key(opts)
  local k, msg
  if opts.api_key ~= nil then
    local ok, r = pcall(core.key, opts.api_key)
    if not ok then return nil, "api_key: an API key is 1 to 4096 printable characters without spaces" end
    return r
  elseif opts.api_key_file ~= nil then
    k, msg = core.key_file(opts.api_key_file)
  elseif opts.api_key_cmd ~= nil then
    k, msg = core.key_cmd(opts.api_key_cmd)
  else
    return M.default_key or core.key_env("OPENAI_API_KEY")
  end
  if not k then return nil, msg end
  return k
end

local function urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

-- chatgpt.new(options) -> client
function M.new(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then fail(2, "bad argument #1 to 'new' (table expected)") end
  for k, v in pairs(opts) do
    local want = OPTIONS[k]
    if not want then fail(2, "unknown option '" .. tostring(k) .. "' to new") end
    if type(v) ~= want then
      fail(2, "option '" .. k .. "' must be a " .. want .. ", got " .. type(v))
    end
  end
  local self = setmetatable({}, Client)
  self.base_url = (opts.base_url or env("OPENAI_BASE_URL") or DEFAULT_BASE):gsub("/+$", "")
  self.model = opts.model or "gpt-4o-mini"
  self.organization = opts.organization or env("OPENAI_ORG_ID")
  self.project = opts.project or env("OPENAI_PROJECT_ID")
  self.auth = opts.auth or "bearer"
  if self.auth ~= "bearer" and self.auth ~= "api-key" and self.auth ~= "none" then
    fail(2, "option 'auth' must be \"bearer\", \"api-key\" or \"none\"")
  end
  self.timeout = opts.timeout or 600
  self.connect_timeout = opts.connect_timeout or 10
  self.idle_timeout = opts.idle_timeout or 60
  self.max_retries = math.tointeger(opts.max_retries or 2)
  if not self.max_retries or self.max_retries < 0 then
    fail(2, "option 'max_retries' must be a non-negative integer")
  end
  self.max_response_bytes = opts.max_response_bytes or 64 * 1024 * 1024
  self.max_event_bytes = opts.max_event_bytes or 8 * 1024 * 1024
  self.allow_insecure = opts.allow_insecure or false
  self.ca_file = opts.ca_file

  local scheme, host = parse_url(self.base_url)
  if scheme ~= "http" and scheme ~= "https" then
    fail(2, "base_url must be an http:// or https:// URL, got '" .. self.base_url .. "'")
  end
  self._host = host

  if self.auth ~= "none" then
    local key, msg = resolve_key(opts)
    if msg then fail(2, msg) end
    self._key = key
    if not key and self.base_url == DEFAULT_BASE then
      fail(2, "no API key: give api_key, api_key_file or api_key_cmd, call "
           .. "chatgpt.set_key, or set OPENAI_API_KEY")
    end
    if key and scheme == "http" and not loopback(host) and not self.allow_insecure then
      fail(2, "refusing to send the API key over plain http:// to " .. host
           .. " (use https, or set allow_insecure = true)")
    end
  end

  -- The query string and the fixed headers are built once.
  local q = {}
  for k, v in pairs(opts.query or {}) do q[#q + 1] = urlencode(k) .. "=" .. urlencode(v) end
  table.sort(q)
  self._query = #q > 0 and ("?" .. table.concat(q, "&")) or ""
  local h = {}
  if self.organization then h[#h + 1] = "OpenAI-Organization: " .. self.organization end
  if self.project then h[#h + 1] = "OpenAI-Project: " .. self.project end
  local names = {}
  for name in pairs(opts.headers or {}) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local v = opts.headers[name]
    if type(name) ~= "string" or (type(v) ~= "string" and type(v) ~= "number") then
      fail(2, "option 'headers' maps header names to strings")
    end
    if (name .. v):find("[\r\n]") or name:find("[%s:]") then
      fail(2, "bad header '" .. name .. "'")
    end
    h[#h + 1] = name .. ": " .. v
  end
  self._headers = h
  self._specs, self._stream_specs = {}, {}
  if opts.max_connections then
    core.configure { max_connections = math.tointeger(opts.max_connections) or 16 }
  end
  return self
end

-- client:conversation(options) -> conversation (see conversation.lua)
function Client:conversation(opts)
  return require("chatgpt.conversation").new(self, opts)
end

function Client:key_hint()
  return self._key and self._key:hint() or nil
end

function Client:__tostring()
  return "chatgpt.client (" .. self.base_url .. ", " .. self.model .. ", key "
         .. (self:key_hint() or "none") .. ")"
end

-- Splits call params into the request body (every API field, untouched)
-- and our own options.
local NO_OWN = {}            -- the own params of a call that gave none (never written)

local function split(params, level)
  if params == nil then return {}, NO_OWN end
  if type(params) ~= "table" then fail(level + 1, "params must be a table") end
  local body, own = {}, {}
  for k, v in pairs(params) do
    local want = OWN[k]
    if want then
      if type(v) ~= want then
        fail(level + 1, "param '" .. k .. "' must be a " .. want .. ", got " .. type(v))
      end
      own[k] = v
    else
      body[k] = v
    end
  end
  -- on_delta(text, chunk): io.write, which the docs show, would choke on the chunk
  if own.on_delta == io.write then own.on_delta = function(text) io.write(text) end end
  return body, own
end

-- Endpoints whose answers are worth asking gzip for: long lists and
-- vectors. A chat answer is a few hundred bytes to a few KB; asking costs
-- more CPU than it saves on the wire. Any answer that comes compressed is
-- decoded all the same.
local COMPRESSED = { ["/models"] = true, ["/embeddings"] = true }

-- The C spec of one kind of call (endpoint, streamed or not), made once
-- per client: core.spec works out the URL, headers and options, and keeps
-- handles configured with them, so a call only brings its body.
local function spec_for(self, method, path, stream)
  local cache = stream and self._stream_specs or self._specs
  local spec = cache[path]
  if spec then return spec end
  local headers = { "Accept: " .. (stream and "text/event-stream" or "application/json") }
  if method == "POST" then headers[2] = "Content-Type: application/json" end
  for _, line in ipairs(self._headers) do headers[#headers + 1] = line end
  spec = core.spec {
    url = self.base_url .. path .. self._query, method = method, headers = headers,
    key = self._key, auth = self.auth, connect_timeout = self.connect_timeout,
    max_body = self.max_response_bytes, max_event = self.max_event_bytes,
    stream = stream, compressed = COMPRESSED[path] or false, user_agent = USER_AGENT,
    ca_file = self.ca_file,
  }
  cache[path] = spec
  return spec
end

-- Starts a request on the engine: finish and stream as in Request.new's job.
function Client:_send(method, path, body, own, finish, stream, level)
  local spec = spec_for(self, method, path, stream ~= nil)
  if body then
    local ok, r = pcall(encode, body)
    if not ok then fail(level + 1, (tostring(r):gsub("^chatgpt: ", ""))) end
    body = r
  end
  local ud = core.request(spec, body, own.timeout or self.timeout,
                          own.idle_timeout or self.idle_timeout)
  return Request.new(ud, { finish = finish, stream = stream, callbacks = own,
                           max_retries = own.max_retries or self.max_retries, key = self._key })
end

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
    fail(level + 1, "bad argument #1 to 'chat' (messages or a string expected, got "
         .. type(messages) .. ")")
  end
  local ok, err = check_messages(messages)
  if not ok then
    fail(level + 1, err == "no messages" and "bad argument #1 to 'chat' (no messages)" or err)
  end
  return messages
end

-- Chat and legacy completions: the input field, the default model, and a
-- stream when asked for or when a callback is given.
local function generate(self, path, kind, field, value, finish, params, level)
  if params == nil then             -- the common call, built in one go (-2,300 instructions)
    return self:_send("POST", path, { [field] = value, model = self.model }, NO_OWN,
                      finish, nil, level + 1)
  end
  local body, own = split(params, level + 1)
  body[field] = value
  if body.model == nil then body.model = self.model end
  local stream
  if body.stream == true or own.on_delta or own.on_chunk or own.on_tool_call then
    body.stream = true
    stream = kind
  end
  return self:_send("POST", path, body, own, finish, stream, level + 1)
end

local function chat_async(self, messages, params, level)
  return generate(self, "/chat/completions", "chat", "messages",
                  messages_arg(messages, level + 1), finish_chat, params, level + 1)
end

-- client:chat_async(messages, params) -> request
function Client:chat_async(messages, params)
  return chat_async(self, messages, params, 2)
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
    fail(level + 1, "bad argument #1 to 'complete' (string expected, got " .. type(prompt) .. ")")
  end
  return generate(self, "/completions", "completion", "prompt", prompt, finish_completion,
                  params, level + 1)
end

function Client:complete_async(prompt, params)
  return complete_async(self, prompt, params, 2)
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
  local _, own = split(params, level + 1)
  return self:_send("GET", "/models", nil, own, finish_models, nil, level + 1)
end

function Client:models_async(params) return models_async(self, params, 2) end
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
      acc = (acc << 6) | v
      bits = bits + 6
      if bits >= 8 then
        bits = bits - 8
        n = n + 1
        out[n] = string.char((acc >> bits) & 0xFF)
      end
    end
  end
  return table.concat(out)
end

local function floats(s)
  local bytes, v = unbase64(s), {}
  for i = 1, #bytes - 3, 4 do v[#v + 1] = (string.unpack("<f", bytes, i)) end
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
    vectors[(math.tointeger(item.index) or (i - 1)) + 1] = e
  end
  return vectors, response
end

local function embed_async(self, input, params, level)
  if type(input) ~= "string" and type(input) ~= "table" then
    fail(level + 1, "bad argument #1 to 'embed' (string or list expected, got " .. type(input) .. ")")
  end
  local body, own = split(params, level + 1)
  body.input = input
  if body.model == nil then body.model = "text-embedding-3-small" end
  return self:_send("POST", "/embeddings", body, own, finish_embeddings, nil, level + 1)
end

function Client:embed_async(input, params) return embed_async(self, input, params, 2) end
function Client:embed(input, params) return embed_async(self, input, params, 2):wait() end

return M

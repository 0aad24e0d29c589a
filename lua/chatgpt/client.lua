-- Clients: options, keys, URLs and headers, and the endpoint methods
-- (chat, complete, models, embed, each with an _async form). The Responses
-- API is responses.lua's, client:request and its helpers endpoints.lua's:
-- both are loaded on first use, and make their calls through M.send,
-- M.endpoint and M.start below.

local core    = require "chatgpt.core"
local args    = require "chatgpt.args"
local errors  = require "chatgpt.lazy" "chatgpt.error"
local call    = require "chatgpt.call"
local compat  = require "chatgpt.compat"

local check_messages = core.check_messages
local argerror = args.error
local band, bor, lshift, rshift = compat.band, compat.bor, compat.lshift, compat.rshift
local float32le, tointeger = compat.float32le, compat.tointeger

local ipairs, os, pairs, setmetatable, string, table, tostring, type =
      ipairs, os, pairs, setmetatable, string, table, tostring, type

local M = {}

local DEFAULTS = core.defaults     -- one place for every default: src/defaults.h
M.VERSION = core._VERSION
M.default_key = nil         -- set by chatgpt.set_key (a key userdata)


local Client = {}
Client.__index = Client
M.Client = Client

local SECONDS = { "number", above = 0 }    -- the engine caps what is longer than a lifetime
local BYTES = { "number", min = 1, max = 2 ^ 53, integer = true }
local RETRIES = { "number", min = 0, max = 100, integer = true }

-- Option name -> rule (lua/chatgpt/args.lua), for chatgpt.new.
local OPTIONS = {
  api_key = "string|function", api_key_file = "string", api_key_cmd = "table", api_key_env = "string",
  api_key_cmd_timeout = { "number", above = 0, max = 3600 }, api_key_cmd_ttl = SECONDS,
  base_url = "string", model = "string", organization = "string", project = "string",
  auth = "string", headers = "table", query = "table",
  timeout = SECONDS, connect_timeout = SECONDS, idle_timeout = { "number", min = 0 },
  first_byte_timeout = { "number", min = 0 },
  max_retries = RETRIES, max_response_bytes = BYTES, max_event_bytes = BYTES,
  max_stream_bytes = BYTES,
  allow_insecure = "boolean", ca_file = "string",
  proxy = "string", no_proxy = "string", cert_file = "string", key_file = "string",
  key_passphrase = "string",
  log = "function", log_level = "string",
}
M.OPTIONS = OPTIONS          -- the command checks its config file's settings against them

-- The facts and the plumbing the endpoint modules share (call.lua).
M.ARRAY_KEYS, M.OWN = call.ARRAY_KEYS, call.OWN
M.urlencode, M.split, M.endpoint, M.start, M.send =
  call.urlencode, call.split, call.endpoint, call.start, call.send
local urlencode, header_check, split, send = call.urlencode, call.header_check, call.split, call.send
local NO_OWN = call.NO_OWN

local DEFAULT_BASE = "https://api.openai.com/v1"
M.DEFAULT_BASE = DEFAULT_BASE   -- :checkhealth names it (health.lua)
local AUTH = { bearer = true, ["api-key"] = true, none = true }

local function fail(level, msg)
  argerror(level + 1, 1, "new", msg)
end

local function env(name)
  local v = os.getenv(name)
  if v and v ~= "" then return v end
end

-- The key and where it came from: "given" (api_key, a file, a command, a
-- variable named by api_key_env, chatgpt.set_key) or "env"
-- (OPENAI_API_KEY); nil when there is none. Third, for a key that changes,
-- how to fetch it again (auth.lua): an api_key function (no key yet: the
-- first request asks it), or the command.
local function resolve_key(opts, level)
  local k, msg
  if opts.api_key_cmd_ttl ~= nil and opts.api_key_cmd == nil then
    fail(level + 1, "option 'api_key_cmd_ttl' is the lifetime of api_key_cmd's key: give api_key_cmd")
  end
  if type(opts.api_key) == "function" then
    return nil, "given", require("chatgpt.auth").provider(opts.api_key)
  elseif opts.api_key ~= nil then
    local r, why = core.key(opts.api_key)
    if not r then fail(level + 1, "option 'api_key': " .. why) end
    return r, "given"
  elseif opts.api_key_file ~= nil then
    k, msg = core.key_file(opts.api_key_file)
  elseif opts.api_key_env ~= nil then           -- a variable named on purpose: sent anywhere
    k, msg = core.key_env(opts.api_key_env)
    if not k then fail(level + 1, "option 'api_key_env': " .. (msg or "$" .. opts.api_key_env .. " is not set")) end
    return k, "given"
  elseif opts.api_key_cmd ~= nil then
    local argv = {}                        -- a copy: it is run again later
    for i = 1, #opts.api_key_cmd do
      local p = args.problem(opts.api_key_cmd[i], "string")
      if p then fail(level + 1, "option 'api_key_cmd': element " .. i .. ": " .. p) end
      argv[i] = opts.api_key_cmd[i]
    end
    k, msg = core.key_cmd(argv, opts.api_key_cmd_timeout)
    if not k then fail(level + 1, msg) end
    return k, "given", require("chatgpt.auth").command(argv, opts.api_key_cmd_timeout)
  elseif M.default_key then
    return M.default_key, "given"
  else
    k = core.key_env("OPENAI_API_KEY")
    return k, k and "env"
  end
  if not k then fail(level + 1, msg) end
  return k, "given"
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
  self.first_byte_timeout = opts.first_byte_timeout or DEFAULTS.first_byte_timeout
  self.max_retries = opts.max_retries or DEFAULTS.max_retries
  self.max_response_bytes = opts.max_response_bytes or DEFAULTS.max_response_bytes
  self.max_event_bytes = opts.max_event_bytes or DEFAULTS.max_event_bytes
  self.max_stream_bytes = opts.max_stream_bytes or DEFAULTS.max_stream_bytes
  self.allow_insecure = opts.allow_insecure or false
  self.ca_file = opts.ca_file
  if opts.proxy then check_proxy(2, opts.proxy) end
  self.proxy, self.no_proxy = opts.proxy, opts.no_proxy
  self.cert_file, self.key_file = opts.cert_file, opts.key_file
  -- the passphrase, like the key, lives in C memory only (core.secret)
  self._key_passphrase = false
  if opts.key_passphrase ~= nil then
    local secret, swhy = core.secret(opts.key_passphrase)
    if not secret then fail(2, "option 'key_passphrase': " .. swhy) end
    self._key_passphrase = secret
  end
  -- logging: nothing is loaded, and nothing runs per request, without it
  -- (false, not nil: a missing field would go through Client's __index on
  -- every request)
  self._log, self._log_bodies = false, false
  if opts.log or opts.log_level ~= nil or os.getenv("CHATGPT_LOG") then
    local log = require "chatgpt.log"
    if opts.log_level ~= nil and not log.LEVELS[opts.log_level] then
      fail(2, "option 'log_level' must be \"info\" or \"debug\"")
    end
    local emit, bodies = log.setup(opts.log, opts.log_level, env("CHATGPT_LOG"))
    self._log, self._log_bodies = emit or false, bodies or false
  end

  -- The key is bound, in C, to the origin of base_url (src/origin.h):
  -- every request of this client goes there, whatever its fields say later.
  local base = opts.base_url or env("OPENAI_BASE_URL") or DEFAULT_BASE
  local here, why = core.origin_of(base)
  if not here then fail(2, "option 'base_url': " .. why) end
  local key, source, fetch
  if self.auth ~= "none" then
    key, source, fetch = resolve_key(opts, 2)
    local openai = core.origin_of(env("OPENAI_BASE_URL") or DEFAULT_BASE)
    if source == "env" and here ~= openai then
      fail(2, "OPENAI_API_KEY is sent only to " .. openai .. " (the OpenAI API, or $OPENAI_BASE_URL); "
           .. "give api_key for " .. here .. ", or auth = \"none\" for a server that needs no key")
    end
    if not key and not fetch and here == core.origin_of(DEFAULT_BASE) then
      fail(2, "no API key: give api_key, api_key_file or api_key_cmd, call "
           .. "chatgpt.set_key, or set OPENAI_API_KEY")
    end
  end
  local origin
  origin, why = core.origin { url = base, key = key, auth = self.auth,
                              allow_insecure = self.allow_insecure, key_later = fetch ~= nil }
  if not origin then fail(2, "option 'base_url': " .. why) end
  self._origin = origin
  self.base_url = origin:url()
  self._auth = false                  -- a key that changes: auth.lua keeps it
  if fetch then
    local a = require("chatgpt.auth").new(self, fetch, opts.api_key_cmd_ttl, key ~= nil, self.auth)
    self._auth = a
    self._clean = function(s) return a:redact(s) end
  else
    self._clean = function(s) return origin:redact(s) end
  end

  -- The query string and the fixed headers are built once.
  local q = {}
  for k, v in pairs(opts.query or {}) do
    local tk, tv = type(k), type(v)
    if (tk ~= "string" and tk ~= "number") or (tv ~= "string" and tv ~= "number") then
      fail(2, "option 'query': names and values are strings or numbers, got " .. tk .. " = " .. tv)
    end
    q[#q + 1] = urlencode(k) .. "=" .. urlencode(v)
  end
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
    if key and call.CREDENTIALS[name:lower()] then    -- never two credentials on a request
      fail(2, "option 'headers': " .. name .. " would go beside the key; give the key as api_key, "
           .. "or auth = \"none\" with a header of your own")
    end
    h[#h + 1] = header_line(2, "headers", name, opts.headers[name])
  end
  self._headers = h
  self._specs, self._stream_specs, self._custom, self._ncustom = {}, {}, {}, 0
  return self
end

-- client.set_origin(client, origin): a new key (auth.lua) in a new origin
-- of the client's URL; the prepared endpoints, whose headers hold the old
-- key, are made again as calls need them.
function M.set_origin(self, origin)
  self._origin = origin
  self._specs, self._stream_specs, self._custom, self._ncustom = {}, {}, {}, 0
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
  -- OpenRouter's reasoning text, under the name the others give it (as a
  -- streamed answer has it: stream.lua)
  if message.reasoning_content == nil and type(message.reasoning) == "string" then
    message.reasoning_content = message.reasoning
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
    local req = send(self, "POST", path, { [field] = value, model = self.model }, NO_OWN,
                     finish, nil, level + 1, fname)
    return req        -- no tail calls where a level is passed on: they shift it
  end
  local body, own = split(params, level + 1, fname)
  body[field] = value
  if body.model == nil then body.model = self.model end
  local stream
  if body.stream == true or own.on_delta or own.on_chunk or own.on_tool_call or own.on_reasoning then
    body.stream = true
    stream = kind
  end
  local req = send(self, "POST", path, body, own, finish, stream, level + 1, fname)
  return req
end

local function chat_async(self, messages, params, level)
  local req = generate(self, "/chat/completions", "chat", "messages",
                       messages_arg(messages, level + 1), finish_chat, params, level + 1, "chat")
  return req
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
  local req = generate(self, "/completions", "completion", "prompt", prompt, finish_completion,
                       params, level + 1, "complete")
  return req
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
  local req = send(self, "GET", "/models", nil, own, finish_models, nil, level + 1, "models")
  return req
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
  local req = send(self, "POST", "/embeddings", body, own, finish_embeddings, nil, level + 1, "embed")
  return req
end

function Client:embed_async(input, params)
  local req = embed_async(self, input, params, 2)
  return req
end
function Client:embed(input, params) return embed_async(self, input, params, 2):wait() end

-- ---- the Responses API, client:request and its helpers --------------------
-- (responses.lua and endpoints.lua, loaded at their first call)

-- A method of theirs is found through Client's own __index, which loads
-- its module and puts the module's functions in Client: the method the
-- user called is then the real one, with no stand-in frame between (an
-- argument error names the user's line on every Lua version).
local LATER = {}
for _, name in ipairs { "respond", "respond_async" } do LATER[name] = "chatgpt.responses" end
for _, name in ipairs { "request", "moderate", "image", "transcribe", "speech", "files", "upload",
                        "delete_file", "response", "cancel_response", "delete_response" } do
  LATER[name], LATER[name .. "_async"] = "chatgpt.endpoints", "chatgpt.endpoints"
end
setmetatable(Client, { __index = function(_, name)
  local module = LATER[name]
  if not module then return nil end
  local m = require(module)
  for n, mod in pairs(LATER) do
    if mod == module then Client[n] = m[n] end
  end
  return m[name]
end })

return M

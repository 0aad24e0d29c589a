-- chatgpt.cli_config: where the `chatgpt` command finds what it needs
-- besides its flags: the config file, the key, a schema file, and the file
-- that keeps the last conversation (for -c).

local chatgpt = require "chatgpt"
local core    = require "chatgpt.core"

local io, ipairs, load, os, pairs, pcall, setmetatable, table, tostring, type =
      io, ipairs, load, os, pairs, pcall, setmetatable, table, tostring, type
local loadstring, setfenv = rawget(_G, "loadstring"), rawget(_G, "setfenv")   -- Lua 5.1, LuaJIT

local M = {}

local DEFAULT_BASE = "https://api.openai.com/v1"

local function env(name)
  local v = os.getenv(name)
  if v and v ~= "" then return v end
end

local function under_home(xdg, rest)
  local dir = env(xdg)
  if dir then return dir end
  local home = env("HOME")
  return home and (home .. rest) or nil
end

-- ---- the config file ------------------------------------------------------

-- Settings of the command itself; every other one is a chatgpt.new option,
-- which chatgpt.new checks.
local OWN = { system = "string", temperature = "number", max_tokens = "number" }

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return text
end

-- config.lua runs with the globals readable (os.getenv ...); it returns a
-- table of settings, or sets them as globals.
local function run_lua(path, text)
  local globals = setmetatable({}, { __index = _G })
  local fn, err
  if setfenv then
    fn, err = loadstring(text, "@" .. path)
    if fn then setfenv(fn, globals) end
  else
    fn, err = load(text, "@" .. path, "t", globals)
  end
  if not fn then return nil, err end
  local ok, r = pcall(fn)
  if not ok then return nil, tostring(r) end
  if r == nil then
    r = {}
    for k, v in pairs(globals) do r[k] = v end
  end
  if type(r) ~= "table" then return nil, path .. ": returns a " .. type(r) .. ", not a table of settings" end
  return r
end

-- config.dir() -> $XDG_CONFIG_HOME/lua-chatgpt (default ~/.config/lua-chatgpt)
function M.dir()
  local base = under_home("XDG_CONFIG_HOME", "/.config")
  return base and (base .. "/lua-chatgpt") or nil
end

-- config.load() -> settings (a table, empty without a config file) | nil, why
function M.load()
  local dir = M.dir()
  if not dir then return {} end
  local settings, err, path
  path = dir .. "/config.lua"
  local text = read(path)
  if text then
    settings, err = run_lua(path, text)
  else
    path = dir .. "/config.json"
    text = read(path)
    if not text then return {} end
    settings, err = core.decode(text)
    if type(settings) ~= "table" then
      settings, err = nil, path .. ": not a JSON object (" .. tostring(err or "") .. ")"
    end
  end
  if not settings then return nil, err end
  M.path, M.settings = path, settings
  if settings.api_key ~= nil then
    return nil, path .. ": api_key is not read from a config file: put the key in a file "
           .. "only you can read and name it with api_key_file, or use api_key_cmd"
  end
  for k, want in pairs(OWN) do
    if settings[k] ~= nil and type(settings[k]) ~= want then
      return nil, path .. ": " .. k .. " must be a " .. want
    end
  end
  return settings
end

-- ---- the client --------------------------------------------------------------

local function split(s)
  local argv = {}
  for word in s:gmatch("%S+") do argv[#argv + 1] = word end
  return argv
end

-- The key's source, in this order: $OPENAI_API_KEY (where chatgpt.new
-- lets it go: the OpenAI API or $OPENAI_BASE_URL), $OPENAI_API_KEY_FILE,
-- $CHATGPT_API_KEY_CMD, the config file's api_key_file or api_key_cmd.
-- A server the environment's key may not go to, with no other source,
-- gets no key.
local function choose_key(opts)
  if opts.auth == "none" then return true end
  local base = opts.base_url or env("OPENAI_BASE_URL") or DEFAULT_BASE
  local here = core.origin_of(base)
  local env_ok = env("OPENAI_API_KEY") and here == core.origin_of(env("OPENAI_BASE_URL") or DEFAULT_BASE)
  if env_ok then
    opts.api_key_file, opts.api_key_cmd = nil, nil
  elseif env("OPENAI_API_KEY_FILE") then
    opts.api_key_file, opts.api_key_cmd = env("OPENAI_API_KEY_FILE"), nil
  elseif env("CHATGPT_API_KEY_CMD") then
    opts.api_key_file, opts.api_key_cmd = nil, split(env("CHATGPT_API_KEY_CMD"))
  elseif opts.api_key_file == nil and opts.api_key_cmd == nil then
    if here == core.origin_of(DEFAULT_BASE) then
      return nil, "no API key: set OPENAI_API_KEY, OPENAI_API_KEY_FILE or CHATGPT_API_KEY_CMD "
                  .. "(chatgpt --help tells more)"
    end
    opts.auth = "none"
  end
  return true
end

-- config.client(options, settings) -> client | nil, why (one line)
function M.client(o, settings)
  local opts = {}
  for k, v in pairs(settings) do
    if not OWN[k] then opts[k] = v end
  end
  if o.base_url then
    opts.base_url = o.base_url
  elseif env("OPENAI_BASE_URL") then
    opts.base_url = nil                  -- the environment over the file
  end
  opts.model = o.model or opts.model
  local has, why = choose_key(opts)
  if not has then return nil, why end
  local ok, client = pcall(chatgpt.new, opts)
  if not ok then
    why = (tostring(client):gsub("^[^\n]-%.lua:%d+: ", ""))
    local name = why:match("^bad argument #1 to 'new' %(%a* ?option '([^']*)'")
    if name and M.path and settings[name] ~= nil then why = M.path .. ": " .. why end
    return nil, why
  end
  return client
end

-- ---- --schema FILE and --json ------------------------------------------------

-- config.read_schema(path) -> {name, schema, strict, description} | nil, why.
-- The file holds a JSON schema, or OpenAI's {name, schema, strict} around one.
function M.read_schema(path)
  local text = read(path)
  if not text then return nil, "--schema: cannot read " .. path end
  local doc, err = core.decode(text)
  if type(doc) ~= "table" then
    return nil, "--schema: " .. path .. " is not a JSON object (" .. tostring(err or "") .. ")"
  end
  local wrapped = type(doc.schema) == "table" and doc.type == nil
  local name = wrapped and doc.name
  if type(name) ~= "string" then
    name = (path:match("([^/]+)$"):gsub("%.[^.]*$", ""):gsub("[^%w_%-]", "_")):sub(1, 64)
    if name == "" then name = "schema" end
  end
  local strict, description
  if wrapped then strict, description = doc.strict, doc.description end
  return { name = name, schema = wrapped and doc.schema or doc, strict = strict,
           description = type(description) == "string" and description or nil }
end

-- The answer's text in a response: Chat Completions' first choice, or the
-- output_text parts of a Responses answer.
function M.content_of(response)
  if type(response) ~= "table" then return nil end
  local choices = response.choices
  if type(choices) == "table" and type(choices[1]) == "table" and type(choices[1].message) == "table" then
    return choices[1].message.content
  end
  local parts = {}
  for _, item in ipairs(type(response.output) == "table" and response.output or {}) do
    for _, c in ipairs(type(item) == "table" and type(item.content) == "table" and item.content or {}) do
      if type(c) == "table" and c.type == "output_text" and type(c.text) == "string" then
        parts[#parts + 1] = c.text
      end
    end
  end
  return #parts > 0 and table.concat(parts) or nil
end

-- JSON mode is refused by the API unless a message names JSON: when none
-- does, the system message asks for a JSON object.
function M.name_json(conv, prompt)
  local function names(s) return type(s) == "string" and s:lower():find("json", 1, true) end
  if names(prompt) then return end
  for _, m in ipairs(conv.messages) do
    if names(m.content) then return end
  end
  local hint = "Answer with a JSON object."
  local first = conv.messages[1]
  if first and first.role == "system" and type(first.content) == "string" then
    first.content = first.content .. "\n\n" .. hint
  else
    table.insert(conv.messages, 1, { role = "system", content = hint })
  end
end

-- ---- the last conversation -------------------------------------------------------

-- config.state_file() -> $XDG_STATE_HOME/lua-chatgpt/last.json (default
-- ~/.local/state/lua-chatgpt/last.json)
function M.state_file()
  local base = under_home("XDG_STATE_HOME", "/.local/state")
  return (base or ".") .. "/lua-chatgpt/last.json"
end

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- config.save(conv) -> true | nil, why. The file, and any folder made for
-- it, can be read by the user only (umask 077 while they are made).
function M.save(conv)
  local path = M.state_file()
  local dir = path:match("^(.*)/[^/]*$")
  local old = core.umask(63)             -- 077
  os.remove(path .. ".tmp")              -- an older one would keep its mode
  local ok, err = conv:save(path)
  if not ok then                         -- the folder is not there yet
    os.execute("mkdir -p " .. quote(dir) .. " 2>/dev/null")
    ok, err = conv:save(path)
  end
  core.umask(old)
  if not ok then return nil, "cannot keep the conversation in " .. path .. ": " .. tostring(err) end
  return true
end

return M

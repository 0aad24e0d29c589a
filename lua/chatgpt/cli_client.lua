-- chatgpt.cli_client: the `chatgpt` command's client: which server, which
-- key, and chatgpt.new's refusals in the command's words.
--
-- The server: --base-url, else the profile's base_url, else
-- $OPENAI_BASE_URL, else the config file's base_url, else the OpenAI API.
--
-- The key, the first of these that may go to that server:
--   --key-file FILE, --key-env NAME       named for this run: any server
--   the config file's api_key_file, api_key_cmd or api_key_env (the
--   profile's when it names one)          the base_url beside it, if any
--   $OPENAI_API_KEY, $OPENAI_API_KEY_FILE, $CHATGPT_API_KEY_CMD,
--   the config file's without a base_url  the ambient ones: only the OpenAI
--                                         API, or $OPENAI_BASE_URL when set
-- A key that may not go is withheld: the OpenAI API then has no key (an
-- error), any other server is asked without one, and a 401 says why.

local chatgpt = require "chatgpt"
local core    = require "chatgpt.core"
local config  = require "chatgpt.cli_config"

local ipairs, pairs, pcall, tostring = ipairs, pairs, pcall, tostring
local env = config.env

local M = {}

local DEFAULT_BASE = "https://api.openai.com/v1"

local function split(s)
  local argv = {}
  for word in s:gmatch("%S+") do argv[#argv + 1] = word end
  return argv
end

-- the setting that names a key's source in opts
local function k_of(opts)
  for _, k in ipairs(config.KEY_SOURCES) do
    if opts[k] ~= nil then return k end
  end
end

-- The sources of a key, in order: {name (as the user knows it), opts (for
-- chatgpt.new), to (the origin it may go to; true: any)}.
local function sources(o, cfg, ambient)
  local list = {}
  if o.key_file then list[#list + 1] = { name = "--key-file", opts = { api_key_file = o.key_file }, to = true } end
  if o.key_env then list[#list + 1] = { name = "--key-env", opts = { api_key_env = o.key_env }, to = true } end
  local t = cfg.key_table
  local from_file
  if t then
    local opts = {}
    for _, k in ipairs(config.KEY_SOURCES) do opts[k] = t[k] end
    local name = k_of(opts)
    from_file = { name = config.where(cfg.file, name) .. ": " .. name, opts = opts,
                  to = cfg.key_base and core.origin_of(cfg.key_base) or ambient }
  end
  if from_file and cfg.key_base then list[#list + 1] = from_file end
  if env("OPENAI_API_KEY") then
    list[#list + 1] = { name = "$OPENAI_API_KEY", opts = {}, to = ambient }
  end
  if env("OPENAI_API_KEY_FILE") then
    list[#list + 1] = { name = "$OPENAI_API_KEY_FILE", opts = { api_key_file = env("OPENAI_API_KEY_FILE") },
                        to = ambient }
  end
  if env("CHATGPT_API_KEY_CMD") then
    list[#list + 1] = { name = "$CHATGPT_API_KEY_CMD", opts = { api_key_cmd = split(env("CHATGPT_API_KEY_CMD")) },
                        to = ambient }
  end
  if from_file and not cfg.key_base then list[#list + 1] = from_file end
  return list
end

-- The server and where its URL came from: "--base-url", "path:line", ...
local function server(o, cfg)
  local s = cfg.settings
  if o.base_url then return o.base_url, (o.flag_of.base_url or "--base-url") .. " " .. o.base_url end
  if cfg.profile_base then return cfg.profile_base, config.where(cfg.file, "base_url") end
  if env("OPENAI_BASE_URL") then return env("OPENAI_BASE_URL"), "$OPENAI_BASE_URL" end
  if s.base_url then return s.base_url, config.where(cfg.file, "base_url") end
  return DEFAULT_BASE, "the OpenAI API"
end

-- chatgpt.new's refusal (luaL_argerror's words) as the command says it:
-- the option named by where it was set.
local function refusal(e, label)
  local why = tostring(e):gsub("^[^\n]-%.lua:%d+: ", "")
  why = why:match("^bad argument #%d+ to '[^']*' %((.*)%)$") or why
  local name, rest = why:match("^option '([%w_]+)':? ?(.*)$")
  if not name then name, rest = why:match("^(api_key_%a+): (.*)$") end
  if name and label[name] then return label[name] .. ": " .. rest end
  return why
end

-- client.new(o, cfg, log_line) -> client, ctx | nil, why. ctx: {base_url,
-- withheld} for cli_words; log_line(text) writes a CHATGPT_LOG line.
function M.new(o, cfg, log_line)
  local opts, label = {}, {}
  for k, v in pairs(cfg.settings) do
    if not config.OWN[k] then
      opts[k] = v
      label[k] = cfg.file and config.where(cfg.file, k) .. ": " .. k
    end
  end
  for _, k in ipairs(config.KEY_SOURCES) do opts[k] = nil end
  local base, from = server(o, cfg)
  local here, why = core.origin_of(base)
  if not here then return nil, from .. ": " .. why end
  opts.base_url, label.base_url = base, from
  if o.model then opts.model = o.model end
  local level = env("CHATGPT_LOG")
  if opts.log == nil and (level == "info" or level == "debug") then
    local log = require "chatgpt.log"
    opts.log = function(ev) log_line("chatgpt: " .. log.line(ev)) end
    opts.log_level = level
  end
  local ctx = { base_url = base }
  if opts.auth ~= "none" then
    local ambient = core.origin_of(env("OPENAI_BASE_URL") or DEFAULT_BASE)
    local chosen
    for _, src in ipairs(sources(o, cfg, ambient)) do
      if src.to == true or src.to == here then
        chosen = src
        break
      end
      ctx.withheld = ctx.withheld or src.name
    end
    if chosen then
      for k, v in pairs(chosen.opts) do
        opts[k] = v
        label[k] = chosen.name
      end
      ctx.withheld = nil
    elseif here == core.origin_of(DEFAULT_BASE) then
      return nil, "no API key for the OpenAI API: set OPENAI_API_KEY, OPENAI_API_KEY_FILE or "
                  .. "CHATGPT_API_KEY_CMD, or give --key-file (chatgpt --help tells more)"
    else
      opts.auth = "none"
    end
  end
  -- the lifetime of a command's key, when the key chosen is no command's
  if opts.api_key_cmd == nil then opts.api_key_cmd_ttl = nil end
  local ok, client = pcall(chatgpt.new, opts)
  if not ok then return nil, refusal(client, label) end
  ctx.base_url = client.base_url
  return client, ctx
end

return M

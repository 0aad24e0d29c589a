-- :checkhealth chatgpt (Neovim finds lua/chatgpt/health.lua by itself).
-- Says whether the C core loads and what it was built on (Lua, libcurl,
-- its TLS backend, HTTP/2), where a key would come from (never the key,
-- nor any part of it) and which server requests go to. Runs on Neovim
-- 0.7's health API (require("health").report_*) and on vim.health.

-- luacheck: read globals vim

local M = {}

-- start, ok, warn, error, info: vim.health's (0.10 on), else report_*
-- (vim.health in 0.8 and 0.9, require("health") in 0.7).
local function reporter()
  local h = vim.health
  if h and h.start then return h.start, h.ok, h.warn, h.error, h.info end
  if not (h and h.report_start) then h = require("health") end
  return h.report_start, h.report_ok, h.report_warn, h.report_error, h.report_info
end

-- The file a module would load from, along package.path/cpath or
-- Neovim's runtimepath ("lua/chatgpt/core.so" in a plugin folder).
local function where(name, ext, path)
  local rel = "lua/" .. name:gsub("%.", "/") .. ext
  local found = vim.api.nvim_get_runtime_file(rel, false)[1]
  if found then return found end
  local searchpath = rawget(package, "searchpath")      -- not in Lua 5.1
  if searchpath then return searchpath(name, path) end
end

function M.check()
  local start, ok, warn, err, info = reporter()
  start("lua-chatgpt")

  local loaded, core = pcall(require, "chatgpt.core")
  if not loaded then
    err("the C core (chatgpt.core) does not load: " .. tostring(core),
        { "In the plugin's folder, run `make nvim` (LuaJIT build: needs gcc, make, "
          .. "libluajit-5.1-dev, libcurl4-openssl-dev and pkg-config on Debian)" })
    return
  end
  ok(("chatgpt.core %s loaded from %s"):format(tostring(core._VERSION),
     tostring(where("chatgpt.core", ".so", package.cpath) or "?")))
  local jit = rawget(_G, "jit")
  info("Lua: " .. (jit and jit.version or _VERSION))

  local curl, tls, http2 = core.curl_version()
  ok("libcurl " .. curl)
  if tls then ok("TLS: " .. tls) else err("libcurl has no TLS: https:// cannot work") end
  if http2 then ok("HTTP/2: yes") else info("HTTP/2: no (HTTP/1.1 is used)") end

  local chatgpt = require "chatgpt"
  if chatgpt._VERSION ~= "lua-chatgpt " .. tostring(core._VERSION) then
    warn(("the Lua files (%s) and the C core (%s) differ"):format(chatgpt._VERSION, tostring(core._VERSION)),
         { "Run `make nvim` again after an update" })
  end

  local client = require "chatgpt.client"
  local env_base = os.getenv("OPENAI_BASE_URL")
  local base = env_base and env_base ~= "" and env_base or client.DEFAULT_BASE
  local made, why = pcall(chatgpt.new, { base_url = base, auth = "none" })
  if made then
    info("base_url: " .. base .. (env_base and env_base ~= "" and " (from $OPENAI_BASE_URL)"
                                  or " (the default; $OPENAI_BASE_URL is not set)"))
  else
    err("$OPENAI_BASE_URL is refused: " .. tostring(why))
  end

  -- where a client made with no key option takes its key from
  local env_key = os.getenv("OPENAI_API_KEY")
  if client.default_key then
    ok("key: set in this session with chatgpt.set_key()")
  elseif env_key and env_key ~= "" then
    ok("key: $OPENAI_API_KEY is set (sent only to " .. base .. ")")
  else
    warn("key: none by default (no chatgpt.set_key(), no $OPENAI_API_KEY)",
         { "Set OPENAI_API_KEY, or give chatgpt.new an api_key_file or api_key_cmd "
           .. "(e.g. {\"pass\", \"show\", \"openai\"}); a local server needs none (auth = \"none\")" })
  end
  info("the library defines no command or mapping; require(\"chatgpt.uv\").attach(vim.uv or vim.loop) "
       .. "runs requests on Neovim's loop, with every callback on the main loop")
end

return M

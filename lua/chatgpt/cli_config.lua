-- chatgpt.cli_config: the files the `chatgpt` command reads besides its
-- input: the config file (checked as ssh checks its own: only you may
-- write it), its settings and profiles, and a --schema file.
--
-- Every error names the file, and the line of the setting when there is
-- one: "~/.config/lua-chatgpt/config.lua:3: unknown setting 'modle' (did
-- you mean 'model'?)".

local core    = require "chatgpt.core"
local args    = require "chatgpt.args"
local compat  = require "chatgpt.compat"
local options = require("chatgpt.client").OPTIONS
local suggest = require("chatgpt.cli_args").suggest

local io, ipairs, load, os, pairs, pcall, setmetatable, tostring, type =
      io, ipairs, load, os, pairs, pcall, setmetatable, tostring, type
local loadstring, setfenv = rawget(_G, "loadstring"), rawget(_G, "setfenv")   -- Lua 5.1, LuaJIT
local band = compat.band

local M = {}

local function env(name)
  local v = os.getenv(name)
  if v and v ~= "" then return v end
end
M.env = env

-- $XDG_<name>, else $HOME .. rest; nil with neither (never the current
-- folder: a command run from a shared folder must not read or write there).
local function xdg(name, rest)
  local dir = env(name)
  if dir then return dir end
  local home = env("HOME")
  return home and (home .. rest) or nil
end
M.xdg = xdg

-- Settings of the command itself; every other one is a chatgpt.new option.
local OWN = { system = "string", temperature = "number", max_tokens = "number" }
M.OWN = OWN
-- The settings that name where the key comes from.
M.KEY_SOURCES = { "api_key_file", "api_key_cmd", "api_key_env" }

local function read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text, rerr = f:read("*a")
  f:close()
  if not text then return nil, rerr end
  return text
end

-- ---- who may write it ------------------------------------------------------

local WRITABLE = 18          -- 022: group or others may write
local STICKY = 512           -- 01000

local function parent(path)
  return path:match("^(.+)/[^/]+$") or (path:sub(1, 1) == "/" and "/" or nil)
end

-- Why path (a file that runs as code, or names a command to run) is not
-- safe to read, with how to fix it; nil when it is. Like ssh: the file and
-- every folder above it, up to $HOME, must belong to you (or root) and be
-- writable by nobody else; a folder above the file's own may be a shared
-- one with the sticky bit (/tmp).
function M.unsafe(path)
  local me = core.getuid()
  local home = env("HOME")
  local p, own_folder = path, true
  local first = true
  while p do
    local st = core.stat(p)
    if not st then return nil end                 -- gone: reading it will say so
    if st.uid ~= me and st.uid ~= 0 then
      return p .. " belongs to another user (uid " .. tostring(st.uid) .. "), and " .. path
             .. " runs as you: chown it to you, or remove it"
    end
    if band(st.mode, WRITABLE) ~= 0 and (first or own_folder or band(st.mode, STICKY) == 0) then
      return p .. " can be written by others, and " .. path .. " runs as you: chmod go-w "
             .. p
    end
    if p == home or p == "/" then break end
    if not first then own_folder = false end
    first = false
    p = parent(p)
  end
end

-- ---- the config file -------------------------------------------------------

-- config.dir() -> $XDG_CONFIG_HOME/lua-chatgpt (default ~/.config/lua-chatgpt)
function M.dir()
  local base = xdg("XDG_CONFIG_HOME", "/.config")
  return base and (base .. "/lua-chatgpt") or nil
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

-- "path:line" of the first place the text sets name, else "path".
local function where(file, name)
  if type(name) ~= "string" then return file.path end
  local quoted = name:gsub("%p", "%%%0")
  local pos = file.json and file.text:find('"' .. quoted .. '"%s*:')
              or file.text:find("%f[%w_]" .. quoted .. "%f[^%w_]%s*=[^=]")
              or file.text:find('%[%s*["\']' .. quoted .. '["\']%s*%]%s*=')
  if not pos then return file.path end
  local _, lines = file.text:sub(1, pos):gsub("\n", "")
  return file.path .. ":" .. (lines + 1)
end
M.where = where

-- Checks one table of settings (the file's, or a profile's).
local function check(file, t, in_profile)
  for k, v in pairs(t) do
    local at = where(file, k)
    if type(k) ~= "string" then
      return nil, at .. ": settings are name = value pairs, found a " .. type(k) .. " key"
    elseif k == "api_key" then
      return nil, at .. ": api_key is not read from a config file: put the key in a file only "
             .. "you can read and name it with api_key_file, or use api_key_cmd or api_key_env"
    elseif k == "profiles" and not in_profile then
      if type(v) ~= "table" then return nil, at .. ": profiles must be a table of profiles" end
      for name, p in pairs(v) do
        if type(name) ~= "string" or type(p) ~= "table" then
          return nil, where(file, name) .. ": profiles: each is name = { settings }"
        end
        local ok, why = check(file, p, true)
        if not ok then return nil, why end
      end
    elseif OWN[k] then
      if type(v) ~= OWN[k] then return nil, at .. ": " .. k .. " must be a " .. OWN[k] end
    elseif options[k] and k ~= "log" or (k == "log" and not file.json) then
      local p = args.problem(v, options[k])
      if p then return nil, at .. ": " .. k .. ": " .. p end
    else
      local names = {}
      for name in pairs(options) do if name ~= "api_key" then names[#names + 1] = name end end
      for name in pairs(OWN) do names[#names + 1] = name end
      if not in_profile then names[#names + 1] = "profiles" end
      local s = suggest(k, names)
      return nil, at .. ": unknown setting '" .. k .. "'" .. (s and (" (did you mean '" .. s .. "'?)") or "")
    end
  end
  return true
end

-- config.load([profile]) -> config | nil, why. config.settings: the file's
-- settings, with the profile's over them (no profiles field); config.file:
-- {path, text, json} or nil; config.key_table: the table (the file's top,
-- or the profile) that names the key's source, and config.key_base the
-- base_url that table binds it to (nil: none, the key is ambient);
-- config.profile_base: the profile's own base_url.
function M.load(profile)
  local dir = M.dir()
  local none = { settings = {} }
  if not dir then
    if profile then return nil, "--profile " .. profile .. ": there is no config file (neither "
                           .. "XDG_CONFIG_HOME nor HOME is set)" end
    return none
  end
  local file = { path = dir .. "/config.lua" }
  local text = read(file.path)
  if not text then
    file = { path = dir .. "/config.json", json = true }
    text = read(file.path)
  end
  if not text then
    if profile then return nil, "--profile " .. profile .. ": there is no config file in " .. dir end
    return none
  end
  file.text = text
  local bad = M.unsafe(file.path)
  if bad then return nil, bad end
  local top, err
  if file.json then
    top, err = core.decode(text)
    if type(top) ~= "table" then
      return nil, file.path .. ": not a JSON object (" .. tostring(err or "") .. ")"
    end
  else
    top, err = run_lua(file.path, text)
    if not top then return nil, err end
  end
  local ok, why = check(file, top, false)
  if not ok then return nil, why end

  local settings = {}
  for k, v in pairs(top) do
    if k ~= "profiles" then settings[k] = v end
  end
  local chosen = nil
  if profile then
    local profiles = type(top.profiles) == "table" and top.profiles or {}
    chosen = profiles[profile]
    if not chosen then
      local s = suggest(profile, profiles)
      return nil, "--profile " .. profile .. ": " .. file.path .. " has no such profile"
             .. (s and (" (did you mean " .. s .. "?)") or "")
    end
    for k, v in pairs(chosen) do settings[k] = v end
  end
  local function names_key(t)
    for _, k in ipairs(M.KEY_SOURCES) do if t[k] ~= nil then return true end end
  end
  -- a key goes with the base_url of the table that names it
  local key_table, key_base
  if chosen and names_key(chosen) then
    key_table, key_base = chosen, chosen.base_url or top.base_url
  elseif names_key(top) then
    key_table, key_base = top, top.base_url
  end
  return { settings = settings, file = file, key_table = key_table, key_base = key_base,
           profile = profile, profile_base = chosen and chosen.base_url }
end

-- ---- --schema FILE -----------------------------------------------------------

-- The file's JSON, decoded with its member order kept, so that a schema's
-- properties go out in the file's order (structured output is generated in
-- that order).
local function decode_schema(text)
  return core.decode(text, "ordered")
end

-- config.read_schema(path) -> {name, schema, strict, description} | nil, why.
-- The file holds a JSON schema, or OpenAI's {name, schema, strict} around one.
function M.read_schema(path)
  local text, rerr = read(path)
  if not text then return nil, "--schema " .. path .. ": cannot read it: "
                               .. tostring(rerr):gsub("^[^:]*: ", "") end
  local doc, err = decode_schema(text)
  if type(doc) ~= "table" then
    return nil, "--schema " .. path .. ": not a JSON object (" .. tostring(err or "a JSON " .. type(doc)) .. ")"
  end
  local wrapped = type(doc.schema) == "table" and doc.type == nil
  local name = wrapped and doc.name
  if type(name) ~= "string" or not name:match("^[%w_%-]+$") then
    name = (path:match("([^/]+)$"):gsub("%.[^.]*$", ""):gsub("[^%w_%-]", "_")):sub(1, 64)
    if name == "" then name = "schema" end
  end
  local strict, description
  if wrapped then strict, description = doc.strict, doc.description end
  if strict ~= nil and type(strict) ~= "boolean" then
    return nil, "--schema " .. path .. ": strict must be true or false"
  end
  return { name = name, schema = wrapped and doc.schema or doc, strict = strict,
           description = type(description) == "string" and description or nil }
end

return M

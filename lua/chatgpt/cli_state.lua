-- chatgpt.cli_state: the files the `chatgpt` command writes: the last
-- conversation (for -c) and the history of -i, in $XDG_STATE_HOME/lua-chatgpt
-- (default ~/.local/state/lua-chatgpt). The folder is made 0700 and every
-- file written 0600, under umask 077 and through a new file renamed into
-- place (an older file keeps no wider mode). With neither XDG_STATE_HOME
-- nor HOME set, nothing is kept: never in the current folder.

local chatgpt = require "chatgpt"
local core    = require "chatgpt.core"
local compat  = require "chatgpt.compat"
local savefile = require "chatgpt.savefile"
local xdg     = require("chatgpt.cli_config").xdg

local error, io, math, os, pcall, table, tostring =
      error, io, math, os, pcall, table, tostring

local M = {}

M.HISTORY_MAX = 1000        -- lines of -i's history kept

-- state.dir() -> the folder, or nil when there is nowhere to keep state
function M.dir()
  local base = xdg("XDG_STATE_HOME", "/.local/state")
  return base and (base .. "/lua-chatgpt") or nil
end

function M.last_file()
  local dir = M.dir()
  return dir and (dir .. "/last.json") or nil
end

function M.history_file()
  local dir = M.dir()
  return dir and (dir .. "/history") or nil
end

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- state.private(fn, ...) -> fn(...)'s results, with umask 077 while fn
-- runs: what it makes, only you may read.
function M.private(fn, ...)
  local old = core.umask(63)             -- 077
  local r = compat.pack(pcall(fn, ...))
  core.umask(old)
  if not r[1] then error(r[2], 0) end
  return compat.unpack(r, 2, r.n)
end

local function mkdir(dir)
  local st = core.stat(dir)
  if st then return st.type == "directory" end
  return M.private(os.execute, "mkdir -p " .. quote(dir) .. " 2>/dev/null") and true or false
end

-- state.write(path, text) -> true | nil, why: a new file, 0600, renamed
-- over path.
function M.write(path, text)
  return M.private(savefile.replace, path, text)
end

-- state.save(conv) -> true | nil, why: kept for -c (nothing is kept, and
-- true returned, when there is nowhere to keep it).
function M.save(conv)
  local path = M.last_file()
  if not path then return true end
  if not mkdir(M.dir()) then return nil, "cannot make the folder " .. M.dir() end
  local ok, err = M.private(conv.save, conv, path)
  if not ok then return nil, "cannot keep the conversation in " .. path .. ": " .. tostring(err) end
  return true
end

-- state.load_last(client) -> conversation | nil, why
function M.load_last(client)
  local path = M.last_file()
  if not path then
    return nil, "there is no state folder (neither XDG_STATE_HOME nor HOME is set)"
  end
  return chatgpt.load(path, client)
end

-- History lines: one entry a line, a newline in it written \n and a
-- backslash \\.
local function escape(s) return (s:gsub("\\", "\\\\"):gsub("\n", "\\n")) end
local function unescape(s)
  return (s:gsub("\\(.)", function(c) return c == "n" and "\n" or c end))
end

-- state.history() -> list of entries, oldest first ({} without a file)
function M.history()
  local path = M.history_file()
  local list = {}
  local f = path and io.open(path, "rb")
  if not f then return list end
  for line in f:lines() do
    if line ~= "" then list[#list + 1] = unescape(line) end
  end
  f:close()
  return list
end

-- state.keep_history(list) -> true | nil, why: the last HISTORY_MAX
-- entries written back.
function M.keep_history(list)
  local path = M.history_file()
  if not path then return true end
  if not mkdir(M.dir()) then return nil, "cannot make the folder " .. M.dir() end
  local out = {}
  for i = math.max(1, #list - M.HISTORY_MAX + 1), #list do out[#out + 1] = escape(list[i]) end
  return M.write(path, #out > 0 and (table.concat(out, "\n") .. "\n") or "")
end

return M

-- Reads the recorded OpenAI responses in spec/fixtures/wire (a copy of
-- ../shared/wire kept in step by `make fixtures`; see its SOURCES.md).
--
--   local wire = require "spec.support.wire"
--   local sse = wire.read("chat_stream_gpt-3.5-turbo-0125_2024-03.sse")
--   local status, headers = wire.headers("chat_stream_gpt-3.5-turbo-0125_2024-03")
--
-- A missing capture, or a pattern no capture matches, raises: a spec that
-- replays captures fails without them instead of passing with none.
-- Captures are replayed through the fake server with
-- fake.script { sse_file = name } or { body_file = name } (relative names
-- resolve against the same folder there).

local M = {}

local function is_dir(path)
  -- glibc opens a directory for reading; the first read fails with EISDIR.
  local f = io.open(path, "rb")
  if not f then return false end
  local ok, _, code = f:read(1)
  f:close()
  return ok == nil and code == 21
end

-- The capture folder: $WIRE_DIR when set, else spec/fixtures/wire
-- (relative to the repository root, busted's current directory).
function M.dir()
  local env = os.getenv("WIRE_DIR")
  if env and env ~= "" then return env end
  return "spec/fixtures/wire"
end

local function path_of(name)
  return M.dir() .. "/" .. name
end

-- The contents of a capture file; raises when it does not exist.
function M.read(name)
  local p = path_of(name)
  local f, err = io.open(p, "rb")
  if not f then error("wire: " .. tostring(err), 2) end
  local s = f:read("*a")
  f:close()
  return s
end

-- Sorted file names of the folder matching a Lua pattern (all when nil);
-- raises when the folder is missing or no name matches.
function M.list(pattern)
  local d = M.dir()
  if not is_dir(d) then error("wire: no capture folder " .. d, 2) end
  local p = io.popen("ls -1A " .. "'" .. d:gsub("'", "'\\''") .. "'")
  local out = {}
  for name in p:lines() do
    if pattern == nil or name:find(pattern) then out[#out + 1] = name end
  end
  p:close()
  if #out == 0 then error("wire: no capture in " .. d .. " matches " .. tostring(pattern), 2) end
  table.sort(out)
  return out
end

-- Drops the content-encoding, content-length and transfer-encoding lines:
-- the bodies are stored decoded, so those describe another transfer.
local SKIP = { ["content-encoding"] = true, ["content-length"] = true,
               ["transfer-encoding"] = true }

-- wire.headers("NAME") or wire.headers("NAME.headers.txt") ->
-- status (integer), { {name, value}, ... } (name case and order kept).
function M.headers(name)
  if not name:find("%.headers%.txt$") then
    name = name:gsub("%.[%a]+$", function(ext)
      return (ext == ".json" or ext == ".sse") and "" or ext
    end) .. ".headers.txt"
  end
  local text = M.read(name)
  local status
  local list = {}
  for line in text:gmatch("[^\r\n]+") do
    if not status then
      status = tonumber(line:match("^HTTP/%S+%s+(%d+)"))
      if not status then error("wire: " .. name .. ": no status line", 2) end
    else
      local n, v = line:match("^([^:]+):%s*(.-)%s*$")
      if n and not SKIP[n:lower()] then list[#list + 1] = { n, v } end
    end
  end
  return status, list
end

-- The data payloads of an SSE text, in order (multi-line data joined by
-- "\n"; comments and other fields ignored). For expectations, not a parser.
function M.events(text)
  local out = {}
  text = text:gsub("\r\n", "\n"):gsub("\r", "\n")
  for block in (text .. "\n\n"):gmatch("(.-)\n\n") do
    local data
    for line in (block .. "\n"):gmatch("(.-)\n") do
      local v = line:match("^data:(.*)$")
      if v then
        v = v:gsub("^ ", "")
        data = data and (data .. "\n" .. v) or v
      end
    end
    if data then out[#out + 1] = data end
  end
  return out
end

return M

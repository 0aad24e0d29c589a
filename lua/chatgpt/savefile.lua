-- A conversation's saved file: JSON with a version, written to a temporary
-- file and renamed over the target; read back with every field checked.
-- Lossless both ways: what was decoded keeps its [], {} and nulls (json.h),
-- and the file is read with its key order kept (a schema in params goes
-- out in its order again).

local core = require "chatgpt.core"
local tables = require "chatgpt.tables"

local getmetatable, io, os, pairs, require, setmetatable, tostring, type =
      getmetatable, io, os, pairs, require, setmetatable, tostring, type
local encode, decode, check_messages = core.encode, core.decode, core.check_messages

local M = {}

M.VERSION = 1

-- A saved conversation is data: its params are the API fields a user chose
-- (model, temperature ...), never the options of our own that a call takes
-- (headers, query, timeouts, retries, callbacks), which a file must not
-- choose for every later say. They are not written, and a file that has
-- one is refused.
local function own_option(k)
  return require("chatgpt.call").OWN[k] ~= nil or require("chatgpt.responses").OWN[k] ~= nil
end

-- savefile.write(path, doc) -> true | nil, msg
function M.write(path, doc)
  doc.version = M.VERSION
  if type(doc.params) == "table" then
    local params = setmetatable({}, getmetatable(doc.params))
    for k, v in pairs(doc.params) do
      if not own_option(k) then params[k] = v end
    end
    doc.params = params
  end
  local text, why = encode(doc, require("chatgpt.client").ARRAY_KEYS)
  if not text then return nil, path .. ": cannot encode the conversation: " .. why end
  return M.replace(path, text .. "\n")
end

-- savefile.replace(path, text) -> true | nil, msg: writes a new file beside
-- path and renames it over path, so that a reader sees the old file or the
-- new one, never half of one.
function M.replace(path, text)
  local tmp = path .. ".tmp"
  os.remove(tmp)                        -- an older one would keep its mode
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  local wok, werr = f:write(text)
  local cok, cerr = f:close()
  if not wok or not cok then
    os.remove(tmp)
    return nil, tmp .. ": " .. tostring(werr or cerr)
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    return nil, rerr
  end
  return true
end

-- savefile.read(path) -> doc (fields checked; messages a list, possibly
-- empty) | nil, msg
function M.read(path)
  local f, oerr = io.open(path, "rb")
  if not f then return nil, oerr end
  local text = f:read("*a")
  f:close()
  if not text then return nil, path .. ": cannot read" end
  local doc, perr = decode(text, "ordered")
  if type(doc) ~= "table" then
    return nil, path .. ": not a saved conversation (invalid JSON: " .. tostring(perr or "not an object") .. ")"
  end
  if doc.version ~= M.VERSION then
    return nil, path .. ": unsupported version " .. tostring(doc.version) .. " (expected " .. M.VERSION .. ")"
  end
  local function bad(field, what)
    return nil, path .. ": '" .. field .. "' must be " .. what
  end
  if doc.messages == nil then doc.messages = {} end
  if not tables.is_list(doc.messages) then return bad("messages", "a list of messages") end
  if #doc.messages > 0 then
    local ok, err = check_messages(doc.messages)
    if not ok then return nil, path .. ": " .. err end
  end
  if doc.model ~= nil and type(doc.model) ~= "string" then return bad("model", "a string") end
  if doc.params ~= nil and type(doc.params) ~= "table" then return bad("params", "an object") end
  for k in pairs(doc.params or {}) do
    if own_option(k) then
      return bad("params", "API fields only ('" .. tostring(k) .. "' is an option of the call: "
                 .. "a saved conversation never chooses one)")
    end
  end
  local r = doc.max_tool_rounds
  if r ~= nil and (type(r) ~= "number" or r < 0 or r % 1 ~= 0) then
    return bad("max_tool_rounds", "a non-negative integer")
  end
  r = doc.max_context_tokens
  if r ~= nil and (type(r) ~= "number" or not (r > 0)) then
    return bad("max_context_tokens", "a positive number")
  end
  if doc.usage ~= nil and type(doc.usage) ~= "table" then return bad("usage", "an object") end
  return doc
end

return M

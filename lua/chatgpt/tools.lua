-- Function tools of a conversation: their definitions, and running one
-- call the model asked for (decode its arguments, call the function under
-- xpcall, turn what it returns into the tool message's content).

local core   = require "chatgpt.core"
local args   = require "chatgpt.args"
local errors = require "chatgpt.error"
local tables = require "chatgpt.tables"

local pairs, select, setmetatable, tostring, type = pairs, select, setmetatable, tostring, type
local xpcall = require("chatgpt.compat").yxpcall   -- a tool may wait (yield) in it, on 5.1 too
local encode, decode = core.encode, core.decode
local ARRAY_KEYS = require("chatgpt.client").ARRAY_KEYS
local traceback = errors.traceback

local M = {}

local FIELDS = { description = "string", parameters = "table", strict = "boolean" }

-- tools.encode(v) -> text | nil, why: JSON as a request would carry it
local function try_encode(v)
  return encode(v, ARRAY_KEYS)
end
M.encode = try_encode

-- The error of a say whose model still asks for tools after n rounds.
function M.rounds_error(n)
  return errors.new { kind = "limit", code = "TOOL_ROUNDS",
                      message = "the model still asked for tools after " .. n .. " rounds" }
end

-- What the call itself would refuse is refused at say's caller: a body
-- field that is one of the call's own options (rules: name -> an args
-- rule) out of its rule, or a body that does not encode. Argument #2 of
-- fname.
function M.check_body(level, fname, body, rules)
  local probe = {}
  for k, v in pairs(body) do
    local rule = rules[k]
    if rule then
      local p = args.problem(v, rule)
      if p then args.error(level + 1, 2, fname, "param '" .. k .. "': " .. p) end
    else
      probe[k] = v
    end
  end
  local _, why = try_encode(probe)
  if why then args.error(level + 1, 2, fname, why) end
end

-- A say's `schema` param, checked (args.check_schema), as {name, schema,
-- description, strict}: its schema may be JSON text, read with its key
-- order kept (the order of properties is the order of the answer's).
function M.schema_param(level, fname, s)
  if type(s.schema) == "string" then
    local v, why = decode(s.schema, "ordered")
    if type(v) ~= "table" then
      args.error(level + 1, 2, fname, "schema.schema is not a JSON object (" .. tostring(why or type(v)) .. ")")
    end
    s = { name = s.name, schema = v, description = s.description, strict = s.strict }
  end
  args.check_schema(level + 1, fname, s)
  return s
end

local callable = args.callable

-- Raises at `level` unless name is 1 to 64 letters, digits, '_' or '-'.
function M.check_name(level, name)
  if type(name) ~= "string" or not name:match("^[%w_%-]+$") or #name > 64 then
    args.error(level + 1, 1, "tool", "a tool name is 1 to 64 letters, digits, '_' or '-'")
  end
end

-- tools.define(level, name, spec, fn) -> tool {def, fn}: checks a tool as
-- conv:tool(name, spec, fn) takes it (spec = {description, parameters,
-- strict}, each optional), raising at `level` for conv:tool's caller.
function M.define(level, name, spec, fn)
  M.check_name(level + 1, name)
  if type(spec) ~= "table" then args.error(level + 1, 2, "tool", "table expected, got " .. type(spec)) end
  if not callable(fn) then args.error(level + 1, 3, "tool", "function expected, got " .. type(fn)) end
  args.options(level + 1, 2, "tool", spec, FIELDS, "field")
  local f = {
    name = name,
    description = spec.description,
    parameters = spec.parameters and tables.deepcopy(spec.parameters)
                 or { type = "object", properties = setmetatable({}, core.object_mt) },
    strict = spec.strict,
  }
  return { def = { type = "function", ["function"] = f }, fn = fn }
end

-- The text sent back for a tool's result: a string as is; nil (and
-- chatgpt.null) as "null"; anything else JSON-encoded.
local function tool_content(v)
  if type(v) == "string" then return v end
  if v == nil then return "null" end
  local s, why = try_encode(v)
  if s then return s end
  return nil, "the tool's result cannot be sent as JSON: " .. why
end

local function error_content(msg)
  msg = tostring(msg)
  if not try_encode(msg) then msg = msg:gsub("[\128-\255]", "?") end
  return encode({ error = msg })
end

-- The first line of an error raised by a tool, without the traceback.
local function first_line(msg)
  return (tostring(msg):match("^[^\n]*"))
end

-- tools.name_of(call) -> the name of the tool a chat tool call is for: a
-- function's, or a custom tool's (call.custom.name).
function M.name_of(call)
  local f = call["function"]
  if type(f) == "table" then return f.name end
  local c = call.custom
  if type(c) == "table" then return c.name end
end

-- tools.run(tool, call) -> the tool message's content, and nil or what
-- went wrong (with a traceback when the tool raised). tool is nil for a
-- name the conversation does not know. A conversation runs function tools
-- only: a call of another kind (custom) gets an error result.
function M.run(tool, call)
  local f = type(call["function"]) == "table" and call["function"] or {}
  local name, raw = f.name, f.arguments
  if call.type ~= nil and call.type ~= "function" then
    local msg = "tool '" .. tostring(M.name_of(call)) .. "' is a " .. tostring(call.type)
                .. " tool: a conversation runs function tools only"
    return error_content(msg), msg
  end
  if not tool then
    local msg = "unknown tool '" .. tostring(name) .. "'"
    return error_content(msg), msg
  end
  local a, perr
  if raw == nil or raw == "" then
    a = {}
  elseif type(raw) == "table" then       -- some servers send an object
    a = raw
  else
    a, perr = decode(tostring(raw))
    if type(a) ~= "table" then
      local msg = "invalid JSON arguments for '" .. name .. "': "
                  .. (perr or "the arguments must be a JSON object")
      return error_content(msg), msg
    end
  end
  local function results(ok, ...) return ok, select("#", ...), ... end
  local ok, n, r1, r2 = results(xpcall(tool.fn, traceback, a, call))
  if not ok then                        -- r1 is text: errors.traceback made it
    return error_content(first_line(r1)), r1
  end
  if n >= 2 and r1 == nil and type(r2) == "string" then   -- return nil, "message"
    return error_content(r2), r2
  end
  local content, err = tool_content(r1)
  if not content then return error_content(err), err end
  if not try_encode(content) then
    err = "the tool's result is not valid UTF-8"
    return error_content(err), err
  end
  return content
end

return M

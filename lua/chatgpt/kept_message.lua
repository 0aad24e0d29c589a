-- chatgpt.kept_message: what a chat conversation keeps of an answer, to
-- send it back on the next say. The assistant message as received (tool
-- calls of every type, nulls, empty lists, unknown fields), less what
-- servers refuse in a request, with only the fixes the API requires; and
-- nothing when the result could not be sent back (conversation.lua's
-- header: a reply is kept only if it could be sent back).

local core   = require "chatgpt.core"
local errors = require "chatgpt.error"
local tools  = require "chatgpt.tools"

local getmetatable, ipairs, pairs, rawget, setmetatable, string, type =
      getmetatable, ipairs, pairs, rawget, setmetatable, string, type
local check_message, try_encode = core.check_message, tools.encode

local M = {}

local call_seq = 0

-- Fields of an assistant message that servers refuse to get back in a
-- request (README, "conv:say"): DeepSeek's and Groq's reasoning text.
local REFUSED = { reasoning_content = true, reasoning = true }

-- A copy of t without the keys of drop, nor their nulls (a decoded
-- object's metatable lists its null members: json.h).
local function without(t, drop)
  local copy = {}
  for k, v in pairs(t) do
    if not drop[k] then copy[k] = v end
  end
  local mt = getmetatable(t)
  local nulls = type(mt) == "table" and rawget(mt, "__jsonnull")
  if type(nulls) == "table" then
    local kept, changed = {}, false
    for k, v in pairs(nulls) do
      if drop[k] then changed = true else kept[k] = v end
    end
    if changed then
      local m = {}
      for k, v in pairs(mt) do m[k] = v end
      m.__jsonnull = kept
      mt = m
    end
  end
  return setmetatable(copy, mt)
end

-- A tool call as it goes back: as received, but with an id when it came
-- without one (its result must name it), and a function call with its
-- type and its arguments as a string (some servers send an object, or
-- nothing). nil, what is wrong.
local function keep_call(c, i)
  if type(c) ~= "table" then return nil, "tool call #" .. i .. " is a " .. type(c) end
  local f, id = c["function"], c.id
  local fix_id = type(id) ~= "string" or id == ""
  local fix_type = c.type == nil and type(f) == "table"
  local fix_args = type(f) == "table" and type(f.arguments) ~= "string"
  if not (fix_id or fix_type or fix_args) then return c end
  c = without(c, {})
  if fix_id then
    call_seq = call_seq + 1
    c.id = string.format("call_lua%d", call_seq)
  end
  if fix_type then c.type = "function" end
  if fix_args then
    local s, why = try_encode(f.arguments or {})
    if not s then return nil, "tool call #" .. i .. "'s arguments: " .. why end
    c["function"] = without(f, {})
    c["function"].arguments = s
  end
  return c
end

-- The assistant message to keep: the reply as received, less what the API
-- refuses in a request (REFUSED, and a tool_calls that is empty or null),
-- with the fixes of keep_call. nil, what is wrong when the reply could not
-- be sent back (see the header).
local function keep_message(msg)
  local content = msg.content
  if content ~= nil and type(content) ~= "string" then
    return nil, "its content is a " .. type(content) .. ", not text"
  end
  local m = without(msg, REFUSED)
  m.role = "assistant"
  local calls = msg.tool_calls
  if type(calls) == "table" and calls[1] ~= nil then
    local list = setmetatable({}, getmetatable(calls))
    for i, c in ipairs(calls) do
      local why
      list[i], why = keep_call(c, i)
      if not list[i] then return nil, why end
    end
    m.tool_calls = list
  else
    m = without(m, { tool_calls = true })
  end
  if m.content == nil and m.tool_calls == nil and m.refusal == nil and m.function_call == nil then
    m.content = ""
  end
  return m
end

-- nil when m can go in a request, else what is wrong with it.
local function unsendable(m)
  local ok, err = check_message(m)
  if not ok then return err end
  local _, why = try_encode(m)
  return why
end

-- The message to commit from a reply, or nil and err{code = "BAD_REPLY"}.
local function kept(msg, response)
  local m, bad = keep_message(msg)
  if m then bad = unsendable(m) end
  if bad then
    return nil, errors.new { kind = "parse", code = "BAD_REPLY", response = response,
      message = "the reply cannot be kept in the conversation: " .. bad }
  end
  return m
end

M.kept, M.unsendable = kept, unsendable

return M

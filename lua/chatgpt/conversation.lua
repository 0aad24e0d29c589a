-- chatgpt.conversation: conversation objects on top of client:chat. A
-- conversation keeps the history, runs the tool loop (the model asks for
-- tools, we run them and feed the results back until it answers), decodes
-- structured output, keeps the history within a token budget, sums the
-- token usage, and saves itself to a JSON file.
--
--   local conv = client:conversation { system = "Be terse." }
--   local reply, response = conv:say("Hi", { on_delta = io.write })
--
-- Every say is all-or-nothing: its new messages (the user message, tool
-- rounds, the reply) are built in a scratch list and join conv.messages only
-- when the say succeeds. A failed, stopped or cancelled say leaves the
-- history exactly as it was (conv.usage still counts the tokens of every
-- response received: they were billed).
--
-- A reply is kept only if it could be sent back: its content a string (or
-- absent beside tool calls), valid UTF-8, its tool calls' arguments
-- encodable as JSON. Anything else (invalid UTF-8, a number or an object as
-- content, arguments holding 1e400) is nil, err{kind = "parse", code =
-- "BAD_REPLY"} with the history untouched: such a reply is an error, never
-- repaired, because a repair would put words in the model's mouth. A usage
-- figure that is not a count (not a finite, non-negative number below 2^53)
-- is ignored, so conv.usage stays exact.
--
-- Errors raised by user code (tools, hooks, count_tokens) become results
-- (a tool's error goes back to the model) or err{kind = "callback"}; any
-- error value is turned into text by errors.traceback, which never raises.
--
-- say() is built on client:chat_async():wait(), so inside chatgpt.spawn it
-- yields to the engine like client:chat does. say_async() runs the same code
-- in a coroutine of chatgpt.spawn and returns a handle with the shape of a
-- request (done, result, wait, cancel, status).

local core   = require "chatgpt.core"
local errors = require "chatgpt.errors"
local loop   = require "chatgpt.loop"

local error, getmetatable, io, ipairs, math, os, pairs, pcall, require, setmetatable,
      string, table, tostring, type, utf8, xpcall =
      error, getmetatable, io, ipairs, math, os, pairs, pcall, require, setmetatable,
      string, table, tostring, type, utf8, xpcall
local floor = math.floor
local traceback = errors.traceback    -- the xpcall handler for user code
local encode, decode, check_messages = core.encode, core.decode, core.check_messages
local ARRAY_KEYS = require("chatgpt.client").ARRAY_KEYS

local M = {}

local Conversation = {}
Conversation.__index = Conversation
M.Conversation = Conversation

local Handle = {}           -- what say_async returns
Handle.__index = Handle
M.Handle = Handle

local VERSION = 1           -- of the saved file format
local PER_MESSAGE = 4       -- tokens of overhead per message (role, framing)
local PER_PART = 85         -- tokens for a non-text content part (an image, low detail)

-- Option name -> Lua type, for client:conversation.
local OPTIONS = {
  system = "string", model = "string", params = "table", max_tool_rounds = "number",
  max_context_tokens = "number", count_tokens = "function", messages = "table",
}

-- say() params that are ours: never sent as API fields.
local OWN = {
  schema = "table", json = "boolean", on_tool_call = "function", on_tool_result = "function",
}

local function argerror(level, n, fname, msg)
  error(string.format("bad argument #%d to '%s' (%s)", n, fname, msg), level + 1)
end

-- A copy of v in which tables are fresh (metatables, e.g. chatgpt.array
-- markers, are kept); functions and other values are shared.
local function deepcopy(v, seen)
  if type(v) ~= "table" then return v end
  seen = seen or {}
  if seen[v] then return seen[v] end
  local t = {}
  seen[v] = t
  for k, x in pairs(v) do t[deepcopy(k, seen)] = deepcopy(x, seen) end
  return setmetatable(t, getmetatable(v))
end

-- A copy without functions (for saving).
local function plain(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do
    if type(x) ~= "function" then t[k] = plain(x) end
  end
  return setmetatable(t, getmetatable(v))
end

local function is_list(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 then return false end
    n = n + 1
  end
  return n == #t
end

-- Strips the position that an inner error() put in front of "chatgpt: ...",
-- so that it can be raised again at the user's line.
local function unwrap(msg)
  if type(msg) ~= "string" then return msg end
  return msg:match("^[^\n]-:%d+: (chatgpt: .*)$") or msg:match("^[^\n]-:%d+: (bad argument .*)$")
         or msg
end

-- Any error value as text, never raising (a table's __tostring may).
local function as_text(e)
  if type(e) == "string" then return e end
  local ok, s = pcall(tostring, e)
  return ok and type(s) == "string" and s or "(error object is a " .. type(e) .. " value)"
end

local function callback_error(msg)
  return errors.new { kind = "callback", code = "CALLBACK_ERROR", message = msg }
end

local function is_client(c)
  local mt = getmetatable(c)
  return type(c) == "table" and mt ~= nil and mt == require("chatgpt.client").Client
end

-- ---- token estimate ---------------------------------------------------------

-- count_tokens(text) -> n: about 4 bytes per token for Latin text, 1 token per
-- CJK character (U+3000-U+9FFF, U+AC00-U+D7AF, U+F900-U+FAFF). An estimate,
-- not a tokenizer: good enough to keep a history within a budget.
local function count_tokens(s)
  local cjk = 0
  for c in s:gmatch("[\xE3-\xEF][\x80-\xBF][\x80-\xBF]") do
    local a, b, d = c:byte(1, 3)
    local cp = ((a & 0x0F) << 12) | ((b & 0x3F) << 6) | (d & 0x3F)
    if (cp >= 0x3000 and cp <= 0x9FFF) or (cp >= 0xAC00 and cp <= 0xD7AF)
        or (cp >= 0xF900 and cp <= 0xFAFF) then
      cjk = cjk + 1
    end
  end
  return cjk + (#s - 3 * cjk + 3) // 4
end
M.count_tokens = count_tokens

-- The user's count_tokens as count(text) -> n | nil, err{kind = "callback"}:
-- it is user code, like the hooks.
local function user_count(fn)
  return function(s)
    local ok, n = xpcall(fn, traceback, s)
    if not ok then return nil, callback_error(n) end
    if type(n) ~= "number" then
      return nil, callback_error("count_tokens returned a " .. type(n) .. ", not a number")
    end
    return n
  end
end

-- Tokens of one message: PER_MESSAGE + its text (content, or the text parts
-- of a content list, PER_PART per other part) + its tool calls' names and
-- arguments. nil, err when count fails.
local function message_tokens(m, count)
  local n, texts = PER_MESSAGE, {}
  local c = m.content
  if type(c) == "string" then
    texts[1] = c
  elseif type(c) == "table" then
    for _, part in ipairs(c) do
      if type(part) == "table" and type(part.text) == "string" then
        texts[#texts + 1] = part.text
      else
        n = n + PER_PART
      end
    end
  end
  if type(m.tool_calls) == "table" then
    for _, call in ipairs(m.tool_calls) do
      local f = type(call) == "table" and call["function"]
      if type(f) == "table" then
        texts[#texts + 1] = tostring(f.name or "")
        texts[#texts + 1] = tostring(f.arguments or "")
      end
    end
  end
  for i = 1, #texts do
    local k, err = count(texts[i])
    if not k then return nil, err end
    n = n + k
  end
  return n
end

local function leading_system(list)
  local head = 0
  while list[head + 1] and (list[head + 1].role == "system" or list[head + 1].role == "developer") do
    head = head + 1
  end
  return head
end

-- Trims list to the budget: whole exchanges (a user message and everything up
-- to the next user message) go, oldest first. The leading system messages
-- and the exchange of the newest user message always stay, so an assistant
-- tool_calls message is never parted from its tool results. Returns the list
-- to send and how many messages after the system ones were dropped, or nil,
-- err{kind = "callback"} when the user's count_tokens fails.
function Conversation:_trim(list)
  local budget = self.max_context_tokens
  if not budget then return list, 0 end
  local count = self.count_tokens and user_count(self.count_tokens) or count_tokens
  local head = leading_system(list)
  local cost, total = {}, 0
  for i, m in ipairs(list) do
    local n, err = message_tokens(m, count)
    if not n then return nil, err end
    cost[i] = n
    total = total + n
  end
  if total <= budget then return list, 0 end
  local last = head + 1                 -- start of the group of the newest user message
  for i = #list, head + 1, -1 do
    if list[i].role == "user" then last = i; break end
  end
  local cut = head                      -- messages head+1 .. cut are dropped
  local i = head + 1
  while total > budget and i < last do
    -- drop the group that starts at i: up to the next user message
    local j = i
    repeat
      total = total - cost[j]
      j = j + 1
    until j >= last or list[j].role == "user"
    cut = j - 1
    i = j
  end
  if cut == head then return list, 0 end
  local out = {}
  for k = 1, head do out[k] = list[k] end
  for k = cut + 1, #list do out[#out + 1] = list[k] end
  return out, cut - head
end

-- ---- construction -------------------------------------------------------------

local function check_list(level, fname, n, messages)
  if #messages == 0 then return end
  local ok, err = check_messages(messages)
  if not ok then argerror(level + 1, n, fname, err) end
end

local function make(client, o)
  local self = setmetatable({
    client = client,
    model = o.model or client.model,
    params = o.params and deepcopy(o.params) or {},
    max_tool_rounds = o.max_tool_rounds or 8,
    max_context_tokens = o.max_context_tokens,
    count_tokens = o.count_tokens,
    messages = o.messages and deepcopy(o.messages) or {},
    usage = { prompt_tokens = 0, completion_tokens = 0, total_tokens = 0 },
    _tools = {},            -- name -> tool
    _order = {},            -- tool names in registration order
  }, Conversation)
  if o.system then
    local first = self.messages[1]
    if first and first.role == "system" then
      first.content = o.system
    else
      table.insert(self.messages, 1, { role = "system", content = o.system })
    end
  end
  return self
end

-- client:conversation(options) -> conversation
function M.new(client, opts)
  if not is_client(client) then
    argerror(2, 1, "new", "client expected, got " .. type(client))
  end
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    argerror(2, 1, "conversation", "table expected, got " .. type(opts))
  end
  for k, v in pairs(opts) do
    local want = OPTIONS[k]
    if not want then argerror(2, 1, "conversation", "unknown option '" .. tostring(k) .. "'") end
    if type(v) ~= want then
      argerror(2, 1, "conversation", "option '" .. k .. "' must be a " .. want .. ", got " .. type(v))
    end
  end
  local r = opts.max_tool_rounds
  if r ~= nil and (math.tointeger(r) == nil or r < 0) then
    argerror(2, 1, "conversation", "option 'max_tool_rounds' must be a non-negative integer")
  end
  r = opts.max_context_tokens
  if r ~= nil and not (r > 0) then
    argerror(2, 1, "conversation", "option 'max_context_tokens' must be a positive number")
  end
  if opts.messages then
    if not is_list(opts.messages) then
      argerror(2, 1, "conversation", "option 'messages' must be a list of messages")
    end
    check_list(2, "conversation", 1, opts.messages)
  end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.max_tool_rounds = o.max_tool_rounds and math.tointeger(o.max_tool_rounds)
  return make(client, o)
end

function Conversation:__tostring()
  return string.format("chatgpt.conversation (%s, %d messages)", tostring(self.model),
                       #self.messages)
end

-- ---- history ------------------------------------------------------------------

-- One say at a time per conversation: a second one (or an edit of the
-- history) while a say runs would be lost or corrupt its commit.
local function busy(level, what)
  error("chatgpt: the conversation is busy with a say (" .. what .. " while it runs; "
        .. "fork() it to say things in parallel)", level + 1)
end

-- conv:add(role, content [, fields]) or conv:add(message) -> the message
function Conversation:add(role, content, fields)
  if self._busy then busy(2, "cannot add") end
  local m
  if type(role) == "table" and content == nil then
    m = deepcopy(role)
  else
    if type(role) ~= "string" then
      argerror(2, 1, "add", "string or message expected, got " .. type(role))
    end
    local r, why, n = core.message(role, content, fields)
    if not r then argerror(2, n, "add", why) end
    m = r
  end
  local ok, err = check_messages({ m })
  if not ok then argerror(2, 1, "add", (err:gsub("^bad message #1 %((.*)%)$", "%1"))) end
  self.messages[#self.messages + 1] = m
  return m
end

-- conv:undo() -> the dropped messages (a list), or nil when there is no user
-- message: drops the last exchange, i.e. the last user message and
-- everything after it.
function Conversation:undo()
  if self._busy then busy(2, "cannot undo") end
  local list = self.messages
  for i = #list, 1, -1 do
    if list[i].role == "user" then
      local dropped = table.move(list, i, #list, 1, {})
      for k = #list, i, -1 do list[k] = nil end
      return dropped
    end
  end
  return nil
end

-- conv:reset(): forgets the history but the leading system (and developer)
-- messages. conv.usage is kept: it counts what the conversation cost.
function Conversation:reset()
  if self._busy then busy(2, "cannot reset") end
  local list = self.messages
  for k = #list, leading_system(list) + 1, -1 do list[k] = nil end
  return self
end

-- conv:fork() -> an independent copy: same client, model, options, usage so
-- far and tools (the same functions; tools registered later on one of them
-- do not show up on the other); history and params are deep copies.
function Conversation:fork()
  local c = make(self.client, {
    model = self.model, params = self.params, max_tool_rounds = self.max_tool_rounds,
    max_context_tokens = self.max_context_tokens, count_tokens = self.count_tokens,
    messages = self.messages,
  })
  for k, v in pairs(self.usage) do c.usage[k] = v end
  for i, name in ipairs(self._order) do
    c._order[i] = name
    c._tools[name] = self._tools[name]
  end
  return c
end

-- ---- tools --------------------------------------------------------------------

local TOOL_FIELDS = { description = "string", parameters = "table", strict = "boolean" }

-- conv:tool(name, spec, fn) -> conv: registers (or replaces) a function tool.
-- spec = { description = string, parameters = JSON schema table, strict = bool },
-- each optional; conv:tool(name, fn) is conv:tool(name, {}, fn).
-- conv:tool(name) unregisters it.
function Conversation:tool(name, spec, fn)
  if type(name) ~= "string" or not name:match("^[%w_%-]+$") or #name > 64 then
    argerror(2, 1, "tool", "a tool name is 1 to 64 letters, digits, '_' or '-'")
  end
  if spec == nil and fn == nil then
    if self._tools[name] then
      self._tools[name] = nil
      for i, n in ipairs(self._order) do
        if n == name then table.remove(self._order, i); break end
      end
    end
    return self
  end
  if type(spec) == "function" and fn == nil then spec, fn = {}, spec end
  if type(spec) ~= "table" then argerror(2, 2, "tool", "table expected, got " .. type(spec)) end
  local mt = getmetatable(fn)
  if type(fn) ~= "function" and not (type(mt) == "table" and mt.__call) then
    argerror(2, 3, "tool", "function expected, got " .. type(fn))
  end
  for k, v in pairs(spec) do
    local want = TOOL_FIELDS[k]
    if not want then argerror(2, 2, "tool", "unknown field '" .. tostring(k) .. "'") end
    if type(v) ~= want then
      argerror(2, 2, "tool", "field '" .. k .. "' must be a " .. want .. ", got " .. type(v))
    end
  end
  local f = {
    name = name,
    description = spec.description,
    parameters = spec.parameters and deepcopy(spec.parameters)
                 or { type = "object", properties = setmetatable({}, { __jsontype = "object" }) },
    strict = spec.strict,
  }
  if not self._tools[name] then self._order[#self._order + 1] = name end
  self._tools[name] = { def = { type = "function", ["function"] = f }, fn = fn }
  return self
end

-- The text sent back for a tool's result: a string as is; nil (and
-- chatgpt.null) as "null"; anything else JSON-encoded.
local function tool_content(v)
  if type(v) == "string" then return v end
  if v == nil then return "null" end
  local s, why = encode(v, ARRAY_KEYS)
  if s then return s end
  return nil, "the tool's result cannot be sent as JSON: " .. why
end

local function error_content(msg)
  msg = tostring(msg)
  if not utf8.len(msg) then msg = msg:gsub("[\128-\255]", "?") end
  return encode({ error = msg })
end

-- The first line of an error raised by a tool, without the traceback.
local function first_line(msg)
  return (tostring(msg):match("^[^\n]*"))
end

-- Runs one tool call. Returns the tool message's content, and nil or what
-- went wrong (with a traceback when the tool raised).
function Conversation:_run_tool(call)
  local f = type(call["function"]) == "table" and call["function"] or {}
  local name, raw = f.name, f.arguments
  local tool = type(name) == "string" and self._tools[name]
  if not tool then
    local msg = "unknown tool '" .. tostring(name) .. "'"
    return error_content(msg), msg
  end
  local args, perr
  if raw == nil or raw == "" then
    args = {}
  elseif type(raw) == "table" then       -- some servers send an object
    args = raw
  else
    args, perr = decode(tostring(raw))
    if type(args) ~= "table" then
      local msg = "invalid JSON arguments for '" .. name .. "': "
                  .. (perr or "the arguments must be a JSON object")
      return error_content(msg), msg
    end
  end
  local res = table.pack(xpcall(tool.fn, traceback, args, call))
  if not res[1] then                    -- res[2] is text: errors.traceback made it
    return error_content(first_line(res[2])), res[2]
  end
  if res[2] == nil and type(res[3]) == "string" then      -- return nil, "message"
    return error_content(res[3]), res[3]
  end
  local content, err = tool_content(res[2])
  if not content then return error_content(err), err end
  if not utf8.len(content) then
    err = "the tool's result is not valid UTF-8"
    return error_content(err), err
  end
  return content
end

-- ---- say ----------------------------------------------------------------------

-- Calls one of the say hooks; nil, or the err that ends the say.
local function hook(fn, ...)
  if not fn then return nil end
  local ok, r = xpcall(fn, traceback, ...)
  if not ok then return callback_error(r) end
  if r == false then
    return errors.new { kind = "cancelled", code = "STOPPED", message = "stopped by a callback" }
  end
end

local EXACT = 2 ^ 53         -- counts below it add up exactly in a double

-- Adds a response's usage to conv.usage. A figure that is not a count (not
-- a number, NaN, negative, inf from 1e400, 2^53 or more) is ignored, so that
-- conv.usage stays finite and exact; a fraction is rounded. No math.type:
-- this runs on Lua 5.1 too.
local function add_usage(self, usage)
  if type(usage) ~= "table" then return end
  local u = self.usage
  for _, k in ipairs { "prompt_tokens", "completion_tokens", "total_tokens" } do
    local v = usage[k]
    if type(v) == "number" and v >= 0 and v < EXACT then    -- false for NaN
      local n = floor(v)                -- an integer on 5.3+ (v is in range)
      if v - n >= 0.5 then n = n + 1 end
      u[k] = u[k] + n
    end
  end
end

local call_seq = 0

-- The assistant message to keep: only the fields a request may carry back
-- (and an id for a tool call that came without one). nil, what is wrong
-- when the reply could not be sent back (see the header).
local function keep_message(msg)
  local content = msg.content
  if content ~= nil and type(content) ~= "string" then
    return nil, "its content is a " .. type(content) .. ", not text"
  end
  local m = { role = "assistant", content = content }
  if type(msg.refusal) == "string" then m.refusal = msg.refusal end
  if type(msg.tool_calls) == "table" and #msg.tool_calls > 0 then
    local calls = {}
    for i, c in ipairs(msg.tool_calls) do
      local f = type(c["function"]) == "table" and c["function"] or {}
      local id = c.id
      if type(id) ~= "string" or id == "" then
        call_seq = call_seq + 1
        id = string.format("call_lua%d", call_seq)
      end
      local args = f.arguments
      if type(args) ~= "string" then    -- some servers send an object
        local s, why = encode(args or {}, ARRAY_KEYS)
        if not s then
          return nil, "tool call #" .. i .. "'s arguments: " .. why
        end
        args = s
      end
      calls[i] = { id = id, type = c.type or "function",
                   ["function"] = { name = f.name, arguments = args } }
    end
    m.tool_calls = calls
  end
  if m.content == nil and m.tool_calls == nil and m.refusal == nil then m.content = "" end
  return m
end

-- nil when m can go in a request, else what is wrong with it.
local function unsendable(m)
  local ok, err = check_messages({ m })
  if not ok then return err end
  local s, why = encode(m, ARRAY_KEYS)
  if not s then return why end
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

-- Checks say's arguments; returns the user message and the job.
local function prepare(self, fname, what, params, level)
  local msg
  if type(what) == "string" then
    msg = { role = "user", content = what }
  elseif type(what) == "table" then
    if what.role == nil then                   -- a list of content parts
      msg = { role = "user", content = deepcopy(what) }
    else
      msg = deepcopy(what)
    end
    local ok, err = check_messages({ msg })
    if not ok then
      argerror(level + 1, 1, fname, (err:gsub("^bad message #1 %((.*)%)$", "%1")))
    end
  else
    argerror(level + 1, 1, fname, "string or message expected, got " .. type(what))
  end
  if params ~= nil and type(params) ~= "table" then
    argerror(level + 1, 2, fname, "table expected, got " .. type(params))
  end
  -- conversation params, then the call's over them
  local body, own = {}, {}
  for _, src in ipairs { self.params, params or {} } do
    for k, v in pairs(src) do
      if OWN[k] then own[k] = v else body[k] = v end
    end
  end
  for k, v in pairs(own) do
    if type(v) ~= OWN[k] then
      argerror(level + 1, 2, fname, "param '" .. k .. "' must be a " .. OWN[k] .. ", got " .. type(v))
    end
  end
  if own.schema and own.json then
    argerror(level + 1, 2, fname, "give 'schema' or 'json', not both")
  end
  if own.schema then
    local s = own.schema
    if type(s.name) ~= "string" or not s.name:match("^[%w_%-]+$") then
      argerror(level + 1, 2, fname, "schema.name must be a name of letters, digits, '_' or '-'")
    end
    if type(s.schema) ~= "table" then
      argerror(level + 1, 2, fname, "schema.schema must be a JSON schema table")
    end
    if s.description ~= nil and type(s.description) ~= "string" then
      argerror(level + 1, 2, fname, "schema.description must be a string")
    end
    if s.strict ~= nil and type(s.strict) ~= "boolean" then
      argerror(level + 1, 2, fname, "schema.strict must be a boolean")
    end
    body.response_format = { type = "json_schema", json_schema = {
      name = s.name, description = s.description, schema = s.schema, strict = s.strict ~= false,
    } }
  elseif own.json then
    body.response_format = { type = "json_object" }
  end
  if body.model == nil then body.model = self.model end
  local streamed = body.stream == true or body.on_delta ~= nil or body.on_chunk ~= nil
  if streamed and body.stream_options == nil then
    body.stream_options = { include_usage = true }      -- so that conv.usage counts streams
  end
  if #self._order > 0 then               -- registered tools, after any in params.tools
    local tools = {}
    if type(body.tools) == "table" then
      for i, t in ipairs(body.tools) do tools[i] = t end
    end
    for _, name in ipairs(self._order) do tools[#tools + 1] = self._tools[name].def end
    body.tools = tools
  end
  return msg, { body = body, own = own, decode = own.schema ~= nil or own.json == true }
end

local function limit_error(n)
  return errors.new { kind = "limit", code = "TOOL_ROUNDS",
                      message = "the model still asked for tools after " .. n .. " rounds" }
end

-- The whole say: requests, tool rounds, commit. h is say_async's handle (nil
-- for say). Returns true, reply, response, info | nil, err | false, message
-- to raise (a programmer's error found by client:chat_async).
function Conversation:_run(msg, job, h)
  local client, body, own = self.client, job.body, job.own
  local history = self.messages
  local scratch = { msg }
  local rounds = 0
  while true do
    if h and h.status ~= "pending" then return nil, h._err end
    local list = table.move(history, 1, #history, 1, {})
    table.move(scratch, 1, #scratch, #list + 1, list)
    local send, dropped = self:_trim(list)
    if not send then return nil, dropped end
    local ok, req = pcall(client.chat_async, client, send, body)
    if not ok then return false, unwrap(req) end
    if h then h._req = req end
    local text, response, info = req:wait()
    if h then h._req = nil end
    if text == nil and errors.is(response) then return nil, response end
    add_usage(self, response.usage)
    if h and h.status ~= "pending" then return nil, h._err end
    local message = response.choices[1].message
    local calls = message.tool_calls
    if type(calls) == "table" and #calls > 0 then
      if rounds >= self.max_tool_rounds then return nil, limit_error(rounds) end
      rounds = rounds + 1
      local keep, kerr = kept(message, response)
      if not keep then return nil, kerr end
      scratch[#scratch + 1] = keep
      for _, call in ipairs(keep.tool_calls) do
        local err = hook(own.on_tool_call, call)
        if err then return nil, err end
        if h and h.status ~= "pending" then return nil, h._err end
        local content, failure = self:_run_tool(call)
        err = hook(own.on_tool_result, call, content, failure)
        if err then return nil, err end
        local result = { role = "tool", tool_call_id = call.id, content = content }
        local bad = unsendable(result)  -- none expected: content and id were checked
        if bad then return nil, errors.new { kind = "parse", code = "BAD_REPLY",
          response = response, message = "a tool result cannot be sent: " .. bad } end
        scratch[#scratch + 1] = result
      end
      if body.tool_choice ~= nil and body.tool_choice ~= "auto" and body.tool_choice ~= "none" then
        -- a forced tool_choice holds for the first request only, else the
        -- model could never answer
        body.tool_choice = nil
      end
    else
      local keep, kerr = kept(message, response)
      if not keep then return nil, kerr end
      local reply = text
      if job.decode then
        local v, perr = decode(text or "")
        if type(v) ~= "table" then
          return nil, errors.new { kind = "parse", code = "BAD_JSON", response = response,
            message = "the reply is not a JSON object: " .. (perr or tostring(text):sub(1, 60)) }
        end
        reply = v
      end
      if h and h.status ~= "pending" then return nil, h._err end
      -- commit: what was sent (trimmed) plus the new messages
      local head = leading_system(history)
      local new = table.move(history, 1, head, 1, {})
      table.move(history, head + dropped + 1, #history, #new + 1, new)
      table.move(scratch, 1, #scratch, #new + 1, new)
      new[#new + 1] = keep
      -- in place: a reference to conv.messages stays the history
      table.move(new, 1, #new, 1, history)
      for k = #history, #new + 1, -1 do history[k] = nil end
      return true, reply, response, info
    end
  end
end

-- conv:say(text | message | content parts [, params]) -> reply, response, info | nil, err
-- reply: the text of the answer, or the decoded table with params.schema or
-- params.json.
function Conversation:say(what, params)
  if self._busy then busy(2, "cannot say") end
  local msg, job = prepare(self, "say", what, params, 2)
  local token = {}
  self._busy = token
  local pok, ok, a, b, c = pcall(self._run, self, msg, job, nil)
  if self._busy == token then self._busy = nil end
  if not pok then error(ok, 0) end      -- an internal error, with its own position
  if ok == false then error(a, 2) end
  if not ok then return nil, a end
  return a, b, c
end

-- conv:say_async(what [, params]) -> handle. The say runs in a coroutine of
-- chatgpt.spawn: each request is client:chat_async's, and its wait yields to
-- the engine, so chatgpt.poll() (or handle:wait()) drives the whole tool
-- loop, and tool functions run from inside poll, in that coroutine (they may
-- call client:chat, which yields too).
function Conversation:say_async(what, params)
  if self._busy then busy(2, "cannot say") end
  local msg, job = prepare(self, "say_async", what, params, 2)
  local h = setmetatable({ status = "pending", conversation = self }, Handle)
  self._busy = h
  local started = false
  loop.spawn(function()
    local pok, ok, a, b, c = pcall(self._run, self, msg, job, h)
    local level = 2
    if not pok then ok, a, level = false, ok, 0 end  -- an internal error, with its own position
    if self._busy == h then self._busy = nil end
    if h.status ~= "pending" then return end          -- cancelled meanwhile
    if ok == false then
      if not started then h._raise = { a, level }; return end  -- before the first wait
      a = errors.new { kind = "callback", code = "RAISED", message = as_text(a) }
      ok = nil
    end
    if ok then
      h.status, h._results = "done", table.pack(a, b, c)
    else
      h.status, h._err = a.kind == "cancelled" and "cancelled" or "failed", a
    end
    loop.wake(h)
  end)
  started = true
  if h._raise then error(h._raise[1], h._raise[2]) end
  return h
end

-- ---- the say_async handle ----------------------------------------------------------

function Handle:done()
  return self.status ~= "pending"
end

-- reply, response, info | nil, err once settled; nothing while pending.
function Handle:result()
  local r = self._results
  if r then return r[1], r[2], r[3] end
  if self._err then return nil, self._err end
end

-- Drives the engine (yields inside chatgpt.spawn) until the say settles;
-- after `seconds`, nil, err{kind = "timeout", code = "WAIT_TIMEOUT"} and the
-- say goes on.
function Handle:wait(seconds)
  if seconds ~= nil and (type(seconds) ~= "number" or seconds < 0) then
    error("bad argument #1 to 'wait' (non-negative number expected)", 2)
  end
  if not loop.wait(self, seconds) then
    return nil, errors.new { kind = "timeout", code = "WAIT_TIMEOUT",
                             message = "still pending after " .. seconds .. " s (the say goes on)" }
  end
  return self:result()
end

-- Stops the say at once (the request in flight is cancelled; a tool running
-- now finishes, but nothing after it runs). The history stays as it was.
function Handle:cancel()
  if self.status ~= "pending" then return end
  self.status = "cancelled"
  self._err = errors.new { kind = "cancelled", code = "CANCELLED", message = "say cancelled" }
  local conv = self.conversation
  if conv._busy == self then conv._busy = nil end
  if self._req then self._req:cancel() end
  loop.wake(self)
end

Handle.__close = Handle.cancel

function Handle:__tostring()
  return "chatgpt.say (" .. self.status .. ")"
end

-- ---- save and load ----------------------------------------------------------------

-- conv:save(path) -> true | nil, msg. Writes path .. ".tmp", then renames it
-- over path. Tools and functions (callbacks, count_tokens) are not saved.
function Conversation:save(path)
  if type(path) ~= "string" then argerror(2, 1, "save", "string expected, got " .. type(path)) end
  local first = self.messages[1]
  local doc = {
    version = VERSION,
    model = self.model,
    system = first and first.role == "system" and type(first.content) == "string"
             and first.content or nil,
    params = setmetatable(plain(self.params), { __jsontype = "object" }),
    messages = self.messages,
    usage = self.usage,
    max_tool_rounds = self.max_tool_rounds,
    max_context_tokens = self.max_context_tokens,
  }
  local text, why = encode(doc, ARRAY_KEYS)
  if not text then return nil, path .. ": cannot encode the conversation: " .. why end
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  local wok, werr = f:write(text, "\n")
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

-- chatgpt.load(path, client) -> conversation | nil, msg
function M.load(path, client)
  if type(path) ~= "string" then argerror(2, 1, "load", "string expected, got " .. type(path)) end
  if not is_client(client) then argerror(2, 2, "load", "client expected, got " .. type(client)) end
  local f, oerr = io.open(path, "rb")
  if not f then return nil, oerr end
  local text = f:read("a")
  f:close()
  if not text then return nil, path .. ": cannot read" end
  local doc, perr = decode(text)
  if type(doc) ~= "table" then
    return nil, path .. ": not a saved conversation (invalid JSON: " .. tostring(perr or "not an object") .. ")"
  end
  if doc.version ~= VERSION then
    return nil, path .. ": unsupported version " .. tostring(doc.version) .. " (expected " .. VERSION .. ")"
  end
  local function bad(field, what)
    return nil, path .. ": '" .. field .. "' must be " .. what
  end
  local messages = doc.messages
  if messages == nil then messages = {} end
  if not is_list(messages) then return bad("messages", "a list of messages") end
  if #messages > 0 then
    local ok, err = check_messages(messages)
    if not ok then return nil, path .. ": " .. err end
  end
  if doc.model ~= nil and type(doc.model) ~= "string" then return bad("model", "a string") end
  if doc.params ~= nil and type(doc.params) ~= "table" then return bad("params", "an object") end
  local r = doc.max_tool_rounds
  if r ~= nil and (math.type(r) ~= "integer" or r < 0) then
    return bad("max_tool_rounds", "a non-negative integer")
  end
  r = doc.max_context_tokens
  if r ~= nil and (type(r) ~= "number" or not (r > 0)) then
    return bad("max_context_tokens", "a positive number")
  end
  local usage = doc.usage
  if usage ~= nil and type(usage) ~= "table" then return bad("usage", "an object") end
  local conv = make(client, {
    model = doc.model, params = doc.params, messages = messages,
    max_tool_rounds = doc.max_tool_rounds, max_context_tokens = doc.max_context_tokens,
  })
  if type(doc.system) == "string" and leading_system(conv.messages) == 0 then
    table.insert(conv.messages, 1, { role = "system", content = doc.system })
  end
  add_usage(conv, usage)
  return conv
end

return M

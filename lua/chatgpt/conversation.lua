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
-- error value is turned into text by error.traceback, which never raises.
--
-- The context budget is budget.lua's, the tools tools.lua's, the saved file
-- savefile.lua's; say_async's handle shares request's methods (pending.lua).
--
-- say() is built on client:chat_async():wait(), so inside chatgpt.spawn it
-- yields to the engine like client:chat does. say_async() runs the same code
-- in a coroutine of chatgpt.spawn and returns a handle with the shape of a
-- request (done, result, wait, cancel, status).

local core     = require "chatgpt.core"
local args     = require "chatgpt.args"
local budget   = require "chatgpt.budget"
local errors   = require "chatgpt.error"
local loop     = require "chatgpt.loop"
local pending  = require "chatgpt.pending"
local savefile = require "chatgpt.savefile"
local tables   = require "chatgpt.tables"
local tools    = require "chatgpt.tools"

local error, getmetatable, ipairs, pairs, require, setmetatable, string, table, tostring, type =
      error, getmetatable, ipairs, pairs, require, setmetatable, string, table, tostring, type
-- a say waits (yields, inside chatgpt.spawn) under these: 5.1 needs compat's
local compat   = require "chatgpt.compat"
local xpcall, ypcall = compat.yxpcall, compat.ypcall
local floor = math.floor
local traceback = errors.traceback    -- the xpcall handler for user code
local decode, check_message, check_messages = core.decode, core.check_message, core.check_messages
local CHAT_OWN = require("chatgpt.client").OWN     -- params client:chat keeps for itself
local deepcopy, is_list, leading_system = tables.deepcopy, tables.is_list, budget.leading_system
local argerror = args.error

local M = {}

local Conversation = {}
Conversation.__index = Conversation
M.Conversation = Conversation

local Handle = { kind = "say" }       -- what say_async returns
Handle.__index = Handle
M.Handle = Handle

M.count_tokens = budget.count_tokens

-- Option name -> rule, for client:conversation.
local OPTIONS = {
  system = "string", model = "string", params = "table",
  max_tool_rounds = { "number", min = 0, integer = true },
  max_context_tokens = { "number", above = 0 }, count_tokens = "function", messages = "table",
}

-- say() params that are ours: never sent as API fields. on_tool_call and
-- on_tool_result are the old names of before_tool and after_tool.
local OWN = {
  schema = "table", json = "boolean", before_tool = "function", after_tool = "function",
  on_tool_call = "function", on_tool_result = "function",
}

local function callback_error(msg)
  return errors.new { kind = "callback", code = "CALLBACK_ERROR", message = msg }
end

local function is_client(c)
  local mt = getmetatable(c)
  return type(c) == "table" and mt ~= nil and mt == require("chatgpt.client").Client
end

-- ---- construction -------------------------------------------------------------

local function check_list(level, fname, n, messages)
  if #messages == 0 then return end
  local ok, err = check_messages(messages)
  if not ok then argerror(level + 1, n, fname, err) end
end

-- The system message of a message list: the first one's content when it
-- is a system message, else a new first message (also for the command's
-- -s on a continued conversation).
function M.set_system(messages, text)
  local first = messages[1]
  if first and first.role == "system" then
    first.content = text
  else
    table.insert(messages, 1, { role = "system", content = text })
  end
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
  if o.system then M.set_system(self.messages, o.system) end
  return self
end

-- client:conversation(options) -> conversation; level: where errors point
-- (2, the caller; client:conversation passes 3)
function M.new(client, opts, level)
  level = level or 2
  if not is_client(client) then
    argerror(level, 1, "new", "client expected, got " .. type(client))
  end
  opts = args.options(level, 1, "conversation", opts, OPTIONS)
  if opts.messages then
    if not is_list(opts.messages) then
      argerror(level, 1, "conversation", "option 'messages' must be a list of messages")
    end
    check_list(level, "conversation", 1, opts.messages)
  end
  return make(client, opts)
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
  local ok, why = check_message(m)
  if not ok then argerror(2, 1, "add", why) end
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
      local dropped = {}
      for k = i, #list do dropped[#dropped + 1] = list[k] end
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

-- conv:tool(name, spec, fn) -> conv: registers (or replaces) a function tool.
-- spec = { description = string, parameters = JSON schema table, strict = bool },
-- each optional; conv:tool(name, fn) is conv:tool(name, {}, fn).
-- conv:tool(name) unregisters it.
function Conversation:tool(name, spec, fn)
  tools.check_name(2, name)
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
  local tool = tools.define(2, name, spec, fn)
  if not self._tools[name] then self._order[#self._order + 1] = name end
  self._tools[name] = tool
  return self
end

-- ---- say ----------------------------------------------------------------------

-- Calls one of the say hooks; nil, or the err that ends the say.
-- (M.hook: the Responses flavour's too.)
local function hook(fn, ...)
  if not fn then return nil end
  local ok, r = xpcall(fn, traceback, ...)
  if not ok then return callback_error(r) end
  if r == false then
    return errors.new { kind = "cancelled", code = "STOPPED", message = "stopped by a callback" }
  end
end

M.hook = hook

-- What a turn gives its caller: the answer's text, or with json/schema the
-- object it holds (a table, or nil, err{kind = "parse", code = "BAD_JSON"}).
local function reply_of(job, text, response)
  if not job.decode then return text end
  local v, perr = decode(text or "")
  if type(v) ~= "table" then
    return nil, errors.new { kind = "parse", code = "BAD_JSON", response = response,
      message = "the reply is not a JSON object: " .. (perr or tostring(text):sub(1, 60)) }
  end
  return v
end
M.reply_of = reply_of

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

local kept_message = require "chatgpt.kept_message"
local kept, unsendable = kept_message.kept, kept_message.unsendable

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
    local ok, why = check_message(msg)
    if not ok then argerror(level + 1, 1, fname, why) end
  else
    argerror(level + 1, 1, fname, "string or message expected, got " .. type(what))
  end
  local _, why = tools.encode(msg)
  if why then argerror(level + 1, 1, fname, why) end
  local body, own = args.split_params(level + 1, fname, OWN, self.params, params)
  own.before_tool = own.before_tool or own.on_tool_call
  own.after_tool = own.after_tool or own.on_tool_result
  if own.schema and own.json then
    argerror(level + 1, 2, fname, "give 'schema' or 'json', not both")
  end
  if own.schema then
    local s = tools.schema_param(level + 1, fname, own.schema)
    body.response_format = { type = "json_schema", json_schema = {
      name = s.name, description = s.description, schema = s.schema, strict = s.strict ~= false,
    } }
  elseif own.json then
    body.response_format = { type = "json_object" }
  end
  if body.model == nil then body.model = self.model end
  local streamed = body.stream == true or body.on_delta ~= nil or body.on_chunk ~= nil
                   or body.on_reasoning ~= nil
  if streamed and body.stream_options == nil then
    body.stream_options = { include_usage = true }      -- so that conv.usage counts streams
  end
  if #self._order > 0 then               -- registered tools, after any in params.tools
    local list = {}
    if type(body.tools) == "table" then
      for i, t in ipairs(body.tools) do list[i] = t end
    end
    for _, name in ipairs(self._order) do list[#list + 1] = self._tools[name].def end
    body.tools = list
  end
  -- what client:chat would refuse is refused here, at say's caller
  tools.check_body(level + 1, fname, body, CHAT_OWN)
  return msg, { body = body, own = own, decode = own.schema ~= nil or own.json == true }
end

-- say and say_async call self:_prepare and self:_run: the Responses
-- flavour (responses_conversation.lua) brings its own and shares the rest.
Conversation._prepare = prepare

-- The whole say: requests, tool rounds, commit. h is say_async's handle (nil
-- for say). Returns true, reply, response, info | nil, err.
function Conversation:_run(msg, job, h)
  local client, body, own = self.client, job.body, job.own
  local history = self.messages
  local scratch = { msg }
  local rounds = 0
  while true do
    if h and h.status ~= "pending" then return nil, h._err end
    local list = {}
    for i = 1, #history do list[i] = history[i] end
    for i = 1, #scratch do list[#list + 1] = scratch[i] end
    local send, dropped = budget.trim(list, self.max_context_tokens, self.count_tokens, body.model)
    if not send then return nil, dropped end
    local req = client:chat_async(send, body)   -- say's arguments were checked by prepare
    if h then h._req = req end
    local text, response, info = req:wait()
    if h then h._req = nil end
    if text == nil and errors.is(response) then return nil, response end
    add_usage(self, response.usage)
    if h and h.status ~= "pending" then return nil, h._err end
    local message = response.choices[1].message
    local calls = message.tool_calls
    if type(calls) == "table" and #calls > 0 then
      if rounds >= self.max_tool_rounds then return nil, tools.rounds_error(rounds) end
      rounds = rounds + 1
      local keep, kerr = kept(message, response)
      if not keep then return nil, kerr end
      scratch[#scratch + 1] = keep
      for _, call in ipairs(keep.tool_calls) do
        local err = hook(own.before_tool, call)
        if err then return nil, err end
        if h and h.status ~= "pending" then return nil, h._err end
        local content, failure = tools.run(self._tools[tools.name_of(call)], call)
        err = hook(own.after_tool, call, content, failure)
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
      local reply, rerr = reply_of(job, text, response)
      if rerr then return nil, rerr end
      if h and h.status ~= "pending" then return nil, h._err end
      -- commit: what was sent (trimmed) plus the new messages
      local head = leading_system(history)
      local new = {}
      for i = 1, head do new[i] = history[i] end
      for i = head + dropped + 1, #history do new[#new + 1] = history[i] end
      for i = 1, #scratch do new[#new + 1] = scratch[i] end
      new[#new + 1] = keep
      -- in place: a reference to conv.messages stays the history
      for i = 1, #new do history[i] = new[i] end
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
  local msg, job = self:_prepare("say", what, params, 2)
  local token = {}
  self._busy = token
  local pok, ok, a, b, c = ypcall(self._run, self, msg, job, nil)
  if self._busy == token then self._busy = nil end
  if not pok then error(ok, 0) end      -- an internal error, with its own position
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
  local msg, job = self:_prepare("say_async", what, params, 2)
  local h = setmetatable({ status = "pending", conversation = self }, Handle)
  self._busy = h
  loop.spawn(function()
    local pok, ok, a, b, c = ypcall(self._run, self, msg, job, h)
    if self._busy == h then self._busy = nil end
    if h.status ~= "pending" then return end          -- cancelled meanwhile
    if not pok then                                   -- an internal error: not lost
      ok, a = nil, errors.new { kind = "callback", code = "RAISED", message = errors.text(ok) }
    end
    if ok then pending.settle(h, { a, b, c }) else pending.settle(h, nil, a) end
  end)
  return h
end

-- ---- the say_async handle: status, done, result, wait (pending.lua) ------------

-- Stops the say at once (the request in flight is cancelled; a tool running
-- now finishes, but nothing after it runs). The history stays as it was.
function Handle:cancel()
  if self.status ~= "pending" then return end
  local conv = self.conversation
  if conv._busy == self then conv._busy = nil end
  local req = self._req
  pending.settle(self, nil, errors.new { kind = "cancelled", code = "CANCELLED", message = "say cancelled" })
  if req then req:cancel() end
end

pending.into(Handle)

-- ---- save and load ----------------------------------------------------------------

-- conv:save(path) -> true | nil, msg. Tools and functions (callbacks,
-- count_tokens) are not saved.
function Conversation:save(path)
  if type(path) ~= "string" then argerror(2, 1, "save", "string expected, got " .. type(path)) end
  local first = self.messages[1]
  return savefile.write(path, {
    model = self.model,
    system = first and first.role == "system" and type(first.content) == "string"
             and first.content or nil,
    params = setmetatable(tables.plain(self.params), { __jsontype = "object" }),
    messages = self.messages,
    usage = self.usage,
    max_tool_rounds = self.max_tool_rounds,
    max_context_tokens = self.max_context_tokens,
  })
end

-- chatgpt.load(path, client) -> conversation | nil, msg
function M.load(path, client)
  if type(path) ~= "string" then argerror(2, 1, "load", "string expected, got " .. type(path)) end
  if not is_client(client) then argerror(2, 2, "load", "client expected, got " .. type(client)) end
  local doc, err = savefile.read(path)
  if not doc then return nil, err end
  if doc.api == "responses" then return require("chatgpt.responses_conversation").restore(path, doc, client) end
  local conv = make(client, {
    model = doc.model, params = doc.params, messages = doc.messages,
    max_tool_rounds = doc.max_tool_rounds, max_context_tokens = doc.max_context_tokens,
  })
  if type(doc.system) == "string" and leading_system(conv.messages) == 0 then
    table.insert(conv.messages, 1, { role = "system", content = doc.system })
  end
  add_usage(conv, doc.usage)
  return conv
end

return M

-- chatgpt.responses_conversation: conversations on the Responses API,
-- client:conversation { api = "responses", ... }. The chat flavour's
-- conversation.lua lends its say, say_async (and their handle), tool and
-- the say hooks; this file brings what differs: the history is a list of
-- input items, and its requests are client:respond's.
--
--   local conv = client:conversation { api = "responses", instructions = "Be terse." }
--   print(conv:say("Hi"))
--
-- Where the history lives: with `store` on (the API's default) the server
-- keeps it, and each say sends only what is new, with previous_response_id
-- = the last response of the conversation (conv.response_id); undo and
-- fork go back to, or branch from, an earlier response id. With store =
-- false every say sends the whole history (conv.items), each item as it
-- came; a reasoning item only with its encrypted_content.
--
-- Every say is all-or-nothing, as in chat: its items (the user message,
-- the tool rounds' calls and outputs, the answer) join conv.items, and
-- conv.response_id moves, only when it succeeds.

local core     = require "chatgpt.core"
local args     = require "chatgpt.args"
local chat     = require "chatgpt.conversation"
local errors   = require "chatgpt.error"
local responses = require "chatgpt.responses"
local items_check = require "chatgpt.response_items"
local savefile = require "chatgpt.savefile"
local tables   = require "chatgpt.tables"
local tools    = require "chatgpt.tools"

local error, ipairs, pairs, setmetatable, string, table, tostring, type =
      error, ipairs, pairs, setmetatable, string, table, tostring, type
local floor = math.floor
local deepcopy, is_list = tables.deepcopy, tables.is_list
local argerror, hook, reply_of = args.error, chat.hook, chat.reply_of

local M = {}

local Conversation = setmetatable({ api = "responses" }, { __index = chat.Conversation })
Conversation.__index = Conversation
M.Conversation = Conversation

local OPTIONS = {
  api = "string", system = "string", instructions = "string", model = "string", params = "table",
  store = "boolean", max_tool_rounds = { "number", min = 0, integer = true }, items = "table",
  previous_response_id = "string",
}

-- say() params that are the conversation's, never sent.
local OWN = { schema = "table", json = "boolean", before_tool = "function", after_tool = "function" }

local USAGE = { "input_tokens", "output_tokens", "total_tokens" }

-- A list's items, deep-copied, in a fresh list: a decoded list (a saved
-- file's) may carry a JSON mark, and an empty one may be an object's.
local function copy_list(list)
  local out = {}
  for i, item in ipairs(list) do out[i] = deepcopy(item) end
  return out
end

local function make(client, o)
  local params = o.params and deepcopy(o.params) or {}
  local store = o.store
  if store == nil then store = params.store ~= false end
  params.store = nil                        -- conv.store says it, on every request
  local self = setmetatable({
    client = client,
    model = o.model or client.model,
    instructions = o.instructions or o.system,
    params = params,
    store = store,
    max_tool_rounds = o.max_tool_rounds or 8,
    items = o.items and copy_list(o.items) or {},
    response_id = o.previous_response_id,
    usage = {},
    _sent = o.sent or 0,        -- items[1.._sent] are in the server's chain at response_id
    _turns = {},                -- per say: {start, sent, id} before it, for undo
    _tools = {},
    _order = {},
  }, Conversation)
  for _, k in ipairs(USAGE) do self.usage[k] = 0 end
  return self
end

local function check_items(level, fname, n, items)
  if not is_list(items) then argerror(level + 1, n, fname, "option 'items' must be a list of input items") end
  local why = items_check.list_problem(items)
  if why then argerror(level + 1, n, fname, "option 'items': " .. why) end
end

-- client:conversation { api = "responses", ... } -> conversation (a tail
-- call from client:conversation, as chat's conversation.new is)
function M.new(client, opts, level)
  level = level or 2
  opts = args.options(level, 1, "conversation", opts, OPTIONS)
  if opts.system and opts.instructions then
    argerror(level, 1, "conversation", "give 'instructions' or 'system', not both")
  end
  if opts.items then check_items(level, "conversation", 1, opts.items) end
  return make(client, opts)
end

function Conversation:__tostring()
  return string.format("chatgpt.conversation (responses, %s, %d items)", tostring(self.model), #self.items)
end

local function busy(level, what)
  error("chatgpt: the conversation is busy with a say (" .. what .. " while it runs; "
        .. "fork() it to say things in parallel)", level + 1)
end

-- ---- history ------------------------------------------------------------------

-- conv:add(role, content) or conv:add(item) -> the item, sent with the next say
function Conversation:add(role, content)
  if self._busy then busy(2, "cannot add") end
  local item
  if type(role) == "table" and content == nil then
    item = deepcopy(role)
  elseif type(role) == "string" and (type(content) == "string" or type(content) == "table") then
    item = { role = role, content = deepcopy(content) }
  else
    argerror(2, 1, "add", "an item, or a role and its content expected")
  end
  local why = items_check.problem(item)
  if why then argerror(2, 1, "add", why) end
  self.items[#self.items + 1] = item
  return item
end

-- conv:undo() -> the items of the last say, or nil when there was none.
-- The server's chain goes back to the response before that say.
function Conversation:undo()
  if self._busy then busy(2, "cannot undo") end
  local t = table.remove(self._turns)
  if not t then return nil end
  local list, dropped = self.items, {}
  for k = t.start, #list do dropped[#dropped + 1] = list[k] end
  for k = #list, t.start, -1 do list[k] = nil end
  self.response_id, self._sent = t.id, t.sent
  return dropped
end

-- conv:reset(): forgets the history (the instructions stay).
function Conversation:reset()
  if self._busy then busy(2, "cannot reset") end
  local list = self.items
  for k = #list, 1, -1 do list[k] = nil end
  self.response_id, self._sent, self._turns = nil, 0, {}
  return self
end

-- conv:fork() -> an independent copy that goes on from the same response:
-- the server keeps both branches.
function Conversation:fork()
  local c = make(self.client, {
    model = self.model, instructions = self.instructions, params = self.params, store = self.store,
    max_tool_rounds = self.max_tool_rounds, items = self.items,
    previous_response_id = self.response_id, sent = self._sent,
  })
  for i, t in ipairs(self._turns) do c._turns[i] = { start = t.start, sent = t.sent, id = t.id } end
  for k, v in pairs(self.usage) do c.usage[k] = v end
  for i, name in ipairs(self._order) do
    c._order[i] = name
    c._tools[name] = self._tools[name]
  end
  return c
end

-- ---- say ----------------------------------------------------------------------

-- The Responses form of a registered tool (flat, where chat nests it
-- under "function"); strict off unless asked for, as the API would
-- otherwise refuse a schema that is not strict-ready.
local function tool_def(tool)
  local f = tool.def["function"]
  return { type = "function", name = f.name, description = f.description,
           parameters = f.parameters, strict = f.strict == true }
end

-- Checks say's arguments; returns the user item and the job.
function Conversation:_prepare(fname, what, params, level)
  local item
  if type(what) == "string" then
    item = { role = "user", content = what }
  elseif type(what) == "table" then
    if what.role == nil and what.type == nil then          -- a list of content parts
      item = { role = "user", content = deepcopy(what) }
    else
      item = deepcopy(what)
    end
  else
    argerror(level + 1, 1, fname, "string, item or list of content parts expected, got " .. type(what))
  end
  local why = items_check.problem(item)
  if why then argerror(level + 1, 1, fname, why) end
  local body, own = args.split_params(level + 1, fname, OWN, self.params, params)
  if own.schema and own.json then argerror(level + 1, 2, fname, "give 'schema' or 'json', not both") end
  local text = type(body.text) == "table" and deepcopy(body.text) or body.text
  if own.schema then
    local s = tools.schema_param(level + 1, fname, own.schema)
    text = type(text) == "table" and text or {}
    text.format = { type = "json_schema", name = s.name, description = s.description,
                    schema = s.schema, strict = s.strict ~= false }
  elseif own.json then
    text = type(text) == "table" and text or {}
    text.format = { type = "json_object" }
  end
  body.text = text
  if body.model == nil then body.model = self.model end
  if body.instructions == nil then body.instructions = self.instructions end
  if #self._order > 0 then
    local list = {}
    if type(body.tools) == "table" then
      for i, t in ipairs(body.tools) do list[i] = t end
    end
    for _, name in ipairs(self._order) do list[#list + 1] = tool_def(self._tools[name]) end
    body.tools = list
  end
  -- what respond would refuse is refused here, at say's caller
  tools.check_body(level + 1, fname, body, responses.OWN)
  return item, { body = body, own = own, decode = own.schema ~= nil or own.json == true }
end

local EXACT = 2 ^ 53

-- Adds a response's usage to conv.usage (counts only: see conversation.lua).
local function add_usage(self, usage)
  if type(usage) ~= "table" then return end
  for _, k in ipairs(USAGE) do
    local v = usage[k]
    if type(v) == "number" and v >= 0 and v < EXACT then
      local n = floor(v)
      if v - n >= 0.5 then n = n + 1 end
      self.usage[k] = self.usage[k] + n
    end
  end
end

-- With store off, every item goes back exactly as it came (a decoded item
-- keeps its [], {} and nulls: json.h), ids included, but for the one change
-- the API requires: a reasoning item without its encrypted_content is left
-- out, as the server kept nothing its id could name.
local function sendable(item)
  return item.type ~= "reasoning" or type(item.encrypted_content) == "string"
end

-- The whole say: requests, tool rounds, commit. h is say_async's handle.
-- Returns true, reply, response, info | nil, err.
function Conversation:_run(item, job, h)
  local client, body, own = self.client, job.body, job.own
  local history = self.items
  local scratch = { item }                  -- this say's items, committed at the end
  local chain, sent = self.response_id, self._sent
  local unsent = sent + 1                   -- history[unsent..] not in the chain yet
  local fresh = 1                           -- scratch[fresh..] not in the chain yet
  local rounds = 0
  while true do
    if h and h.status ~= "pending" then return nil, h._err end
    local input = {}
    if self.store then
      for i = unsent, #history do input[#input + 1] = history[i] end
      for i = fresh, #scratch do input[#input + 1] = scratch[i] end
      body.previous_response_id = chain
    else
      for _, list in ipairs { history, scratch } do
        for _, it in ipairs(list) do
          if sendable(it) then input[#input + 1] = it end
        end
      end
      body.store = false
    end
    local req = client:respond_async(input, body)
    if h then h._req = req end
    local text, response, info = req:wait()
    if h then h._req = nil end
    if text == nil and errors.is(response) then
      if response.response then add_usage(self, response.response.usage) end
      return nil, response
    end
    add_usage(self, response.usage)
    if h and h.status ~= "pending" then return nil, h._err end
    local bad = items_check.answer_problem(response)     -- nothing unsendable is kept
    if bad then
      return nil, errors.new { kind = "parse", code = "BAD_REPLY", response = response,
        message = "the answer cannot be kept in the conversation: " .. bad }
    end
    local output = response.output or {}
    for _, it in ipairs(output) do scratch[#scratch + 1] = it end
    chain, unsent, fresh = response.id, #history + 1, #scratch + 1
    local calls = {}
    for _, it in ipairs(output) do
      if type(it) == "table" and it.type == "function_call" then calls[#calls + 1] = it end
    end
    if #calls > 0 then
      if rounds >= self.max_tool_rounds then return nil, tools.rounds_error(rounds) end
      rounds = rounds + 1
      for _, call in ipairs(calls) do
        -- the tools' view of a call is chat's: {id, type, function = {name, arguments}}
        local as_chat = { id = call.call_id, type = "function", item = call,
                          ["function"] = { name = call.name, arguments = call.arguments } }
        local err = hook(own.before_tool, as_chat)
        if err then return nil, err end
        if h and h.status ~= "pending" then return nil, h._err end
        local content, failure = tools.run(self._tools[call.name], as_chat)
        err = hook(own.after_tool, as_chat, content, failure)
        if err then return nil, err end
        scratch[#scratch + 1] = { type = "function_call_output", call_id = call.call_id, output = content }
      end
      if body.tool_choice ~= nil and body.tool_choice ~= "auto" and body.tool_choice ~= "none" then
        body.tool_choice = nil             -- a forced choice holds for the first request only
      end
    else
      local reply, rerr = reply_of(job, text, response)
      if rerr then return nil, rerr end
      if h and h.status ~= "pending" then return nil, h._err end
      self._turns[#self._turns + 1] = { start = #history + 1, sent = self._sent, id = self.response_id }
      for _, it in ipairs(scratch) do history[#history + 1] = it end
      if self.store then
        self.response_id, self._sent = response.id, #history
      end
      return true, reply, response, info
    end
  end
end

-- ---- save and load ----------------------------------------------------------------

-- list's items in a new table that goes out as [] even when empty.
local function as_array(list)
  local out = setmetatable({}, core.array_mt)
  for i, v in ipairs(list) do out[i] = v end
  return out
end

function Conversation:save(path)
  if type(path) ~= "string" then argerror(2, 1, "save", "string expected, got " .. type(path)) end
  return savefile.write(path, {
    api = "responses", model = self.model, instructions = self.instructions,
    params = setmetatable(tables.plain(self.params), { __jsontype = "object" }),
    store = self.store, items = as_array(self.items), response_id = self.response_id, sent = self._sent,
    turns = as_array(self._turns), usage = self.usage, max_tool_rounds = self.max_tool_rounds,
  })
end

local function whole(v, lo, hi)
  return type(v) == "number" and v >= lo and v <= hi and v % 1 == 0
end

-- responses_conversation.restore(path, doc, client) -> conversation | nil, msg:
-- a saved Responses conversation (chatgpt.load reads the file).
function M.restore(path, doc, client)
  local function bad(field, what) return nil, path .. ": '" .. field .. "' must be " .. what end
  local items = doc.items or {}
  local why = items_check.list_problem(items)
  if why then return bad("items", "a list of items (" .. why .. ")") end
  if doc.instructions ~= nil and type(doc.instructions) ~= "string" then return bad("instructions", "a string") end
  if doc.response_id ~= nil and type(doc.response_id) ~= "string" then return bad("response_id", "a string") end
  if doc.store ~= nil and type(doc.store) ~= "boolean" then return bad("store", "a boolean") end
  local sent = doc.sent or 0
  if not whole(sent, 0, #items) then return bad("sent", "a count of items") end
  local turns = doc.turns or {}
  if not is_list(turns) then return bad("turns", "a list") end
  for _, t in ipairs(turns) do
    if type(t) ~= "table" or not whole(t.start, 1, #items + 1) or not whole(t.sent, 0, #items)
        or (t.id ~= nil and type(t.id) ~= "string") then
      return bad("turns", "a list of {start, sent, id}")
    end
  end
  local conv = make(client, {
    model = doc.model, instructions = doc.instructions, params = doc.params, store = doc.store,
    max_tool_rounds = doc.max_tool_rounds, items = items, previous_response_id = doc.response_id,
    sent = sent,
  })
  for i, t in ipairs(turns) do conv._turns[i] = { start = t.start, sent = t.sent, id = t.id } end
  add_usage(conv, doc.usage)
  return conv
end

return M

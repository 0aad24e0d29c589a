-- chatgpt.response_stream: folds the events of a streamed /responses call
-- into the response, and drives the user's callbacks on the way. Merging
-- follows the official SDKs' accumulators (openai-python
-- ResponseStreamState, openai-node ResponseStream): output items by
-- output_index, content parts by content_index, text and arguments joined
-- from their deltas, each item replaced by its output_item.done.
--
-- The terminal event (response.completed, .incomplete or .failed) carries
-- the whole response, and is what finish() returns, as the SDKs do: a
-- reasoning item's encrypted_content is re-encrypted there, so the items
-- assembled from the events are the same but for that field. The stream has
-- no data: [DONE]: complete() tells whether the terminal event came.
--
-- Per event this module allocates nothing but the slot of a part buffer
-- ({n = count, piece, ...}): text is joined once, never with s = s .. piece.
--
-- The server's events are checked where they are taken in (add): an event
-- whose numbers or fields are wrong ends the stream as malformed, and
-- nothing after the terminal event counts. So the handlers below trust
-- what they read, and no index costs time or memory for its value.

local ipairs, pairs, setmetatable, tostring, type = ipairs, pairs, setmetatable, tostring, type
local concat, sort = table.concat, table.sort

local args = require "chatgpt.args"
local errors = require "chatgpt.lazy" "chatgpt.error"
local tables = require "chatgpt.tables"
local compat = require "chatgpt.compat"
local tointeger, one_arg = compat.tointeger, compat.one_arg
local append, joined = tables.append, tables.joined

local M = {}

local Accumulator = {}
Accumulator.__index = Accumulator
M.Accumulator = Accumulator

-- The terminal events, and the status their response has.
local TERMINAL = {
  ["response.completed"] = true, ["response.incomplete"] = true, ["response.failed"] = true,
}
M.TERMINAL = TERMINAL

-- Calls a user handler; `stopped` stays set when it returns false or
-- raises, so that no handler runs after a stop or an error.
local function fire(self, fn, a, b)
  self.stopped = true
  if fn(a, b) == false then return false end
  self.stopped = false
  return true
end

-- Indices were checked by add (integers, or nil: 0).
local function index_of(v)
  return v or 0
end

-- The item at output_index oi (0-based), or nil.
local function item_at(self, oi)
  return self.items[index_of(oi)]
end

-- The buffer of one text field of the item at output index oi: key is
-- "oi ci field" (content parts) or "oi si summary" (summary parts), so that
-- one table holds them all; keys[oi] lists an item's own, so that its done
-- event drops them without a look at any other's.
local function buffer(self, oi, key)
  local b = self.bufs[key]
  if not b then
    b = { n = 0 }
    self.bufs[key] = b
    self.nbufs = self.nbufs + 1
    local keys = self.keys[oi]
    if not keys then
      keys = {}
      self.keys[oi] = keys
    end
    keys[key] = true
  end
  return b
end

-- Drops the buffer key of the item at oi: a done event brought the whole.
local function drop(self, oi, key)
  if self.bufs[key] then
    self.bufs[key] = nil
    self.nbufs = self.nbufs - 1
    self.keys[oi][key] = nil
    self.last_text = nil
  end
end

local function key_at(oi, ci, field)
  return index_of(oi) .. " " .. index_of(ci) .. " " .. field
end

local function key_of(e, field)
  return key_at(e.output_index, e.content_index, field)
end

-- A list inside an item (content, summary), made on demand.
local function list_of(t, k)
  local l = t[k]
  if type(l) ~= "table" then
    l = {}
    t[k] = l
  end
  return l
end

-- on_tool_call once per function_call item, when it is complete.
local function report_call(self, oi, item)
  local h = self.on_tool_call
  if not h or self.stopped or self.reported[oi] or type(item) ~= "table"
      or item.type ~= "function_call" then
    return
  end
  self.reported[oi] = true
  if item.arguments == nil then item.arguments = "" end
  fire(self, h, item)
end

-- The text of the part buffers still open written into their parts (the
-- buffers stay: more deltas may come).
local function flush(self)
  if self.nbufs == 0 then return end
  for key, buf in pairs(self.bufs) do
    local oi, ci, field = key:match("^(%-?%d+) (%-?%d+) (.+)$")
    local item = self.items[oi + 0]
    if item then
      if field == "arguments" then
        item.arguments = joined(buf)
      elseif field == "summary" then
        local part = list_of(item, "summary")[ci + 1]
        if type(part) == "table" then part.text = joined(buf) end
      else
        local part = list_of(item, "content")[ci + 1]
        if type(part) == "table" then part[field] = joined(buf) end
      end
    end
  end
end

-- ---- the events --------------------------------------------------------------

local ON = {}

local function take_response(self, e)
  local r = e.response
  if type(r) == "table" then self.response = r end
end
ON["response.created"] = take_response
ON["response.in_progress"] = take_response
ON["response.queued"] = take_response

-- Output items by output_index, and the indices in the order they came
-- (sorted once by snapshot: an index costs nothing for its value).
local function put_item(self, oi, item)
  local items = self.items
  if items[oi] == nil then
    local order = self.order
    local n = #order
    if n > 0 and order[n] > oi then self.unsorted = true end
    order[n + 1] = oi
  end
  items[oi] = item
end

ON["response.output_item.added"] = function(self, e)
  local item = e.item
  if type(item) ~= "table" then return end
  put_item(self, index_of(e.output_index), item)
end

ON["response.output_item.done"] = function(self, e)
  local item = e.item
  if type(item) ~= "table" then return end
  local oi = index_of(e.output_index)
  -- the done item is whole: deltas still buffered for it are dropped
  local keys = self.keys[oi]
  if keys then
    for key in pairs(keys) do drop(self, oi, key) end
    self.keys[oi] = nil
  end
  put_item(self, oi, item)
  report_call(self, oi, item)
end

ON["response.content_part.added"] = function(self, e)
  local item, part = item_at(self, e.output_index), e.part
  if type(item) ~= "table" or type(part) ~= "table" then return end
  list_of(item, "content")[index_of(e.content_index) + 1] = part
end

ON["response.content_part.done"] = function(self, e)
  local item, part = item_at(self, e.output_index), e.part
  if type(item) ~= "table" or type(part) ~= "table" then return end
  local oi = index_of(e.output_index)
  drop(self, oi, key_of(e, "text"))
  drop(self, oi, key_of(e, "refusal"))
  list_of(item, "content")[index_of(e.content_index) + 1] = part
end

-- A piece of output text d for part ci of item oi, with its logprobs lp
-- (a list, or nil) and its event e (nil on the fast path: Accumulator:delta).
local function text_delta(self, d, oi, ci, lp, e)
  local b = self.last_text
  if not (b and oi == self.last_oi and ci == self.last_ci) then
    b = buffer(self, index_of(oi), key_at(oi, ci, "text"))
    self.last_text, self.last_oi, self.last_ci = b, oi, ci
  end
  append(b, d)
  if type(lp) == "table" and lp[1] ~= nil then
    local item = item_at(self, oi)
    local part = type(item) == "table" and list_of(item, "content")[index_of(ci) + 1]
    if type(part) == "table" then
      local acc = list_of(part, "logprobs")
      for i = 1, #lp do acc[#acc + 1] = lp[i] end
    end
  end
  local h = self.on_delta
  if h and d ~= "" and not self.stopped then fire(self, h, d, e) end
end

ON["response.output_text.delta"] = function(self, e)
  local d = e.delta
  if type(d) == "string" then text_delta(self, d, e.output_index, e.content_index, e.logprobs, e) end
end

-- A *.done event brings the whole text: it replaces the joined deltas.
local function text_done(field, from)
  return function(self, e)
    local item = item_at(self, e.output_index)
    local v = e[from]
    if type(item) ~= "table" or type(v) ~= "string" then return end
    drop(self, index_of(e.output_index), key_of(e, field))
    local ci = index_of(e.content_index) + 1
    local content = list_of(item, "content")
    local part = content[ci]
    if type(part) ~= "table" then
      part = { type = field == "text" and "output_text" or field }
      content[ci] = part
    end
    part[field] = v
  end
end
ON["response.output_text.done"] = text_done("text", "text")
ON["response.refusal.done"] = text_done("refusal", "refusal")
ON["response.reasoning_text.done"] = text_done("text", "text")

local function delta_into(field)
  return function(self, e)
    if type(e.delta) == "string" then
      append(buffer(self, index_of(e.output_index), key_of(e, field)), e.delta)
    end
  end
end
ON["response.refusal.delta"] = delta_into("refusal")

-- Reasoning text reaches on_reasoning(text, event) as it comes: the raw
-- text some servers stream (gpt-oss on vLLM), and OpenAI's summaries.
local function reasoning(self, d, e)
  local h = self.on_reasoning
  if h and d ~= "" and not self.stopped then fire(self, h, d, e) end
end

ON["response.reasoning_text.delta"] = function(self, e)
  if type(e.delta) ~= "string" then return end
  append(buffer(self, index_of(e.output_index), key_of(e, "text")), e.delta)
  reasoning(self, e.delta, e)
end

ON["response.output_text.annotation.added"] = function(self, e)
  local item, a = item_at(self, e.output_index), e.annotation
  if type(item) ~= "table" or type(a) ~= "table" then return end
  local part = list_of(item, "content")[index_of(e.content_index) + 1]
  if type(part) ~= "table" then return end
  local list = list_of(part, "annotations")
  local ai = e.annotation_index
  list[type(ai) == "number" and ai + 1 or #list + 1] = a
end

ON["response.function_call_arguments.delta"] = function(self, e)
  if type(e.delta) == "string" then
    local oi = index_of(e.output_index)
    append(buffer(self, oi, oi .. " 0 arguments"), e.delta)
  end
end

ON["response.function_call_arguments.done"] = function(self, e)
  local item = item_at(self, e.output_index)
  if type(item) ~= "table" or type(e.arguments) ~= "string" then return end
  local oi = index_of(e.output_index)
  drop(self, oi, oi .. " 0 arguments")
  item.arguments = e.arguments
end

-- Reasoning summaries: parts by summary_index (kept under "oi si summary").
local function summary_key(e)
  return index_of(e.output_index) .. " " .. index_of(e.summary_index) .. " summary"
end

ON["response.reasoning_summary_part.added"] = function(self, e)
  local item, part = item_at(self, e.output_index), e.part
  if type(item) ~= "table" or type(part) ~= "table" then return end
  list_of(item, "summary")[index_of(e.summary_index) + 1] = part
end

ON["response.reasoning_summary_text.delta"] = function(self, e)
  if type(e.delta) ~= "string" then return end
  append(buffer(self, index_of(e.output_index), summary_key(e)), e.delta)
  reasoning(self, e.delta, e)
end

local function summary_done(self, e, part)
  local item = item_at(self, e.output_index)
  if type(item) ~= "table" then return end
  drop(self, index_of(e.output_index), summary_key(e))
  local list = list_of(item, "summary")
  local si = index_of(e.summary_index) + 1
  if part then
    list[si] = part
  elseif type(e.text) == "string" then
    local p = list[si]
    if type(p) ~= "table" then
      p = { type = "summary_text" }
      list[si] = p
    end
    p.text = e.text
  end
end
ON["response.reasoning_summary_text.done"] = function(self, e) summary_done(self, e, nil) end
ON["response.reasoning_summary_part.done"] = function(self, e)
  if type(e.part) == "table" then summary_done(self, e, e.part) end
end

local function terminal(self, e)
  local r = e.response
  if type(r) ~= "table" then r = {} end
  self.final = r
  self.response = r
end
for name in pairs(TERMINAL) do ON[name] = terminal end

-- ---- what an event may hold ---------------------------------------------------

-- An index is a whole number from 0 to MAX_INDEX, far beyond any real
-- answer's count of items or parts; add makes it an integer. (Missing, it
-- counts as 0: some compatible servers leave it out.)
local MAX_INDEX = 1048576         -- 2^20
local INDICES = { "output_index", "content_index", "summary_index", "annotation_index" }

-- The JSON type of each field a known event brings, when it is there (an
-- event without its payload changes nothing); unknown events go to
-- on_event only, and are not checked.
local RESPONSE, ITEM, PART = { "response", "table" }, { "item", "table" }, { "part", "table" }
local DELTA = { "delta", "string" }
local PAYLOAD = {
  ["response.output_item.added"] = ITEM, ["response.output_item.done"] = ITEM,
  ["response.content_part.added"] = PART, ["response.content_part.done"] = PART,
  ["response.output_text.delta"] = { "delta", "string", "logprobs", "table" },
  ["response.output_text.done"] = { "text", "string" },
  ["response.refusal.delta"] = DELTA, ["response.refusal.done"] = { "refusal", "string" },
  ["response.reasoning_text.delta"] = DELTA, ["response.reasoning_text.done"] = { "text", "string" },
  ["response.output_text.annotation.added"] = { "annotation", "table" },
  ["response.function_call_arguments.delta"] = DELTA,
  ["response.function_call_arguments.done"] = { "arguments", "string" },
  ["response.reasoning_summary_part.added"] = PART, ["response.reasoning_summary_part.done"] = PART,
  ["response.reasoning_summary_text.delta"] = DELTA,
  ["response.reasoning_summary_text.done"] = { "text", "string" },
}
for _, name in ipairs { "response.created", "response.in_progress", "response.queued",
                        "response.completed", "response.incomplete", "response.failed" } do
  PAYLOAD[name] = RESPONSE
end

-- The index v of field k as an integer (nil stays nil), or nil and why it
-- is wrong.
local function checked_index(k, v)
  if v == nil then return nil end
  local n = type(v) == "number" and v >= 0 and v <= MAX_INDEX and tointeger(v)
  if not n then
    return nil, k .. " must be a whole number from 0 to " .. MAX_INDEX .. ", got "
                .. (type(v) == "number" and tostring(v) or type(v))
  end
  return n
end

-- Why the event e is malformed, or nil (its indices made integers).
local function malformed(e)
  for i = 1, #INDICES do
    local k = INDICES[i]
    local n, why = checked_index(k, e[k])
    if why then return why end
    e[k] = n
  end
  local want = PAYLOAD[e.type]
  if want then
    for i = 1, #want, 2 do
      local v = e[want[i]]
      if v ~= nil and type(v) ~= want[i + 1] then
        return want[i] .. " must be " .. (want[i + 1] == "table" and "an object or a list" or "a string")
               .. ", got " .. type(v)
      end
    end
  end
end

-- ---- the accumulator -----------------------------------------------------

--- response_stream.new(handlers) -> accumulator
-- handlers: { on_delta = fn(text, event), on_event = fn(event),
--             on_tool_call = fn(item), on_reasoning = fn(text, event) },
--             each optional.
-- Public fields: acc.events (events added), acc.stopped, acc.fast
-- ("response" when output_text.delta events may come through acc:delta:
-- there is no on_event, and on_delta takes the text alone).
function M.new(handlers)
  handlers = args.handlers(2, 1, "new", handlers,
                           { "on_delta", "on_event", "on_tool_call", "on_reasoning" })
  return setmetatable({
    on_delta = handlers.on_delta,
    on_event = handlers.on_event,
    on_tool_call = handlers.on_tool_call,
    on_reasoning = handlers.on_reasoning,
    fast = not handlers.on_event and (not handlers.on_delta or one_arg(handlers.on_delta))
      and "response" or nil,
    events = 0,
    stopped = false,
    items = {},        -- output_index -> item
    order = {},        -- the output indices of items, as they came
    unsorted = false,  -- order needs a sort
    bufs = {},         -- "oi ci field" -> part buffer of deltas not yet done
    keys = {},         -- output_index -> {key = true} of its buffers
    nbufs = 0,
    reported = {},     -- output_index -> true once on_tool_call had it
  }, Accumulator)
end

local function bad_event(self, typ, why)
  self.stopped = true
  return false, errors.new { kind = "parse", code = "BAD_EVENT",
    message = "malformed event " .. tostring(typ):sub(1, 60) .. ": " .. why }
end

--- acc:add(event) -> go_on [, err]
-- Merges one decoded event (on_event first, then on_delta, on_reasoning or
-- on_tool_call).
-- Returns false once a handler returned false; handler errors propagate.
-- A malformed event gives false, err{kind = "parse", code = "BAD_EVENT"};
-- an event after the terminal one is ignored (no handler sees it).
function Accumulator:add(e)
  self.events = self.events + 1
  if self.final or type(e) ~= "table" then return not self.stopped end
  local why = malformed(e)
  if why then return bad_event(self, e.type, why) end
  local h = self.on_event
  if h and not self.stopped then fire(self, h, e) end
  local on = ON[e.type]
  if on then on(self, e) end
  return not self.stopped
end

--- acc:delta(text, output_index, content_index) -> go_on [, err]
-- What add(event) does for a response.output_text.delta with no logprobs
-- (src/json_delta.c reads it; its indices are checked here, as add checks
-- them): on_delta gets the text alone.
function Accumulator:delta(d, oi, ci)
  self.events = self.events + 1
  if self.final then return not self.stopped end
  local why
  oi, why = checked_index("output_index", oi)
  if not why then ci, why = checked_index("content_index", ci) end
  if why then return bad_event(self, "response.output_text.delta", why) end
  text_delta(self, d, oi, ci, nil, nil)
  return not self.stopped
end

--- acc:complete([done_seen]) -> ended, why
-- Whether the stream ended as it should: with its terminal event (or, from
-- a lenient server, with data: [DONE]).
function Accumulator:complete(done_seen)
  if self.final or done_seen then return true end
  return false, "the stream ended before its terminal event (response.completed)"
end

--- acc:over() -> whether the terminal event came: nothing after it counts.
function Accumulator:over()
  return self.final ~= nil
end

--- acc:snapshot() -> the response as assembled from the events so far: the
-- latest response object seen with the output items built from the events.
function Accumulator:snapshot()
  flush(self)
  local r = {}
  for k, v in pairs(self.response or {}) do r[k] = v end
  local order, items = self.order, self.items
  if self.unsorted then
    sort(order)
    self.unsorted = false
  end
  local out = {}
  for i = 1, #order do out[i] = items[order[i]] end
  r.output = out
  return r
end

local function text_of(output)
  local parts, n = {}, 0
  for _, item in ipairs(output) do
    if type(item) == "table" and item.type == "message" and type(item.content) == "table" then
      for _, c in ipairs(item.content) do
        if type(c) == "table" and c.type == "output_text" and type(c.text) == "string" then
          n = n + 1
          parts[n] = c.text
        end
      end
    end
  end
  return concat(parts)
end

--- acc:text() -> the output text received so far ("" when none): the
-- partial text of a stream that stopped.
function Accumulator:text()
  return text_of(self:snapshot().output)
end

-- The reasoning text of the reasoning items: their summary parts, else
-- their reasoning_text parts, paragraphs apart.
local function reasoning_of(output)
  local parts = {}
  for _, item in ipairs(output) do
    if type(item) == "table" and item.type == "reasoning" then
      for _, f in ipairs { { "summary", "summary_text" }, { "content", "reasoning_text" } } do
        local list = item[f[1]]
        local n = #parts
        if type(list) == "table" then
          for _, p in ipairs(list) do
            if type(p) == "table" and p.type == f[2] and type(p.text) == "string" and p.text ~= "" then
              parts[#parts + 1] = p.text
            end
          end
        end
        if #parts > n then break end
      end
    end
  end
  return concat(parts, "\n\n")
end

--- acc:whole(response) -> go_on
-- For a stream request answered with one plain JSON response: on_reasoning
-- with its reasoning text, on_delta with its output text and on_tool_call
-- per function call, as if it had streamed (on_event is not called: there
-- was no event).
function Accumulator:whole(response)
  if type(response) ~= "table" or type(response.output) ~= "table" then
    return not self.stopped
  end
  local text = reasoning_of(response.output)
  if text ~= "" then reasoning(self, text, response) end
  local h = self.on_delta
  text = text_of(response.output)
  if h and text ~= "" and not self.stopped then fire(self, h, text, response) end
  for i, item in ipairs(response.output) do report_call(self, i - 1, item) end
  return not self.stopped
end

--- acc:finish() -> response
-- The terminal event's response (its output assembled from the events when
-- it came without one), after on_tool_call for any call not reported yet.
function Accumulator:finish()
  local snap = self:snapshot()
  local r = self.final
  if r == nil then
    r = snap
  elseif type(r.output) ~= "table" or (r.output[1] == nil and snap.output[1] ~= nil) then
    r.output = snap.output
  end
  for i, item in ipairs(r.output) do report_call(self, i - 1, item) end
  return r
end

return M

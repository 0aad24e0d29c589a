-- chatgpt.stream: folds streamed chunks (chat.completion.chunk, or the legacy
-- text_completion stream) into the response a non-streamed call would have
-- returned, and drives the user's callbacks on the way. Merging follows the
-- official SDKs' accumulators (openai-python ChatCompletionStreamState,
-- openai-node ChatCompletionStream), with some leniency for compatible servers.
--
-- Chunks arrive decoded with JSON null members already removed. Every field
-- is still type-checked, so a cjson.null left in by some other decoder is
-- simply ignored.
--
-- Per chunk this module allocates nothing but the slots of a few arrays:
-- text pieces are kept in part buffers ({n = count, piece, piece, ...}) and
-- joined once, never with `s = s .. piece` (quadratic on long streams).

local type, ipairs = type, ipairs
local setmetatable = setmetatable
local sort = table.sort
local format, random = string.format, math.random
local compat = require "chatgpt.compat"
local tointeger, one_arg = compat.tointeger, compat.one_arg   -- tointeger: an integral double on 5.1/LuaJIT

local args = require "chatgpt.args"
local argerror = args.error
local tables = require "chatgpt.tables"
local append, joined = tables.append, tables.joined

local M = {}

local Accumulator = {}
Accumulator.__index = Accumulator
M.Accumulator = Accumulator

-- Ids for tool calls a sloppy server sent without one: the counter keeps
-- them unique in this process, the random part across processes.
local call_seq = 0
local function new_call_id()
  call_seq = call_seq + 1
  -- 28 random bits: random(m, n) overflows a C int on 5.1 beyond 2^30
  return format("call_%x%07x", call_seq, random(0, 0xfffffff))
end

-- cjson may hand indices as floats (0.0); float keys fold to integers in
-- tables anyway, but the `index` fields of the result should be integers.
local function index_of(v)
  if type(v) ~= "number" then return 0 end
  if tointeger then return tointeger(v) or v end
  return v
end

-- A streamed function's pieces (tool call or legacy function_call): its
-- name once, into named; its argument fragments appended to buf.
local function merge_fn(named, buf, fn)
  if named.name == nil then
    local v = fn.name
    if type(v) == "string" and v ~= "" then named.name = v end
  end
  local v = fn.arguments
  if type(v) == "string" and v ~= "" then append(buf, v) end
end

local function append_list(dst, src)
  local n = #dst
  for i = 1, #src do dst[n + i] = src[i] end
end

-- Calls a user handler. `stopped` stays set when the handler returns false
-- or raises, so no handler runs after a stop request or a handler error
-- (the caller pcalls add() and may still call finish() for the partial).
local function fire(self, fn, a, b)
  self.stopped = true
  if fn(a, b) == false then return false end
  self.stopped = false
  return true
end

-- Choice and tool-call indices are kept in arrival order, and sorted once
-- when the response is built: they nearly always arrive in order, and then
-- no sort runs at all. (Keeping them sorted on arrival, as an insertion sort
-- did, is quadratic when they count down.) list.unsorted says whether an
-- index came lower than the one before it.
local function append_index(list, v)
  local n = #list
  list[n + 1] = v
  if n > 0 and list[n] > v then list.unsorted = true end
end

-- The indices of list in order.
local function in_order(list)
  if list.unsorted then
    sort(list)
    list.unsorted = false
  end
  return list
end

local function new_choice(self, idx)
  local st = { index = idx }
  self.by_index[idx] = st
  append_index(self.order, idx)
  return st
end

-- A tool call is complete once it has its arguments: give it the fields a
-- non-streamed call always has (arguments "", type, id). A custom tool's
-- call has its input instead (joined in t.input), and no function.
local function finalize_call(t)
  local call = t.call
  local custom = call.custom
  if custom then
    custom.input = t.input and joined(t.input) or ""
    if call.type == nil then call.type = "custom" end
  else
    local f = call["function"]
    if not f then
      f = {}
      call["function"] = f
    end
    f.arguments = joined(t)
    if call.type == nil then call.type = "function" end
  end
  if call.id == nil then call.id = new_call_id() end
  return call
end

-- Report the calls of one choice not reported yet, in index order: those
-- below `limit`, or all of them when limit is nil.
--
-- The calls not reported yet are a stack (st.pending, its top the lowest
-- index): a new call k is pushed only after every pending call below k has
-- been reported, so the stack stays in descending order from the bottom, and
-- the calls below any limit are the ones on top. Each call is pushed and
-- popped once, whatever order the indices come in.
local function report_calls(self, st, limit)
  local h = self.on_tool_call
  if not h or self.stopped then return end
  local pending, tools = st.pending, st.tools
  while true do
    local n = pending.n
    if n == 0 then return end
    local k = pending[n]
    if limit ~= nil and k >= limit then return end
    pending[n] = nil
    pending.n = n - 1
    if not fire(self, h, finalize_call(tools[k])) then return end
  end
end

local function new_tool(self, st, k)
  -- a new, higher index means every call below it is complete
  report_calls(self, st, k)
  local t = { n = 0, call = {} }
  st.tools[k] = t
  append_index(st.tidx, k)
  if st.tmax == nil or k > st.tmax then st.tmax = k end
  if self.on_tool_call then   -- without one, nothing is ever reported
    local pending = st.pending
    local n = pending.n + 1
    pending[n] = k
    pending.n = n
  end
  return t
end

local function merge_tool_calls(self, st, list)
  local tools = st.tools
  if not tools then
    tools = {}
    st.tools, st.tidx, st.pending = tools, {}, { n = 0 }
  end
  for i = 1, #list do
    local f = list[i]
    if type(f) == "table" then
      local k, t = f.index, nil
      if type(k) == "number" then
        k = index_of(k)
        t = tools[k]
      else
        -- no index (sloppy servers): continue the last call, or start call
        -- 0; but a fragment bringing a different id is plainly a new call
        k = st.last_tool
        if k == nil then
          k = 0
        else
          t = tools[k]
          local id = f.id
          if type(id) == "string" and id ~= "" and t.call.id ~= nil
              and t.call.id ~= id then
            k = st.tmax + 1
            t = nil
          end
        end
      end
      if t == nil then t = new_tool(self, st, k) end
      st.last_tool = k
      local call = t.call
      if call.id == nil then
        local v = f.id
        if type(v) == "string" and v ~= "" then call.id = v end
      end
      if call.type == nil then
        local v = f.type
        if type(v) == "string" and v ~= "" then call.type = v end
      end
      local fn = f["function"]
      if type(fn) == "table" then
        local named = call["function"]
        if not named then
          named = {}
          call["function"] = named
        end
        merge_fn(named, t, fn)
      end
      fn = f.custom                  -- a custom tool's call: {name, input}
      if type(fn) == "table" then
        local named = call.custom
        if not named then
          named = {}
          call.custom = named
          t.input = { n = 0 }
        end
        if named.name == nil and type(fn.name) == "string" and fn.name ~= "" then named.name = fn.name end
        if type(fn.input) == "string" and fn.input ~= "" then append(t.input, fn.input) end
      end
    end
  end
end

-- The legacy `functions` API: one function_call per choice.
local function merge_function_call(st, fc)
  local b = st.fc
  if not b then
    b = { n = 0 }
    st.fc = b
  end
  merge_fn(b, b, fc)
end

local function merge_list(acc, lp, key)
  local src = lp[key]
  if type(src) ~= "table" then return end
  local dst = acc[key]
  if not dst then
    dst = {}
    acc[key] = dst
  end
  append_list(dst, src)
end

-- Appends a piece of text to st[field]: a "" piece still makes the field
-- "" (never nil). With tell, on_delta hears of it (with the chunk, when
-- there is one: see Accumulator:delta).
local function add_text(self, st, field, s, tell, chunk)
  local b = st[field]
  if not b then
    b = { n = 0 }
    st[field] = b
  end
  if s ~= "" then
    append(b, s)
    local h = tell and self.on_delta
    if h and not self.stopped then fire(self, h, s, chunk) end
  end
end

-- Reasoning text, which OpenAI-compatible servers stream beside the
-- content: delta.reasoning_content (DeepSeek, vLLM, llama.cpp) or
-- delta.reasoning (OpenRouter), one or the other per piece (a server that
-- sends both sends the same text twice). Kept per choice as
-- message.reasoning_content; on_reasoning(text, index) hears each piece,
-- with the choice's index as the API gives it (from 0).
local function reasoning_of(t)
  local s = t.reasoning_content
  if type(s) ~= "string" or s == "" then s = t.reasoning end
  if type(s) == "string" then return s end
end

local function add_reasoning(self, st, s)
  add_text(self, st, "reasoning", s)
  local h = self.on_reasoning
  if h and s ~= "" and not self.stopped then fire(self, h, s, st.index) end
end

local function logprobs_of(st)
  local acc = st.logprobs
  if not acc then
    acc = {}
    st.logprobs = acc
  end
  return acc
end

local function finish_choice(self, st, fr)
  st.finish_reason = fr
  -- the choice is over: its calls are complete (as openai-node does)
  if st.tools then report_calls(self, st, nil) end
end

local function merge_chat(self, c, chunk)
  local idx = index_of(c.index)
  local st = self.by_index[idx] or new_choice(self, idx)
  local d = c.delta
  if type(d) == "table" then
    if st.role == nil then
      local r = d.role
      if type(r) == "string" then st.role = r end
    end
    -- on_delta gets the content of every choice; with n > 1 the handler
    -- tells them apart by reading chunk.choices[i].index
    local s = d.content
    if type(s) == "string" then add_text(self, st, "content", s, true, chunk) end
    s = d.refusal
    if type(s) == "string" then add_text(self, st, "refusal", s) end
    s = reasoning_of(d)
    if s then add_reasoning(self, st, s) end
    local tc = d.tool_calls
    if type(tc) == "table" then merge_tool_calls(self, st, tc) end
    local fc = d.function_call
    if type(fc) == "table" then merge_function_call(st, fc) end
  end
  local lp = c.logprobs
  if type(lp) == "table" then
    local acc = logprobs_of(st)
    merge_list(acc, lp, "content")
    merge_list(acc, lp, "refusal")
  end
  local fr = c.finish_reason
  if type(fr) == "string" then finish_choice(self, st, fr) end
end

local function merge_text(self, c, chunk)
  local idx = index_of(c.index)
  local st = self.by_index[idx] or new_choice(self, idx)
  local s = c.text
  if type(s) == "string" then add_text(self, st, "content", s, true, chunk) end
  local lp = c.logprobs
  if type(lp) == "table" then
    local acc = logprobs_of(st)
    merge_list(acc, lp, "tokens")
    merge_list(acc, lp, "token_logprobs")
    merge_list(acc, lp, "top_logprobs")
    merge_list(acc, lp, "text_offset")
  end
  local fr = c.finish_reason
  if type(fr) == "string" then st.finish_reason = fr end
end

--- stream.new(kind, handlers) -> accumulator
-- kind: "chat" (chat.completion.chunk) or "completion" (legacy /completions).
-- handlers: { on_delta = fn(text, chunk), on_chunk = fn(chunk),
--             on_tool_call = fn(call), on_reasoning = fn(text, index) },
--             each optional.
-- Public fields: acc.chunks (chunks added), acc.stopped (a handler returned
-- false or raised: no handler runs any more), acc.fast ("chat" when plain
-- delta chunks may come through acc:delta: nobody asked for their table,
-- as there is no on_chunk and on_delta takes the text alone).
function M.new(kind, handlers)
  if kind ~= "chat" and kind ~= "completion" then
    argerror(2, 1, "new", format("'chat' or 'completion' expected, got %s",
      type(kind) == "string" and format("%q", kind) or type(kind)))
  end
  handlers = args.handlers(2, 2, "new", handlers,
                           { "on_delta", "on_chunk", "on_tool_call", "on_reasoning" })
  return setmetatable({
    kind = kind,
    chat = kind == "chat",
    on_delta = handlers.on_delta,
    on_chunk = handlers.on_chunk,
    on_tool_call = handlers.on_tool_call,
    on_reasoning = handlers.on_reasoning,
    fast = kind == "chat" and not handlers.on_chunk
      and (not handlers.on_delta or one_arg(handlers.on_delta)) and "chat" or nil,
    chunks = 0,
    stopped = false,
    by_index = {},  -- choice index -> choice state
    order = {},     -- choice indices, in arrival order until in_order()
  }, Accumulator)
end

--- acc:add(chunk) -> go_on
-- Merges one chunk and calls the handlers: on_chunk first, then on_delta per
-- content piece, on_reasoning per reasoning piece and on_tool_call per
-- completed call. Returns false once a
-- handler returned false (the caller then stops the transfer); the chunk is
-- still merged in full, but no further handler is called. Handler errors
-- propagate.
function Accumulator:add(chunk)
  self.chunks = self.chunks + 1
  if type(chunk) ~= "table" then return not self.stopped end
  local h = self.on_chunk
  if h and not self.stopped then fire(self, h, chunk) end

  if self.id == nil then
    local v = chunk.id
    if type(v) == "string" then self.id = v end
  end
  if self.created == nil then
    local v = chunk.created
    if type(v) == "number" then self.created = v end
  end
  if self.model == nil then
    local v = chunk.model
    if type(v) == "string" then self.model = v end
  end
  local v = chunk.system_fingerprint
  if type(v) == "string" then self.system_fingerprint = v end
  v = chunk.service_tier
  if type(v) == "string" then self.service_tier = v end
  -- the usage chunk has empty choices; later chunks without usage (or a
  -- moderation chunk) must not erase it
  v = chunk.usage
  if type(v) == "table" then self.usage = v end

  local choices = chunk.choices
  if type(choices) == "table" then
    local merge = self.chat and merge_chat or merge_text
    for i = 1, #choices do
      local c = choices[i]
      if type(c) == "table" then merge(self, c, chunk) end
    end
  end
  return not self.stopped
end

--- acc:delta(index, content, finish_reason, role, system_fingerprint,
--            service_tier, id, created, model) -> go_on
-- What add(chunk) does for a chunk whose one choice carries no more than
-- these (src/json_delta.c reads them, nil for each absent or null):
-- on_delta gets the text alone, as no table of the chunk was made.
function Accumulator:delta(idx, s, fr, role, fp, tier, id, created, model)
  self.chunks = self.chunks + 1
  if self.id == nil then self.id = id end
  if self.created == nil then self.created = created end
  if self.model == nil then self.model = model end
  if fp then self.system_fingerprint = fp end
  if tier then self.service_tier = tier end
  idx = index_of(idx)
  local st = self.by_index[idx] or new_choice(self, idx)
  if st.role == nil then st.role = role end
  if s then add_text(self, st, "content", s, true, nil) end
  if fr then finish_choice(self, st, fr) end
  return not self.stopped
end

--- acc:text() -> string
-- The text received so far for choice 0 (content, or text for completions);
-- "" when none. Used as err.partial when a stream stops early.
function Accumulator:text()
  local st = self.by_index[0]
  local b = st and st.content
  if not b then return "" end
  return joined(b)
end

--- acc:whole(response) -> go_on
-- For a stream request that a server answered with one plain JSON body:
-- calls on_reasoning(text, index) per choice with reasoning text,
-- on_delta(text, response) per choice with content (or text) and
-- on_tool_call per tool call, as if it had streamed. on_chunk is not called:
-- the response is no chunk (no `delta`), and chunk readers would trip on it.
function Accumulator:whole(response)
  if type(response) ~= "table" or type(response.choices) ~= "table" then
    return not self.stopped
  end
  local choices = response.choices
  for i = 1, #choices do
    local c = choices[i]
    if type(c) == "table" then
      local msg = self.chat and c.message or c
      local h = self.on_reasoning
      local s = self.chat and type(msg) == "table" and reasoning_of(msg)
      if s and s ~= "" and h and not self.stopped then fire(self, h, s, index_of(c.index)) end
      s = type(msg) == "table" and (self.chat and msg.content or msg.text) or nil
      h = self.on_delta
      if type(s) == "string" and s ~= "" and h and not self.stopped then
        fire(self, h, s, response)
      end
      local calls = self.chat and type(msg) == "table" and msg.tool_calls
      h = self.on_tool_call
      if type(calls) == "table" and h then
        for j = 1, #calls do
          if self.stopped then break end
          if type(calls[j]) == "table" then fire(self, h, calls[j]) end
        end
      end
    end
  end
  return not self.stopped
end

local function build_chat(self)
  local choices = {}
  for i, idx in ipairs(in_order(self.order)) do
    local st = self.by_index[idx]
    local msg = { role = st.role or "assistant" }
    if st.content then msg.content = joined(st.content) end
    if st.refusal then msg.refusal = joined(st.refusal) end
    if st.reasoning then msg.reasoning_content = joined(st.reasoning) end
    if st.tools then
      local list, tools = {}, st.tools
      for j, k in ipairs(in_order(st.tidx)) do list[j] = finalize_call(tools[k]) end
      msg.tool_calls = list
    end
    local fc = st.fc
    if fc then msg.function_call = { name = fc.name, arguments = joined(fc) } end
    choices[i] = {
      index = idx,
      message = msg,
      finish_reason = st.finish_reason,
      logprobs = st.logprobs,
    }
  end
  return choices
end

local function build_text(self)
  local choices = {}
  for i, idx in ipairs(in_order(self.order)) do
    local st = self.by_index[idx]
    choices[i] = {
      index = idx,
      text = st.content and joined(st.content) or nil,
      finish_reason = st.finish_reason,
      logprobs = st.logprobs,
    }
  end
  return choices
end

--- acc:finish() -> response
-- Reports the tool calls not reported yet (choices and calls in index
-- order), then returns the assembled chat.completion / text_completion.
-- Safe to call more than once: calls are reported once, and each result
-- shares the same tool-call tables.
function Accumulator:finish()
  if self.chat then
    for _, idx in ipairs(in_order(self.order)) do
      local st = self.by_index[idx]
      if st.tools then report_calls(self, st, nil) end
    end
  end
  return {
    id = self.id,
    object = self.chat and "chat.completion" or "text_completion",
    created = self.created,
    model = self.model,
    system_fingerprint = self.system_fingerprint,
    service_tier = self.service_tier,
    choices = self.chat and build_chat(self) or build_text(self),
    usage = self.usage,
  }
end

return M

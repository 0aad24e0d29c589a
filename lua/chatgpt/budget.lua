-- The context budget of a conversation: the prompt tokens of a list of
-- messages (exact with the model's tokenizer, tokenizer.lua; else an
-- estimate), and the trimming of a history to a budget by whole exchanges.

local errors = require "chatgpt.error"
local tokenizer = require "chatgpt.tokenizer"

local ipairs, tostring, type = ipairs, tostring, type
local xpcall = require("chatgpt.compat").xpcall   -- passes arguments on 5.1 too
local floor = math.floor
local traceback = errors.traceback

local M = {}

local PER_MESSAGE = 4       -- tokens of overhead per message (role, framing)
local PER_PART = 85         -- tokens for a non-text content part (an image, low detail)

-- count_tokens(text) -> n: about 4 bytes per token for Latin text, 1 token per
-- CJK character (U+3000-U+9FFF, U+AC00-U+D7AF, U+F900-U+FAFF). An estimate,
-- not a tokenizer: good enough to keep a history within a budget.
function M.count_tokens(s)
  local cjk = 0
  for c in s:gmatch("[\227-\239][\128-\191][\128-\191]") do
    local a, b, d = c:byte(1, 3)
    local cp = (a % 16) * 4096 + (b % 64) * 64 + d % 64
    if (cp >= 0x3000 and cp <= 0x9FFF) or (cp >= 0xAC00 and cp <= 0xD7AF)
        or (cp >= 0xF900 and cp <= 0xFAFF) then
      cjk = cjk + 1
    end
  end
  return cjk + floor((#s - 3 * cjk + 3) / 4)
end

local function callback_error(msg)
  return errors.new { kind = "callback", code = "CALLBACK_ERROR", message = msg }
end

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

-- The texts of a message that the model reads besides its role and name:
-- its content (or the text parts of a content list), its tool calls' names
-- and arguments; and how many content parts are not text (images, audio).
local function texts(m)
  local out, others = {}, 0
  local c = m.content
  if type(c) == "string" then
    out[1] = c
  elseif type(c) == "table" then
    for _, part in ipairs(c) do
      if type(part) == "table" and type(part.text) == "string" then
        out[#out + 1] = part.text
      else
        others = others + 1
      end
    end
  end
  if type(m.tool_calls) == "table" then
    for _, call in ipairs(m.tool_calls) do
      local f = type(call) == "table" and call["function"]
      if type(f) == "table" then
        out[#out + 1] = tostring(f.name or "")
        out[#out + 1] = tostring(f.arguments or "")
      end
    end
  end
  return out, others
end

-- Tokens of one message by the estimate or the user's count: PER_MESSAGE +
-- its texts, PER_PART per other part. nil, err when count fails.
local function message_tokens(m, count)
  local list, others = texts(m)
  local n = PER_MESSAGE + PER_PART * others
  for i = 1, #list do
    local k, err = count(list[i])
    if not k then return nil, err end
    n = n + k
  end
  return n
end

-- OpenAI's documented framing (the cookbook's "How to count tokens with
-- tiktoken"): each message costs 3 tokens and the tokens of its role, name
-- (+1), tool_call_id and texts; the reply is primed with 3 more
-- (<|start|>assistant<|message|>). gpt-3.5-turbo-0301: 4 a message, a name
-- -1. The gpt-5 family is billed one token less for the whole request,
-- whatever the number of messages (the captures in spec/fixtures/wire):
-- its reply is primed with 2.
local function framing(model)
  if model == "gpt-3.5-turbo-0301" then return 4, -1, 3 end
  if model:sub(1, 5) == "gpt-5" then return 3, 1, 2 end
  return 3, 1, 3
end

local function exact_tokens(m, tok, per_message, per_name)
  local list, others = texts(m)
  local n = per_message + PER_PART * others
  for _, k in ipairs { "role", "name", "tool_call_id" } do
    if type(m[k]) == "string" then n = n + tok:count(m[k]) end
  end
  if type(m.name) == "string" then n = n + per_name end
  for i = 1, #list do n = n + tok:count(list[i]) end
  return n
end

-- prompt_tokens(messages, model) -> n | nil, err: the prompt tokens of a
-- chat request with these messages (a string is one user message), exact
-- for text; each non-text part counts PER_PART (an image at low detail).
-- nil, err when the model's encoding is not known.
function M.prompt_tokens(messages, model)
  local tok, err = tokenizer.get(model)
  if not tok then return nil, err end
  if type(messages) == "string" then messages = { { role = "user", content = messages } } end
  local per_message, per_name, reply = framing(model)
  local n = reply
  for _, m in ipairs(messages) do n = n + exact_tokens(m, tok, per_message, per_name) end
  return n
end

-- How many system (and developer) messages open the list.
function M.leading_system(list)
  local head = 0
  while list[head + 1] and (list[head + 1].role == "system" or list[head + 1].role == "developer") do
    head = head + 1
  end
  return head
end

-- budget.trim(list, max_tokens, count_tokens, model) -> list to send, how
-- many messages after the system ones were dropped | nil, err{kind =
-- "callback"} when the user's count_tokens fails. The cost of the list is
-- the user's count_tokens(text) per text, else the exact prompt tokens
-- when the model's encoding is known, else the estimate. Whole exchanges (a
-- user message and everything up to the next user message) go, oldest
-- first. The leading system messages and the exchange of the newest user
-- message always stay, so an assistant tool_calls message is never parted
-- from its tool results. No max_tokens: the list as it is.
function M.trim(list, budget, user_fn, model)
  if not budget then return list, 0 end
  local count = user_fn and user_count(user_fn) or M.count_tokens
  local tok = not user_fn and type(model) == "string" and tokenizer.get(model)
  local per_message, per_name, reply
  local head = M.leading_system(list)
  local cost, total = {}, 0
  if tok then
    per_message, per_name, reply = framing(model)
    total = reply
  end
  for i, m in ipairs(list) do
    local n, err
    if tok then n = exact_tokens(m, tok, per_message, per_name)
    else n, err = message_tokens(m, count) end
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

return M

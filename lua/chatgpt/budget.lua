-- The context budget of a conversation: a token estimate, and the trimming
-- of a history to a budget by whole exchanges.

local errors = require "chatgpt.error"

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

-- How many system (and developer) messages open the list.
function M.leading_system(list)
  local head = 0
  while list[head + 1] and (list[head + 1].role == "system" or list[head + 1].role == "developer") do
    head = head + 1
  end
  return head
end

-- budget.trim(list, max_tokens, count_tokens) -> list to send, how many
-- messages after the system ones were dropped | nil, err{kind =
-- "callback"} when the user's count_tokens fails. Whole exchanges (a user
-- message and everything up to the next user message) go, oldest first. The
-- leading system messages and the exchange of the newest user message
-- always stay, so an assistant tool_calls message is never parted from its
-- tool results. No max_tokens: the list as it is.
function M.trim(list, budget, user_fn)
  if not budget then return list, 0 end
  local count = user_fn and user_count(user_fn) or M.count_tokens
  local head = M.leading_system(list)
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

return M

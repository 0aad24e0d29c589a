-- chatgpt.response_items: what a Responses conversation may keep. Its
-- history is a list of items that later requests send back, so an item
-- that could not go back (a number, an item without a type, a function
-- call without its call_id, a string that is not UTF-8) would break every
-- later say. An answer's items are checked before a say commits them
-- (BAD_REPLY, nothing kept), and a saved file's when chatgpt.load reads it,
-- by the same rules.
--
-- An item is an object with a string `type`; types this module reads have
-- their fields checked, others (web_search_call, and types to come) go back
-- as they came. The history may also hold the input form of a message
-- without a type ({role, content}).

local type = type
local is_list = require("chatgpt.tables").is_list
local encode = require("chatgpt.tools").encode     -- JSON as a request would carry it

local M = {}

-- Content as a message or a tool's output carries it: a string, or a list
-- of parts, each an object with a string type.
local function content_problem(v, field)
  if type(v) == "string" then return nil end
  if not is_list(v) then return field .. " must be a string or a list of parts" end
  for i = 1, #v do
    local part = v[i]
    if type(part) ~= "table" or type(part.type) ~= "string" then
      return field .. " part #" .. i .. " must be an object with a string type"
    end
  end
end

local function string_field(item, k)
  if type(item[k]) ~= "string" then return k .. " must be a string" end
end

-- The fields of the types conversations read, by type.
local SHAPES = {
  message = function(item)
    return string_field(item, "role") or content_problem(item.content, "content")
  end,
  function_call = function(item)
    return string_field(item, "call_id") or string_field(item, "name")
           or string_field(item, "arguments")
  end,
  function_call_output = function(item)
    return string_field(item, "call_id") or content_problem(item.output, "output")
  end,
  reasoning = function(item)
    if item.summary ~= nil and not is_list(item.summary) then return "summary must be a list" end
    if item.encrypted_content ~= nil then return string_field(item, "encrypted_content") end
  end,
}

-- Why item cannot be kept, or nil. typed: an answer's item, which has a type.
local function problem(item, typed)
  if type(item) ~= "table" then return "a " .. type(item) .. ", not an object" end
  local t, why = item.type, nil
  if t == nil and not typed then                   -- a message in its input form
    if type(item.role) ~= "string" then return "an object without a type or a role" end
    why = content_problem(item.content, "content")
  elseif type(t) ~= "string" or t == "" then
    return "an object without a type"
  elseif item.id ~= nil and type(item.id) ~= "string" then
    return "id must be a string"
  elseif SHAPES[t] then
    why = SHAPES[t](item)
    if why then why = t .. ": " .. why end
  end
  if why then return why end
  local _, ewhy = encode(item)
  return ewhy
end

--- response_items.problem(item [, typed]) -> why | nil: can a conversation
-- keep item (typed: an answer's, which has a type)?
M.problem = problem

--- response_items.answer_problem(response) -> why | nil: can an answer's
-- output items and id join a conversation?
function M.answer_problem(response)
  local output = response.output
  if output ~= nil then
    if not is_list(output) then return "output must be a list of items" end
    for i = 1, #output do
      local why = problem(output[i], true)
      if why then return "output item #" .. i .. ": " .. why end
    end
  end
  if response.id ~= nil and type(response.id) ~= "string" then
    return "id must be a string, got " .. type(response.id)
  end
end

--- response_items.list_problem(items) -> why | nil: a history.
function M.list_problem(items)
  if not is_list(items) then return "a list of items expected" end
  for i = 1, #items do
    local why = problem(items[i], false)
    if why then return "item #" .. i .. ": " .. why end
  end
end

return M

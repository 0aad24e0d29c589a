-- lua-chatgpt: the OpenAI API (Chat Completions, Responses, and every
-- other endpoint), and every server that speaks it, from Lua.
-- `local chatgpt = require "chatgpt"`.

local core   = require "chatgpt.core"
local args   = require "chatgpt.args"
local client = require "chatgpt.client"
local errors = require "chatgpt.lazy" "chatgpt.error"
local loop   = require "chatgpt.loop"

local error, os, setmetatable, type = error, os, setmetatable, type

local M = {
  _VERSION = "lua-chatgpt " .. client.VERSION,
  null = core.null,            -- JSON null (equal to cjson.null)
}

M.new = client.new

-- chatgpt.set_key(key): the default key of this Lua state, kept in C
-- memory; nil forgets it.
function M.set_key(key)
  if key == nil then
    client.default_key = nil
    return
  end
  if type(key) ~= "string" then
    error("bad argument #1 to 'set_key' (string expected, got " .. type(key) .. ")", 2)
  end
  local k, why = core.key(key)
  if not k then args.error(2, 1, "set_key", why) end
  client.default_key = k
end

function M.has_key()
  local env = os.getenv("OPENAI_API_KEY")
  return client.default_key ~= nil or (env ~= nil and env ~= "")
end

-- Messages. The role is checked (system, developer, user, assistant, tool).
function M.message(role, content, fields)
  local m, why, n = core.message(role, content, fields)
  if not m then args.error(2, n, "message", why) end
  return m
end

local function role(name)
  return function(content, fields)
    if type(content) ~= "string" and type(content) ~= "table" then
      error("bad argument #1 to '" .. name .. "' (string or list of parts expected, got "
            .. type(content) .. ")", 2)
    end
    local m, why, n = core.message(name, content, fields)
    if not m then args.error(2, n - 1, name, why) end
    return m
  end
end

M.system    = role "system"
M.developer = role "developer"
M.user      = role "user"
M.assistant = role "assistant"

-- JSON shape markers for tables whose emptiness is ambiguous: the ones
-- the decoder gives [] and {} (json.h). object(t, order): t's members go
-- out in the order of the list of names `order` (others after them).
local ARRAY, OBJECT = core.array_mt, core.object_mt
function M.array(t) return setmetatable(t or {}, ARRAY) end
function M.object(t, order)
  if order == nil then return setmetatable(t or {}, OBJECT) end
  if type(order) ~= "table" then
    args.error(2, 2, "object", "list of member names expected, got " .. type(order))
  end
  local list = {}
  for i = 1, #order do
    if type(order[i]) ~= "string" then
      args.error(2, 2, "object", "member name #" .. i .. " is a " .. type(order[i]) .. ", not a string")
    end
    list[i] = order[i]
  end
  return setmetatable(t or {}, { __jsontype = "object", __jsonorder = list })
end

-- chatgpt.decode(text) -> value | nil, why: JSON text read so that it goes
-- back out as it came: [] and {} keep their kind, null members their
-- place, objects their key order (a JSON schema's properties, say).
function M.decode(text)
  if type(text) ~= "string" then
    args.error(2, 1, "decode", "string expected, got " .. type(text))
  end
  return core.decode(text, "ordered")
end

-- Multipart bodies for client:request (form.lua).
local form = require "chatgpt.lazy" "chatgpt.form"
function M.form(fields) return form.form(fields) end
function M.file(path, mime, filename) return form.file(path, mime, filename) end

-- Content parts for images and files (parts.lua): in chat's spelling, sent
-- in the Responses API's by client:respond.
local parts = require "chatgpt.lazy" "chatgpt.parts"
function M.image(src, opts) return parts.image(src, opts) end
function M.file_part(src, opts) return parts.file_part(src, opts) end

-- The output text of a Responses API response object (every output_text
-- part of its message items, joined), or nil.
function M.output_text(response) return require("chatgpt.responses").output_text(response) end

-- Exact token counts (tokenizer.lua, budget.lua).
-- chatgpt.tokenizer(name_or_model [, vocab_dir]) -> tokenizer | nil, err
function M.tokenizer(name, dir)
  local p = args.problem(name, "string")
  if p then args.error(2, 1, "tokenizer", p) end
  p = dir ~= nil and args.problem(dir, "string")
  if p then args.error(2, 2, "tokenizer", p) end
  return require("chatgpt.tokenizer").get(name, dir)
end

-- chatgpt.count_tokens(messages, model) -> prompt tokens | nil, err
function M.count_tokens(messages, model)
  if type(messages) ~= "string" and type(messages) ~= "table" then
    args.error(2, 1, "count_tokens", "string or list of messages expected, got " .. type(messages))
  end
  local p = args.problem(model, "string")
  if p then args.error(2, 2, "count_tokens", p) end
  return require("chatgpt.budget").prompt_tokens(messages, model)
end

-- chatgpt.load(path, client) -> conversation saved with conv:save(path)
function M.load(path, c)
  return require("chatgpt.conversation").load(path, c)
end

-- chatgpt.configure{max_host_connections = n, max_total_connections = n}
-- -> current settings, defaults: the engine's, for every client of this
-- Lua state.
M.configure = core.configure

M.poll     = loop.poll
M.spawn    = loop.spawn
M.errors   = loop.errors
M.on_error = loop.on_error
M.attach   = loop.attach     -- a host's event loop drives the engine (DESIGN.md)
M.drive    = loop.drive
M.detach   = loop.detach
function M.is_error(v) return errors.is(v) end

return M

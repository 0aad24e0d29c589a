-- chatgpt.responses: the Responses API (POST /responses): client:respond,
-- client:respond_async, and what a response object says (output_text,
-- refusal, and the results a call gives for it).
--
--   local text, response, info = client:respond("Hello", { instructions = "Be terse." })
--
-- How a response becomes results (doc/responses.md, "client:respond", says why):
--   completed                 text (nil without output_text: a pure tool call)
--   a refusal part, no text   nil, err{kind = "refusal"}
--   incomplete, with text     the text so far; response.status and
--                             response.incomplete_details tell the rest
--   incomplete, no text       nil, err{kind = "limit", code = "INCOMPLETE"}
--                             (kind "refusal" for reason content_filter)
--   failed                    nil, err{kind = "api"} with the error's code
--                             and message
--   cancelled                 nil, err{kind = "cancelled"}
--   queued, in_progress       nil text (background = true: poll
--                             client:response(id))

local client  = require "chatgpt.client"
local errors  = require "chatgpt.lazy" "chatgpt.error"
local rstream = require "chatgpt.lazy" "chatgpt.response_stream"
local content = require "chatgpt.lazy" "chatgpt.parts"
local argerror = require("chatgpt.args").error

local ipairs, type = ipairs, type
local concat = table.concat
local split, send = client.split, client.send

local M = {}

local RETRIES = { "number", min = 0, max = 100, integer = true }

-- respond's params that are ours, not /responses fields.
local OWN = {
  on_delta = "function", on_event = "function", on_tool_call = "function",
  on_reasoning = "function", max_retries = RETRIES, timeout = { "number", above = 0 },
  idle_timeout = { "number", min = 0 }, first_byte_timeout = { "number", min = 0 },
}
M.OWN = OWN

-- The parts of every message item of a response's output, in order.
local function each_part(response, fn)
  local output = type(response) == "table" and response.output
  if type(output) ~= "table" then return end
  for _, item in ipairs(output) do
    if type(item) == "table" and item.type == "message" and type(item.content) == "table" then
      for _, part in ipairs(item.content) do
        if type(part) == "table" then fn(part) end
      end
    end
  end
end

--- responses.output_text(response) -> text | nil
-- Every output_text part of the message items, joined (the SDKs'
-- output_text); nil when there is none.
function M.output_text(response)
  local parts = {}
  each_part(response, function(part)
    if part.type == "output_text" and type(part.text) == "string" then parts[#parts + 1] = part.text end
  end)
  if parts[1] == nil then return nil end
  return concat(parts)
end

--- responses.refusal(response) -> text | nil: the refusal parts, joined.
function M.refusal(response)
  local parts = {}
  each_part(response, function(part)
    if part.type == "refusal" and type(part.refusal) == "string" then parts[#parts + 1] = part.refusal end
  end)
  if parts[1] == nil then return nil end
  return concat(parts)
end

--- responses.finish(response) -> text, response | nil, err (see the top)
function M.finish(response)
  local status = response.status
  if status == "failed" then
    local e = type(response.error) == "table" and response.error or {}
    return nil, errors.new { kind = "api", code = e.code, type = e.type, param = e.param,
      message = type(e.message) == "string" and e.message or "the response failed",
      response = response }
  end
  if status == "cancelled" then
    return nil, errors.new { kind = "cancelled", code = "CANCELLED",
                             message = "the response was cancelled", response = response }
  end
  local text = M.output_text(response)
  if text == nil then
    local refusal = M.refusal(response)
    if refusal then
      return nil, errors.new { kind = "refusal", code = "REFUSAL", message = refusal, response = response }
    end
  end
  if status == "incomplete" and (text == nil or text == "") then
    local d = type(response.incomplete_details) == "table" and response.incomplete_details or {}
    local reason = type(d.reason) == "string" and d.reason or "unknown"
    return nil, errors.new {
      kind = reason == "content_filter" and "refusal" or "limit", code = "INCOMPLETE",
      message = "the response is incomplete (" .. reason .. ") and has no text",
      response = response }
  end
  return text, response
end
local finish = M.finish

-- A stream's accumulator, for Request.new.
local function accumulator(callbacks)
  return rstream.new(callbacks)
end
M.accumulator = accumulator

--- responses.body(input, params, level, fname, model) -> body, own, stream
-- The /responses request of respond (and of a conversation): every field
-- passed through, ours taken out, stream when asked for or a callback is
-- given.
function M.body(input, params, level, fname, model)
  if type(input) ~= "string" and type(input) ~= "table" then
    argerror(level + 1, 1, fname, "string or list of input items expected, got " .. type(input))
  end
  local body, own = split(params, level + 1, fname, 2, OWN)
  -- content parts in chat's spelling (chatgpt.image ...) go out in this API's
  body.input = type(input) == "table" and content.for_responses(input) or input
  if body.model == nil then body.model = model end
  local stream
  if body.stream == true or own.on_delta or own.on_event or own.on_tool_call or own.on_reasoning then
    body.stream = true
    stream = accumulator
  end
  return body, own, stream
end

local function respond_async(self, input, params, level)
  local body, own, stream = M.body(input, params, level + 1, "respond", self.model)
  -- a failed response's `error` field is its own, not an error body
  local req = send(self, "POST", "/responses", body, own, finish, stream, level + 1, "respond",
                   { keep_error_field = true })
  return req       -- no tail calls where a level is passed on (5.1 counts them)
end

-- client:respond_async(input, params) -> request
function M.respond_async(self, input, params)
  local req = respond_async(self, input, params, 2)
  return req
end

-- client:respond(input, params) -> text, response, info | nil, err
function M.respond(self, input, params)
  return respond_async(self, input, params, 2):wait()
end

return M

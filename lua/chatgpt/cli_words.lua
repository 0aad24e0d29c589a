-- chatgpt.cli_words: the `chatgpt` command's failures in its own words, and
-- the exit status each gives. The module's errors speak to a programmer
-- ("network COULDNT_CONNECT: Failed to connect to 127.0.0.1 port 9 after 0
-- ms: ..."); the command speaks to its user ("cannot connect to
-- http://127.0.0.1:9/v1 (connection refused; 3 attempts)").

local chatgpt = require "chatgpt"

local tostring, type = tostring, type

local M = {}

-- Exit statuses, documented in the usage text and doc/command.md.
local EXIT = { ok = 0, failure = 1, usage = 2, api = 3, network = 4, cut = 5, interrupted = 130 }
M.EXIT = EXIT

-- The exit status for an error object of the module.
function M.status_of(err)
  local kind = type(err) == "table" and err.kind
  if kind == "network" or kind == "timeout" then return EXIT.network end
  if kind == "http" or kind == "api" or kind == "parse" or kind == "refusal"
     or kind == "limit" or kind == "cancelled" or kind == "callback" then
    return EXIT.api
  end
  return EXIT.failure
end

local function attempts(err)
  local n = type(err.attempts) == "number" and err.attempts or 1
  return n == 1 and "1 attempt" or (tostring(n) .. " attempts")
end

local function lower_first(s)
  return (s:gsub("^%u%l", string.lower))
end

-- What failed on the way to the server, by curl's code.
local NETWORK = {
  COULDNT_CONNECT = function(err, url)
    local why = type(err.os_error) == "string" and lower_first(err.os_error) or "no connection"
    return "cannot connect to " .. url .. " (" .. why .. "; " .. attempts(err) .. ")"
  end,
  COULDNT_RESOLVE_HOST = function(err, url)
    return "cannot find the host of " .. url .. " (" .. attempts(err) .. ")"
  end,
  COULDNT_RESOLVE_PROXY = function(err, url)
    return "cannot find the proxy for " .. url .. " (" .. attempts(err) .. ")"
  end,
  CONNECT_TIMEOUT = function(err, url)
    return "no connection to " .. url .. " in time (connect_timeout; " .. attempts(err) .. ")"
  end,
  PEER_FAILED_VERIFICATION = function(err, url)
    return url .. ": its TLS certificate cannot be trusted (" .. tostring(err.message) .. ")"
  end,
  SSL_CONNECT_ERROR = function(err, url)
    return "cannot connect to " .. url .. " over TLS (" .. tostring(err.message) .. "; "
           .. attempts(err) .. ")"
  end,
}

-- words.cut(response) -> the one line to say when an answer was cut short,
-- or nil: a chat's finish_reason "length" or "content_filter", a Responses
-- answer "incomplete" with its reason.
function M.cut(response)
  if type(response) ~= "table" then return nil end
  if response.status == "incomplete" then
    local d = response.incomplete_details
    local why = type(d) == "table" and type(d.reason) == "string" and d.reason or "no reason given"
    return "the answer was cut short: incomplete (" .. why .. ")"
  end
  local c = type(response.choices) == "table" and response.choices[1]
  local why = type(c) == "table" and c.finish_reason
  if why == "length" or why == "content_filter" then
    return "the answer was cut short: finish_reason " .. why
           .. (why == "length" and " (the token limit)" or " (the content filter)")
  end
end

-- words.error(err, ctx) -> the line to show (without "chatgpt: "). ctx:
-- {base_url, withheld = "OPENAI_API_KEY" (a key not sent to this server)}.
function M.error(err, ctx)
  ctx = ctx or {}
  if not chatgpt.is_error(err) then return tostring(err) end
  local say = NETWORK[err.code]
  if say and ctx.base_url then return say(err, ctx.base_url) end
  local line = tostring(err):gsub("^chatgpt: ", "")
  if (err.status == 401 or err.status == 403) and ctx.withheld then
    line = line .. "; " .. ctx.withheld .. " was not sent to " .. tostring(ctx.base_url)
           .. ": a key from the environment or the config file goes only to the OpenAI API "
           .. "or $OPENAI_BASE_URL; give one for this server with --key-file FILE, --key-env NAME "
           .. "or a profile in the config file"
  end
  return line
end

return M

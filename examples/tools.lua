-- The tool loop: the model asks for get_weather, the conversation runs it,
-- sends the result back, and the model answers.
--
--   lua5.4 examples/tools.lua        (from any folder: it finds the module itself)
--
-- Talks to the OpenAI API when OPENAI_API_KEY (or OPENAI_BASE_URL) is set.
-- Else it starts the fake server bundled for the tests and scripts its
-- replies (a tool call, then an answer), since the fake does not think.

local server = dofile((debug.getinfo(1, "S").source:match("^@(.*)[/\\]") or ".") .. "/server.lua")
local chatgpt = require "chatgpt"

local base_url, bundled = server.base_url()
local client = chatgpt.new { base_url = base_url, auth = bundled and "none" or nil }
if bundled then
  local function call(id, city)
    return ('{"id":"%s","type":"function","function":{"name":"get_weather",'
            .. '"arguments":"{\\"city\\":\\"%s\\"}"}}'):format(id, city)
  end
  local function tool_calls(...)
    return '{"json":{"object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,'
      .. '"message":{"role":"assistant","content":null,"tool_calls":[' .. table.concat({ ... }, ",")
      .. ']},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":60,"completion_tokens":15,'
      .. '"total_tokens":75}}}'
  end
  local function answer(text)
    return '{"json":{"object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,'
      .. '"message":{"role":"assistant","content":"' .. text .. '"},"finish_reason":"stop"}],'
      .. '"usage":{"prompt_tokens":90,"completion_tokens":12,"total_tokens":102}}}'
  end
  server.script("[" .. table.concat({
    tool_calls(call("call_1", "Paris")),
    answer("Yes: it is 21 \\u00b0C and sunny in Paris."),
    tool_calls(call("call_2", "Oslo"), call("call_3", "Rome")),
    answer("Rome (24 \\u00b0C) is warmer than Oslo (8 \\u00b0C)."),
  }, ",") .. "]")
end

-- A pretend weather service.
local WEATHER = { Paris = { 21, "sunny" }, Oslo = { 8, "rain" }, Rome = { 24, "clear" } }

local conv = client:conversation { system = "You answer questions about the weather. Be brief." }
conv:tool("get_weather", {
  description = "Current weather for a city",
  parameters = { type = "object", properties = { city = { type = "string" } }, required = { "city" } },
}, function(args)
  local w = WEATHER[args.city]
  if not w then return nil, "no weather station in " .. tostring(args.city) end
  return { city = args.city, temp_c = w[1], sky = w[2] }
end)

local params = {
  before_tool = function(call)
    print(("  -> the model calls %s(%s)  [%s]"):format(call["function"].name,
          call["function"].arguments, call.id))
  end,
  after_tool = function(call, content, failure)
    print(("  <- %s: %s%s"):format(call.id, content, failure and "  (an error)" or ""))
  end,
}

for _, question in ipairs { "Is it warm in Paris?", "Which is warmer right now, Oslo or Rome?" } do
  print("you: " .. question)
  local reply, err = conv:say(question, params)
  if not reply then
    io.stderr:write("error: " .. tostring(err) .. "\n")
    os.exit(1)
  end
  print("model: " .. reply)
  print()
end

local u = conv.usage
print(("%d messages in the history, %d tokens used"):format(#conv.messages, u.total_tokens))

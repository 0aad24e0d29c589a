-- The decoding floor: a Lua loop that only JSON-decodes the events of a
-- stream, or a whole chat.completion body, as a program that got them for
-- free would.
--
--   lua5.4 bench/floor.lua SSE_FILE|JSON_FILE REPS cjson|core|none
--
-- A *.json file is one body, decoded REPS times (its message content read);
-- cjson: lua-cjson's cjson.decode (the target's yardstick); core: lua-chatgpt's
-- own decoder (chatgpt.core.decode), for the profile; none: reads and splits
-- the file but decodes nothing (the baseline to subtract).
-- Each decoded chunk's delta content is read, so that nothing is skipped.
-- Prints "ok decodes=N chars=C".

local file, reps, which = arg[1], tonumber(arg[2]), arg[3]

local f = assert(io.open(file, "rb"))
local body = f:read("*a")
f:close()
local events = {}
local whole = file:match("%.json$") ~= nil
if whole then
  events[1] = body
else
  for data in body:gmatch("data: ([^\n]*)\n\n") do
    if data ~= "[DONE]" then events[#events + 1] = data end
  end
end

local decode
if which == "cjson" then
  decode = require("cjson").decode
elseif which == "core" then
  decode = require("chatgpt.core").decode
elseif which ~= "none" then
  error("cjson, core or none")
end

local n, chars = 0, 0
if decode then
  for _ = 1, reps do
    for i = 1, #events do
      local chunk = decode(events[i])
      local c = chunk.choices[1]
      local s = (whole and c.message or c.delta).content
      if s then chars = chars + #s end
      n = n + 1
    end
  end
end
print(string.format("ok decodes=%d chars=%d", n, chars))

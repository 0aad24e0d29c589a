-- NPC lines streaming in while frames tick: three chats at once, polled
-- with chatgpt.poll(0) once a frame (LOVE has no event loop to attach to).
--
-- LOVE 11 runs LuaJIT: build the module with `make LUA=luajit` and put
-- chatgpt/core.so where package.cpath finds it - next to the game when it
-- runs from a folder, or in love.filesystem.getSaveDirectory() for a .love
-- file (C modules cannot load from inside the archive); lua/chatgpt/*.lua
-- go in the game as chatgpt/*.lua. Here CHATGPT_BUILD names the folder.
-- The key comes from OPENAI_API_KEY, the server from OPENAI_BASE_URL.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("CHATGPT_BUILD") or "build/luajit") .. "/?.so;" .. package.cpath

local chatgpt = require "chatgpt"

local npcs = {
  { name = "Blacksmith", prompt = "Greet the player as a gruff blacksmith." },
  { name = "Innkeeper", prompt = "Greet the player as a cheerful innkeeper." },
  { name = "Guard", prompt = "Warn the player as a tired city guard." },
}
local frames, worst, streaming_frames = 0, 0, 0
local finished = false

function love.load()
  local client = chatgpt.new { base_url = os.getenv("OPENAI_BASE_URL") }
  for _, npc in ipairs(npcs) do
    npc.text = ""
    npc.req = client:chat_async(npc.prompt, {
      max_tokens = 60,
      on_delta = function(d) npc.text = npc.text .. d end,
    })
  end
end

local function report()
  local out = os.getenv("HOST_RESULT")
  if not out then return end
  local lines, ok = {}, true
  for _, npc in ipairs(npcs) do
    local text = npc.req:result()
    ok = ok and npc.req.status == "done" and text == npc.text and #text > 0
    lines[#lines + 1] = npc.name .. ": " .. npc.text
  end
  ok = ok and worst < 0.05 and streaming_frames > 1
  local f = io.open(out, "w")
  f:write(ok and "ok" or "FAILED", (" love %s: %d frames while streaming, worst %.1f ms; %s\n")
    :format(jit and jit.version or _VERSION, streaming_frames, worst * 1000, table.concat(lines, " | ")))
  f:close()
end

function love.update(dt)
  frames = frames + 1
  local running = chatgpt.poll(0)       -- never waits: the frame goes on
  if frames > 5 and not finished then    -- the first frames include start-up
    streaming_frames = streaming_frames + 1
    if dt > worst then worst = dt end
  end
  if running == 0 and not finished then
    finished = true
    report()
    if os.getenv("HOST_RESULT") then love.event.quit() end
  end
end

function love.draw()
  for i, npc in ipairs(npcs) do
    love.graphics.print(npc.name .. ": " .. npc.text, 10, 10 + (i - 1) * 30)
  end
  love.graphics.print(("frame %d, worst %.1f ms"):format(frames, worst * 1000), 10, 270)
end

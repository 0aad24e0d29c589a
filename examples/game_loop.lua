-- A 60 Hz game loop that never stalls while three NPCs' lines stream in.
-- chatgpt.poll(0) is the only call in the frame: it never blocks.
local server = dofile((debug.getinfo(1, "S").source:match("^@(.*)[/\\]") or ".") .. "/server.lua")
local chatgpt = require "chatgpt"

local client = chatgpt.new { base_url = server.base_url() }

local npcs = {
  { name = "guard",    prompt = "You are a castle guard. Greet the traveller in one line." },
  { name = "merchant", prompt = "You are a merchant. Offer a potion in one line." },
  { name = "wizard",   prompt = "You are a wizard. Say something cryptic in one line." },
}
local reqs = {}
for i, npc in ipairs(npcs) do
  npc.bubble = ""
  reqs[i] = client:chat_async(npc.prompt, {
    on_delta = function(piece) npc.bubble = npc.bubble .. piece end,
  })
end

local function sleep_until(t)              -- stands in for the frame's vsync
  while os.clock() < t do end
end

local frame, frame_time = 0, 1 / 60
local start = os.clock()
repeat
  frame = frame + 1
  local running = chatgpt.poll(0)          -- fires on_delta; never blocks
  io.write(("\rframe %4d  |"):format(frame))
  for _, npc in ipairs(npcs) do io.write((" %s: %-24.24s |"):format(npc.name, npc.bubble)) end
  io.flush()
  sleep_until(start + frame * frame_time)
until running == 0 and frame >= 10
print()

for i, npc in ipairs(npcs) do
  local text, err = reqs[i]:result()
  print(("%-8s %s"):format(npc.name, text or tostring(err)))
end

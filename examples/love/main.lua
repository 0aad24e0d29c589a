-- NPC lines streaming in while frames tick: three chats at once, polled
-- with chatgpt.poll(0) once a frame (LOVE has no event loop to attach to).
--
-- Try it with no key and no network, against the fake OpenAI server that
-- the tests use (it builds the module first when needed):
--
--   sh examples/love/try.sh
--
-- For real, from any folder: OPENAI_API_KEY=sk-... love path/to/examples/love
-- (OPENAI_BASE_URL picks another server). Errors (no key, the server down,
-- a refused key) show on screen.
--
-- The module is looked for, first found first:
--   1. in the game: chatgpt/*.lua and chatgpt/core.so beside main.lua
--      (a game run from its folder; LOVE's own loaders look there);
--   2. next to the game: chatgpt/core.so in the folder that holds the game
--      folder or the .love file, and for a fused game the executable's
--      folder (love.filesystem.getSourceBaseDirectory()): a C module
--      cannot load from inside a .love archive;
--   3. where it is installed for LuaJIT (make install LUA=luajit);
--   4. this repository, when the game is its examples/love: lua/, and
--      build/luajit/ or make nvim's lua/chatgpt/core.so.
-- The module must be the LuaJIT build (make nvim, or make LUA=luajit).
local base = love.filesystem.getSourceBaseDirectory()
package.cpath = base .. "/?.so;" .. package.cpath
local repo = love.filesystem.getSource():match("^(.*)/examples/love/?$")
if repo then
  package.path = package.path .. ";" .. repo .. "/lua/?.lua;" .. repo .. "/lua/?/init.lua"
  package.cpath = package.cpath .. ";" .. repo .. "/build/luajit/?.so;" .. repo .. "/lua/?.so"
end

local loaded, chatgpt = pcall(require, "chatgpt")

local function env(name)              -- unset and empty alike
  local v = os.getenv(name)
  return v ~= "" and v or nil
end

local MARGIN = 10
local npcs = {
  { name = "Blacksmith", prompt = "Greet the player as a gruff blacksmith." },
  { name = "Innkeeper", prompt = "Greet the player as a cheerful innkeeper." },
  { name = "Guard", prompt = "Warn the player as a tired city guard." },
}
local fatal                       -- a message that replaces the scene
local frames, worst, streaming_frames = 0, 0, 0
local finished = false

-- What a failed request shows: the error, and what to do about it.
local function explain(err)
  local hint = ""
  if err.status == 401 then
    hint = " (check OPENAI_API_KEY)"
  elseif err.kind == "network" or err.kind == "timeout" then
    hint = " (is the server up? OPENAI_BASE_URL=" .. (env("OPENAI_BASE_URL") or "the OpenAI API") .. ")"
  end
  return tostring(err) .. hint
end

function love.load()
  if not loaded then
    fatal = "The lua-chatgpt module did not load (build it with `make nvim` in the repository).\n\n"
            .. tostring(chatgpt)
    return
  end
  local ok, client = pcall(chatgpt.new, { base_url = env("OPENAI_BASE_URL") })
  if not ok then                  -- no key, a bad OPENAI_BASE_URL
    fatal = tostring(client):gsub("^.-bad argument #1 to 'new' %((.*)%)$", "%1")
            .. "\n\nSet OPENAI_API_KEY, or try the game against a local server: sh examples/love/try.sh"
    return
  end
  for _, npc in ipairs(npcs) do
    npc.text = ""
    npc.req = client:chat_async(npc.prompt, {
      max_tokens = 60,
      max_retries = 0,
      on_delta = function(d) npc.text = npc.text .. d end,
    })
  end
end

-- The scene as lines of text, wrapped to the window: {text, x, y, colour}.
-- Drawn by love.draw, and written out by the test (spec/hosts/run.sh).
local function scene()
  local W, H = love.graphics.getDimensions()
  local font = love.graphics.getFont()
  local lines, y = {}, MARGIN
  local function add(text, colour)
    local _, wrapped = font:getWrap(text, W - 2 * MARGIN)
    for _, l in ipairs(wrapped) do
      lines[#lines + 1] = { l, MARGIN, y, colour }
      y = y + font:getHeight()
    end
    y = y + font:getHeight() / 2
  end
  if fatal then
    add(fatal, { 1, 0.4, 0.4 })
    return lines
  end
  for _, npc in ipairs(npcs) do
    if npc.req.status == "failed" then
      add(npc.name .. ": " .. explain(select(2, npc.req:result())), { 1, 0.4, 0.4 })
    else
      add(npc.name .. ": " .. npc.text, { 1, 1, 1 })
    end
  end
  lines[#lines + 1] = { ("frame %d, worst %.1f ms"):format(frames, worst * 1000), MARGIN,
                        H - MARGIN - font:getHeight(), { 0.6, 0.6, 0.6 } }
  return lines
end

-- Test mode (HOST_RESULT set, spec/hosts/run.sh): once every request has
-- settled, writes what the screen shows and quits.
local function report()
  local out = os.getenv("HOST_RESULT")
  if not out then return end
  local font = love.graphics.getFont()
  local W, H = love.graphics.getDimensions()
  local f = assert(io.open(out, "w"))
  local widest, bottom = 0, 0
  for _, l in ipairs(scene()) do
    widest = math.max(widest, l[2] + font:getWidth(l[1]))
    bottom = math.max(bottom, l[3] + font:getHeight())
    f:write("line ", l[1], "\n")
  end
  local states = {}
  for _, npc in ipairs(npcs) do
    states[#states + 1] = npc.req and npc.req.status or "none"
    local text = npc.req and npc.req:result()
    if npc.req and npc.req.status == "done" and text ~= npc.text then states[#states] = "mismatch" end
  end
  f:write(("info %s frames=%d worst_ms=%.1f widest=%d bottom=%d width=%d height=%d states=%s\n")
    :format(jit and jit.version or _VERSION, streaming_frames, worst * 1000, widest, bottom, W, H,
            table.concat(states, ",")))
  f:close()
  love.event.quit()
end

function love.update(dt)
  frames = frames + 1
  local running = loaded and not fatal and chatgpt.poll(0) or 0   -- never waits: the frame goes on
  if frames > 5 and not finished then    -- the first frames include start-up
    streaming_frames = streaming_frames + 1
    if dt > worst then worst = dt end
  end
  if running == 0 and not finished then
    finished = true
    report()
  end
end

function love.draw()
  for _, l in ipairs(scene()) do
    love.graphics.setColor(l[4])
    love.graphics.print(l[1], l[2], l[3])
  end
end

-- An interactive chat in the terminal, streamed, with a few commands.
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' lua5.4 examples/repl.lua [system prompt]
--   echo "hi" | ... lua5.4 examples/repl.lua      (one answer, exits at EOF)
--
-- Talks to the OpenAI API when OPENAI_API_KEY (or OPENAI_BASE_URL) is set,
-- else to the fake server bundled for the tests (it says so on stderr).
--
-- Commands: /reset  /undo  /save FILE  /load FILE  /model [NAME]  /usage
--           /help   /quit

local chatgpt = require "chatgpt"

local HELP = [[
/reset        forget the conversation (the system prompt stays)
/undo         drop your last message and its answer
/save FILE    save the conversation to FILE (JSON)
/load FILE    load a conversation saved with /save
/model [NAME] show or change the model
/usage        tokens used so far
/quit         leave (or end the input: Ctrl-D)]]

local base_url, bundled = require("examples.server").base_url()
local client = chatgpt.new { base_url = base_url, auth = bundled and "none" or nil }

local system = arg[1] or "You are a helpful assistant. Keep answers short."
local conv = client:conversation { system = system }
local tty = os.execute("test -t 0 && test -t 1") == true

local function out(...)
  io.write(...)
  io.flush()
end

local function fail(msg)
  io.stderr:write("error: ", tostring(msg), "\n")
end

local commands = {}

function commands.reset()
  conv:reset()
  print("(conversation cleared)")
end

function commands.undo()
  if conv:undo() then print("(last exchange dropped)") else print("(nothing to undo)") end
end

function commands.save(file)
  if not file then return fail("usage: /save FILE") end
  local ok, err = conv:save(file)
  if ok then print("(saved to " .. file .. ")") else fail(err) end
end

commands["load"] = function(file)
  if not file then return fail("usage: /load FILE") end
  local loaded, err = chatgpt.load(file, client)
  if not loaded then return fail(err) end
  conv = loaded
  print(("(loaded %d messages, model %s)"):format(#conv.messages, conv.model))
end

function commands.model(name)
  if name then conv.model = name end
  print("(model: " .. conv.model .. ")")
end

function commands.usage()
  local u = conv.usage
  print(("(%d prompt + %d completion = %d tokens)"):format(u.prompt_tokens,
        u.completion_tokens, u.total_tokens))
end

function commands.help() print(HELP) end

if tty then io.stderr:write("Type a message, or /help.\n") end
while true do
  if tty then out("> ") end
  local line = io.read("*l")
  if line == nil then
    if tty then print() end
    break
  end
  local cmd, rest = line:match("^/(%a+)%s*(.-)%s*$")
  if cmd then
    if cmd == "quit" or cmd == "exit" then break end
    local fn = commands[cmd]
    if fn then fn(rest ~= "" and rest or nil) else fail("unknown command /" .. cmd .. " (try /help)") end
  elseif line:match("%S") then
    local reply, err = conv:say(line, { on_delta = function(piece) out(piece) end })
    if reply then print() else fail(err) end
  end
end
os.exit(0)

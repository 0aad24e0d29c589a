-- chatgpt.repl: `chatgpt -i`, a chat in the terminal. Each line is said in
-- the conversation and its answer streamed; lines that start with / are
-- commands. Ctrl-C stops an answer (the conversation stays as it was) and,
-- at the prompt, leaves; so does the end of the input (Ctrl-D).

local chatgpt = require "chatgpt"
local core    = require "chatgpt.core"
local cli     = require "chatgpt.cli"
local config  = require "chatgpt.cli_config"

local io, print, tostring = io, print, tostring

local M = {}

M.HELP = [[
/reset        forget the conversation (the system prompt stays)
/undo         drop your last message and its answer
/save FILE    save the conversation to FILE (JSON)
/load FILE    load a conversation saved with /save
/model [NAME] show or change the model
/usage        tokens used so far
/quit         leave (or end the input: Ctrl-D)]]

local function fail(msg)
  io.stderr:write("error: ", tostring(msg), "\n")
end

-- repl.run(conv, first, options) -> exit status. first: a prompt to say
-- before reading any line (the command's arguments), or nil.
function M.run(conv, first, o)
  local tty = core.isatty(0) and core.isatty(1)
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
    local loaded, err = chatgpt.load(file, conv.client)
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

  function commands.help() print(M.HELP) end

  -- kept for -c after each exchange and at the end (after /undo, /load ...)
  local function keep()
    local ok, err = config.save(conv)
    if not ok then fail(err) end
  end

  -- one exchange; Ctrl-C during it only stops it
  local function say(line)
    local status = cli.exchange(conv, line, o)
    if status == cli.EXIT.interrupted then
      io.stdout:write("(stopped)\n")
    elseif status == cli.EXIT.ok or status == cli.EXIT.cut then
      keep()
    end
  end

  if tty then io.stderr:write("Type a message, or /help.\n") end
  if first then say(first) end
  while true do
    if tty then
      io.stdout:write("> ")
      io.stdout:flush()
    end
    local line = io.stdin:read("*l")
    if core.interrupted() then
      if tty then io.stdout:write("\n") end
      return cli.EXIT.interrupted
    end
    if line == nil then
      if tty then io.stdout:write("\n") end
      keep()
      return cli.EXIT.ok
    end
    local cmd, rest = line:match("^/(%a+)%s*(.-)%s*$")
    if cmd then
      if cmd == "quit" or cmd == "exit" then
        keep()
        return cli.EXIT.ok
      end
      local fn = commands[cmd]
      if fn then fn(rest ~= "" and rest or nil) else fail("unknown command /" .. cmd .. " (try /help)") end
    elseif line:find("%S") then
      say(line)
    end
  end
end

return M

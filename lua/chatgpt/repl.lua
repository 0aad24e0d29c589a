-- chatgpt.repl: `chatgpt -i`, a chat in the terminal. Each message is said
-- in the conversation and its answer streamed; lines that start with / are
-- commands. On a terminal, lines are read with the line editor
-- (line_editor.lua: arrows, history kept across runs, Ctrl-R, pastes
-- taken whole); elsewhere (a pipe, TERM=dumb) line by line.
--
-- Ctrl-C during an answer stops it (the conversation stays as it was) and
-- the chat goes on; at the prompt it drops what was typed. Ctrl-D on an
-- empty line, the end of the input or /quit leaves. Without the editor,
-- Ctrl-C at the prompt leaves with status 130, as everywhere else.

local chatgpt = require "chatgpt"
local core    = require "chatgpt.core"
local cli     = require "chatgpt.cli"
local state   = require "chatgpt.cli_state"
local editors = require "chatgpt.line_editor"

local io, table, tostring, type = io, table, tostring, type

local M = {}

M.HELP = [[
/reset        forget the conversation (the system prompt stays)
/undo         drop your last message and its answer
/save FILE    save the conversation to FILE (JSON, readable by you only)
/load FILE    load a conversation saved with /save
/model [NAME] show or change the model
/attach FILE  send an image, a PDF or a text file with your next message
/usage        tokens used so far
/quit         leave (or Ctrl-D on an empty line)
"""           on a line of its own: a message of several lines follows, up to
              the next """ (in the editor, Alt-Enter also starts a new line,
              and a paste is taken whole)]]

-- The API a conversation speaks, for the banner.
local function api_of(conv)
  return conv.items and "Responses" or "Chat Completions"
end

-- "(12 prompt + 34 completion = 46 tokens)", in the API's own words.
function M.usage_line(conv)
  local u = conv.usage or {}
  local function n(v) return type(v) == "number" and v or 0 end
  if conv.items then
    return ("(%d input + %d output = %d tokens)"):format(n(u.input_tokens), n(u.output_tokens),
                                                         n(u.total_tokens))
  end
  return ("(%d prompt + %d completion = %d tokens)"):format(n(u.prompt_tokens), n(u.completion_tokens),
                                                            n(u.total_tokens))
end

-- repl.run(run, conv, first, parts) -> exit status. first: a prompt to say
-- before reading any line (the command's arguments), or nil; parts: -a's,
-- sent with the first message.
function M.run(run, conv, first, parts)
  local out, err = run.term.out, run.term.err
  local editor = editors.usable(0, 1) and editors.new { history = state.history() }
  local tty = core.isatty(0) and core.isatty(1)
  local pending = parts or {}
  local typed = ""                     -- what a plain read on a terminal got past a line
  local commands = {}

  local function say_line(s) out:write(s .. "\n") end
  local function fail(msg) run:fail(msg) end

  function commands.reset()
    conv:reset()
    say_line("(conversation cleared)")
  end

  function commands.undo()
    if conv:undo() then say_line("(last exchange dropped)") else say_line("(nothing to undo)") end
  end

  function commands.save(file)
    if not file then return fail("usage: /save FILE") end
    local ok, why = state.private(conv.save, conv, file)
    if ok then say_line("(saved to " .. file .. ")") else fail(why) end
  end

  commands["load"] = function(file)
    if not file then return fail("usage: /load FILE") end
    local loaded, why = chatgpt.load(file, conv.client)
    if not loaded then return fail(why) end
    conv = loaded
    say_line(("(loaded %d messages, model %s)"):format(#(conv.messages or conv.items), conv.model))
  end

  function commands.model(name)
    if name then conv.model = name end
    say_line("(model: " .. conv.model .. ")")
  end

  function commands.attach(file)
    if not file then return fail("usage: /attach FILE") end
    local part, why = chatgpt.file_part(file)
    if not part then return fail(why) end
    pending[#pending + 1] = part
    say_line("(" .. file .. " goes with your next message)")
  end

  function commands.usage() say_line(M.usage_line(conv)) end
  function commands.help() say_line(M.HELP) end

  -- kept for -c after each exchange and at the end (after /undo, /load ...)
  local function keep()
    local ok, why = state.save(conv)
    if not ok then fail(why) end
  end

  -- one exchange; Ctrl-C during it only stops it
  local function say(text)
    core.interrupted()                      -- a signal from before does not stop this one
    local message = cli.with_parts(text, pending)
    local status = cli.exchange(run, conv, message)
    if status == cli.EXIT.interrupted then
      say_line("(stopped)")
    elseif status == cli.EXIT.ok or status == cli.EXIT.cut then   -- a cut answer stays
      pending = {}
      keep()
    end
  end

  -- The next line: text | nil, "eof" | nil, "interrupt" (the editor's
  -- Ctrl-C) | nil, "signal" (Ctrl-C in a plain read).
  local function line(prompt)
    if editor then
      local text, why = editor:read(prompt, "")
      if text and text:find("%S") then state.keep_history(editor.history) end
      return text, why
    end
    if not tty then
      local text = io.stdin:read("*l")
      if core.interrupted() then return nil, "signal" end
      if text == nil then return nil, "eof" end
      return text
    end
    -- a terminal without the editor: its own lines, read a bounded time at
    -- a go, so that a Ctrl-C that comes just before a read is seen too
    out:write(prompt)
    while true do
      local nl = typed:find("\n", 1, true)
      if nl then
        local text = typed:sub(1, nl - 1)
        typed = typed:sub(nl + 1)
        return text
      end
      if core.interrupted() then return nil, "signal" end
      local got = core.tty_read(0, 100)
      if got == nil then
        if typed ~= "" then
          local text = typed
          typed = ""
          return text
        end
        return nil, "eof"
      end
      typed = typed .. got
    end
  end

  -- After """: the lines up to the next """, joined.
  local function block()
    local lines = {}
    while true do
      local text, why = line("... ")
      if text == nil then return nil, why end
      if text == '"""' then return table.concat(lines, "\n") end
      lines[#lines + 1] = text
    end
  end

  if tty then
    err:line(("chatgpt %s: %s at %s (%s). /help lists the commands; Ctrl-D leaves.")
             :format(chatgpt._VERSION:match("[%d.]+%S*") or "", conv.model, tostring(run.ctx.base_url),
                     api_of(conv)))
  end
  -- a line, a command or a message, until the end
  local function chat()
    while true do
      local text, why = line("> ")
      if text == '"""' then text, why = block() end
      if text == nil then
        if why == "signal" then return run:interrupted() end
        if why == "eof" then
          if tty and not editor then out:write("\n") end
          keep()
          return cli.EXIT.ok
        end
        -- "interrupt": the editor dropped the line; a fresh prompt follows
      else
        local cmd, rest = text:match("^/(%a+)%s*(.-)%s*$")
        if cmd then
          if cmd == "quit" or cmd == "exit" then
            keep()
            return cli.EXIT.ok
          end
          local fn = commands[cmd]
          if fn then fn(rest ~= "" and rest or nil) else fail("unknown command /" .. cmd .. " (try /help)") end
        elseif text:find("%S") then
          say(text)
        end
      end
    end
  end

  if first then say(first) end
  local status = chat()
  core.tty_restore()                 -- the editor left the terminal raw
  return status
end

return M

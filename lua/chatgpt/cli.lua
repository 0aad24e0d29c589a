-- chatgpt.cli: the `chatgpt` command. bin/chatgpt only finds the module
-- and calls cli.main(arg); everything else is here, loadable and testable:
-- main never calls os.exit, it returns the exit status.
--
-- The flags are cli_args.lua's, the config file cli_config.lua's, the
-- client and its key cli_client.lua's, the state files cli_state.lua's,
-- what reaches the terminal cli_term.lua's, the command's words for
-- failures cli_words.lua's, -a cli_attach.lua's and -i repl.lua's.

local chatgpt = require "chatgpt"
local core    = require "chatgpt.core"
local compat  = require "chatgpt.compat"
local cargs   = require "chatgpt.cli_args"
local config  = require "chatgpt.cli_config"
local state   = require "chatgpt.cli_state"
local term    = require "chatgpt.cli_term"
local words   = require "chatgpt.cli_words"

local io, ipairs, pairs, pcall, setmetatable, table, tostring, type =
      io, ipairs, pairs, pcall, setmetatable, table, tostring, type
local concat = table.concat

local M = {}

local EXIT = words.EXIT
M.EXIT = EXIT
M.USAGE = cargs.USAGE
M.parse = cargs.parse
M.status_of = words.status_of

-- ---- the run ----------------------------------------------------------------
-- One run of the command: its options, its output streams (term), and what
-- the words of a failure need (ctx: the server, a key withheld from it).

local Run = {}
Run.__index = Run

local function new_run(o)
  return setmetatable({ o = o, term = term.new { raw = o and o.raw }, ctx = {} }, Run)
end
M.new_run = new_run

-- run:fail(msg [, status]) -> status: one line on stderr, on a line of its own
function Run:fail(msg, status)
  self.term.err:line("chatgpt: " .. tostring(msg):gsub("[\r\n]+", " "))
  return status or EXIT.failure
end

-- run:report(err) -> the exit status for an error of the module, said
function Run:report(err)
  self:fail(words.error(err, self.ctx))
  return words.status_of(err)
end

-- run:log(line): a log line on stderr, never glued to the answer
function Run:log(line) self.term.err:line(line) end

function Run:interrupted()
  self.term.out:finish()
  return self:fail("interrupted", EXIT.interrupted)
end

-- A raise of the module (a bad argument that got past the command's own
-- checks) as the one line to show, without the Lua position.
local function raised(e)
  return (tostring(e):gsub("^[^\n]-%.lua:%d+: ", ""))
end
M.raised = raised

local INTERRUPTED = {}           -- what await returns for Ctrl-C
M.INTERRUPTED = INTERRUPTED

-- Drives the engine until h (a request or a say handle) settles, checking
-- for Ctrl-C between turns: poll(0.05) returns at once on activity, and a
-- signal ends a blocked poll too.
local function await(h)
  while h.status == "pending" do
    chatgpt.poll(0.05)
    if core.interrupted() then
      h:cancel()
      return nil, INTERRUPTED
    end
  end
  return h:result()
end
M.await = await

-- The answer's text in a response: Chat Completions' first choice, or the
-- output_text parts of a Responses answer.
function M.content_of(response)
  if type(response) ~= "table" then return nil end
  local choices = response.choices
  if type(choices) == "table" and type(choices[1]) == "table" and type(choices[1].message) == "table" then
    return choices[1].message.content
  end
  return chatgpt.output_text(response)
end

-- JSON mode is refused by the API unless a message names JSON: when none
-- does, the system message asks for a JSON object.
function M.name_json(conv, prompt)
  local function names(s) return type(s) == "string" and s:lower():find("json", 1, true) end
  if names(prompt) then return end
  local list = conv.messages or conv.items or {}
  for _, m in ipairs(list) do
    if names(m.content) then return end
  end
  local hint = "Answer with a JSON object."
  if conv.instructions ~= nil or conv.items then
    conv.instructions = (conv.instructions and (conv.instructions .. "\n\n") or "") .. hint
    return
  end
  local first = list[1]
  if first and first.role == "system" and type(first.content) == "string" then
    first.content = first.content .. "\n\n" .. hint
  else
    table.insert(list, 1, { role = "system", content = hint })
  end
end

-- The request params of a say from the options; out: the stream the
-- answer's text goes to (nil: the text is not streamed).
function M.params(o, out)
  local params = {}
  for k, v in pairs(o.params) do params[k] = v end
  if o.temperature then params.temperature = o.temperature end
  if o.max_tokens then
    params[o.responses and "max_output_tokens" or "max_completion_tokens"] = o.max_tokens
  end
  if o.json then params.json = true end
  if o.schema then params.schema = o.schema end
  if out and not o.json and not o.schema then
    params.on_delta = function(text) out:write(text) end
  end
  return params
end

-- The reasoning text some servers stream before the answer (DeepSeek,
-- vLLM, llama.cpp and OpenRouter in chat; a Responses reasoning summary),
-- on stderr as it comes, dimmed on a terminal. write is the on_reasoning
-- callback; finish ends it, before the answer's first piece.
local function thoughts(err)
  local open, part = false, nil
  local w = {}
  function w.write(text, at)
    -- a Responses summary comes in parts (paragraphs): a blank line between
    local this = type(at) == "table" and tostring(at.output_index) .. " " .. tostring(at.summary_index)
    if open and this and part and this ~= part then err:write("\n\n") end
    part = this or part
    if not open then
      open = true
      err:dim()
    end
    err:write(text)
  end
  function w.finish()
    if not open then return end
    open, part = false, nil
    err:finish()
  end
  return w
end

-- One exchange: conv says prompt (text, or a list of content parts);
-- the answer is streamed, or, for --json and --schema, printed once
-- complete (a reply that is not JSON is printed as it came, and gives 3);
-- the reasoning goes to stderr (unless --no-reasoning). An answer cut
-- short is kept, and says so (5). Returns the exit status; Ctrl-C (130)
-- is left to the caller to say.
function M.exchange(run, conv, prompt)
  local o, out = run.o, run.term.out
  local params = M.params(o, out)
  local thinking = not o.no_reasoning and thoughts(run.term.err) or nil
  if thinking then
    params.on_reasoning = thinking.write
    local write = params.on_delta
    if write then params.on_delta = function(text) thinking.finish(); write(text) end end
  end
  local ok, h = pcall(conv.say_async, conv, prompt, params)
  if not ok then return run:fail(raised(h), EXIT.usage) end
  local reply, response = await(h)
  if thinking then thinking.finish() end
  if reply == nil then
    if response == INTERRUPTED then          -- said by the caller: -i goes on
      out:finish()
      return EXIT.interrupted
    end
    local cut
    if chatgpt.is_error(response) then
      if response.code == "BAD_JSON" then out:write(M.content_of(response.response) or "") end
      -- JSON cut short, a Responses answer cut before any text: that is why
      cut = words.cut(response.response)
    end
    out:finish()
    if cut then return run:fail(cut, EXIT.cut) end
    return run:report(response)
  end
  if o.json or o.schema then out:write(M.content_of(response) or "") end
  out:finish()
  local cut = words.cut(response)
  if cut then return run:fail(cut, EXIT.cut) end
  return EXIT.ok
end

-- ---- the steps of a run ---------------------------------------------------

local function list_models(run, client)
  local list, err = await(client:models_async())
  if list == nil then
    if err == INTERRUPTED then return run:interrupted() end
    return run:report(err)
  end
  local ids = {}
  for _, m in ipairs(list) do
    if type(m) == "table" and m.id ~= nil then ids[#ids + 1] = tostring(m.id) end
  end
  table.sort(ids)
  for _, id in ipairs(ids) do run.term.out:write(id .. "\n") end
  return EXIT.ok
end

local function version(run)
  run.term.out:write("chatgpt (" .. chatgpt._VERSION .. ", " .. _VERSION .. ", libcurl "
                     .. core.curl_version() .. ")\n")
  return EXIT.ok
end

-- Standard input, whole; nil, status when it cannot be read.
local function read_stdin(run)
  local input, err = io.stdin:read("*a")
  if core.interrupted() then return nil, run:interrupted() end
  if input == nil then return nil, run:fail("cannot read standard input: " .. tostring(err)) end
  return input
end

-- The prompt from the words and standard input (read when it is not a
-- terminal, not given to -a -, and not for -i, which reads it line by
-- line). nil, status on failure; nil without a prompt.
local function read_prompt(run)
  local o = run.o
  local prompt = #o.words > 0 and concat(o.words, " ") or nil
  local stdin_taken = false
  for _, a in ipairs(o.attach) do stdin_taken = stdin_taken or a == "-" end
  if not o.interactive and not stdin_taken and not core.isatty(0) then
    local input, status = read_stdin(run)
    if not input then return nil, status end
    local fine, bad = compat.utf8_len(input)
    if not fine then
      return nil, run:fail("standard input is not UTF-8 text (byte " .. tostring(bad) .. " is not); "
                           .. "send a file with -a - instead", EXIT.usage)
    end
    if input:find("%S") then
      prompt = prompt and (prompt .. "\n\n" .. input) or input
    end
  end
  if prompt and not compat.utf8_len(prompt) then
    return nil, run:fail("the prompt is not UTF-8 text", EXIT.usage)
  end
  return prompt
end

-- The conversation to say things in: the last one (-c) or a new one,
-- with -s and -m applied; nil, status on failure.
local function conversation(run, client, settings)
  local o = run.o
  if o.continue then
    local conv, err = state.load_last(client)
    if not conv then return nil, run:fail("no conversation to continue: " .. tostring(err)) end
    if o.model then conv.model = o.model end
    if o.system then
      if conv.items then conv.instructions = o.system
      else require("chatgpt.conversation").set_system(conv.messages, o.system) end
    end
    return conv
  end
  local opts = { system = o.system or settings.system, model = o.model or settings.model }
  if o.responses then opts.api = "responses" end
  local ok, c = pcall(client.conversation, client, opts)
  if not ok then return nil, run:fail(raised(c), EXIT.usage) end
  return c
end

-- The message to say: the prompt, with the -a parts after it.
local function with_parts(prompt, list)
  if #list == 0 then return prompt end
  local content = {}
  if prompt then content[1] = { type = "text", text = prompt } end
  for _, p in ipairs(list) do content[#content + 1] = p end
  return content
end
M.with_parts = with_parts

-- The run behind main, once Ctrl-C is trapped.
local function run_command(argv)
  local o, why = cargs.parse(argv)
  local run = new_run(o or {})
  if not o then return run:fail(why .. " (chatgpt --help lists the options)", EXIT.usage) end
  if o.help then
    run.term.out:write(M.USAGE)
    return EXIT.ok
  end
  if o.version then return version(run) end

  local cfg, cerr = config.load(o.profile)
  if not cfg then return run:fail(cerr, EXIT.usage) end
  local settings = cfg.settings
  if o.schema then
    local schema, serr = config.read_schema(o.schema)
    if not schema then return run:fail(serr, EXIT.failure) end
    o.schema = schema
  end
  for _, k in ipairs { "temperature", "max_tokens" } do
    if o[k] == nil then o[k] = settings[k] end
  end

  local client, ctx = require("chatgpt.cli_client").new(o, cfg, function(line) run:log(line) end)
  if core.interrupted() then return run:interrupted() end     -- Ctrl-C while the key command ran
  if not client then return run:fail(ctx, EXIT.usage) end
  run.ctx = ctx
  if o.models then return list_models(run, client) end

  local list, status = require("chatgpt.cli_attach").parts(run)
  if not list then return status end
  local prompt
  prompt, status = read_prompt(run)
  if status then return status end
  local conv
  conv, status = conversation(run, client, settings)
  if not conv then return status end
  if o.json then M.name_json(conv, prompt) end
  if o.interactive then
    return require("chatgpt.repl").run(run, conv, prompt, list)
  end
  if not prompt and #list == 0 then
    return run:fail("no prompt: give one as arguments or on standard input, or -i for a chat", EXIT.usage)
  end
  status = M.exchange(run, conv, with_parts(prompt, list))
  if status == EXIT.interrupted then return run:interrupted() end
  if status == EXIT.ok or status == EXIT.cut then     -- a cut answer is kept for -c
    local saved, serr = state.save(conv)
    if not saved then return run:fail(serr, EXIT.failure) end
  end
  return status
end

-- cli.main(argv) -> exit status. Ctrl-C is trapped for the run (and given
-- back after): it cancels the request in flight and gives 130.
function M.main(argv)
  core.trap_interrupt(true)
  local ok, status = pcall(run_command, argv or {})
  core.tty_restore()
  if not ok then                 -- a bug of ours: still one line, no traceback
    core.trap_interrupt(false)
    io.stderr:write("chatgpt: internal error: ", (tostring(status):gsub("[\r\n]+", " ")), "\n")
    return EXIT.failure
  end
  -- a Ctrl-C that came after the last check (while the state was kept)
  if status ~= EXIT.interrupted and core.interrupted() then status = new_run({}):interrupted() end
  core.trap_interrupt(false)
  return status
end

return M

-- chatgpt.cli: the `chatgpt` command. bin/chatgpt only finds the module
-- and calls cli.main(arg); everything else is here, loadable and testable:
-- main never calls os.exit, it returns the exit status.
--
-- Settings come from the flags, then the environment, then the config file
-- (cli_config.lua); the interactive mode is repl.lua's.

local chatgpt = require "chatgpt"
local core    = require "chatgpt.core"
local config  = require "chatgpt.cli_config"

local io, ipairs, pairs, pcall, table, tonumber, tostring, type =
      io, ipairs, pairs, pcall, table, tonumber, tostring, type
local concat = table.concat
local huge = math.huge

local M = {}

-- Exit statuses, documented in USAGE and README.
local EXIT = { ok = 0, failure = 1, usage = 2, api = 3, network = 4, cut = 5, interrupted = 130 }
M.EXIT = EXIT

M.USAGE = [[
usage: chatgpt [options] [prompt ...]
       git diff | chatgpt -s "Review this"

Sends the prompt (the arguments, then standard input when it is not a
terminal) and streams the answer to standard output.

  -m, --model NAME        the model (default: the config file's, else gpt-4o-mini)
  -s, --system TEXT       a system prompt
  -t, --temperature N     sampling temperature
      --max-tokens N      cap on the answer (sent as max_completion_tokens)
  -p, --param NAME=VALUE  any other request field; VALUE is read as JSON if it is JSON
      --json              ask for a JSON object, print it once complete
      --schema FILE       ask for JSON that follows the JSON schema in FILE, print it
  -c, --continue          continue the last conversation
  -i, --interactive       a chat in the terminal (/help there lists its commands)
      --responses         the Responses API instead of Chat Completions
      --no-reasoning      do not show the reasoning text some servers stream
                          (shown on standard error, dimmed on a terminal)
      --models            list the models the server offers
      --base-url URL      the server (default: $OPENAI_BASE_URL, else the OpenAI API)
  -h, --help              this text
      --version           versions of chatgpt, Lua and libcurl

The key: $OPENAI_API_KEY (sent only to the OpenAI API or $OPENAI_BASE_URL),
else the file named by $OPENAI_API_KEY_FILE, else the output of the command
in $CHATGPT_API_KEY_CMD (split at blanks, run without a shell), else
api_key_file or api_key_cmd in the config file. A server that needs no key
gets none.

Config file: $XDG_CONFIG_HOME/lua-chatgpt/config.lua or config.json
(default ~/.config/lua-chatgpt/): base_url, model, system, temperature,
max_tokens, api_key_file, api_key_cmd, and any other chatgpt.new option
but api_key. The last conversation: $XDG_STATE_HOME/lua-chatgpt/last.json
(default ~/.local/state/lua-chatgpt/), readable by you only.
CHATGPT_LOG=info (or debug) logs each request on standard error.

Exit status: 0 done, 1 another failure (a file that cannot be read or
written), 2 usage (a bad option, no prompt, no key), 3 the server answered
with an error or an answer that cannot be used, 4 network or timeout,
5 the answer was cut short (the token limit, the content filter: what came
is on standard output, and a line on standard error says why),
130 interrupted (Ctrl-C).
]]

-- ---- arguments -------------------------------------------------------------

-- flag -> { name, takes a value }
local FLAGS = {
  ["-m"] = { "model", true }, ["--model"] = { "model", true },
  ["-s"] = { "system", true }, ["--system"] = { "system", true },
  ["-t"] = { "temperature", true }, ["--temperature"] = { "temperature", true },
  ["--max-tokens"] = { "max_tokens", true },
  ["-p"] = { "param", true }, ["--param"] = { "param", true },
  ["--json"] = { "json" }, ["--schema"] = { "schema", true },
  ["-c"] = { "continue" }, ["--continue"] = { "continue" },
  ["-i"] = { "interactive" }, ["--interactive"] = { "interactive" },
  ["--responses"] = { "responses" }, ["--models"] = { "models" },
  ["--no-reasoning"] = { "no_reasoning" },
  ["--base-url"] = { "base_url", true },
  ["-h"] = { "help" }, ["--help"] = { "help" }, ["--version"] = { "version" },
}

-- parse(argv) -> options | nil, why. options.words: the prompt's words;
-- options.params: the -p fields.
function M.parse(argv)
  local o, words, params = {}, {}, {}
  local i, n = 1, #argv
  while i <= n do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, n do words[#words + 1] = argv[j] end
      break
    end
    local name, value = a, nil
    if a:sub(1, 2) == "--" and a:find("=", 3, true) then
      name, value = a:match("^([^=]*)=(.*)$")
    end
    local flag = a:sub(1, 1) == "-" and a ~= "-" and FLAGS[name]
    if a:sub(1, 1) == "-" and a ~= "-" and not flag then
      return nil, "unknown option " .. name
    elseif flag then
      if flag[2] and value == nil then
        i = i + 1
        value = argv[i]
        if value == nil then return nil, "option " .. name .. " needs a value" end
      elseif not flag[2] and value ~= nil then
        return nil, "option " .. name .. " takes no value"
      end
      if flag[1] == "param" then
        local k, v = value:match("^([%w_%.%-]+)=(.*)$")
        if not k then return nil, "option " .. name .. ": NAME=VALUE expected, got " .. value end
        local decoded = core.decode(v)             -- JSON null decodes to nil
        if v == "null" then decoded = core.null elseif decoded == nil then decoded = v end
        params[k] = decoded
      else
        o[flag[1]] = value == nil and true or value
      end
    else
      words[#words + 1] = a
    end
    i = i + 1
  end
  if o.temperature then
    local t = tonumber(o.temperature)
    if not t or t ~= t or t == huge or t == -huge then
      return nil, "option --temperature: a number expected, got " .. o.temperature
    end
    o.temperature = t
  end
  if o.max_tokens then
    local t = tonumber(o.max_tokens)
    if not t or t < 1 or t % 1 ~= 0 or t > 2 ^ 31 then
      return nil, "option --max-tokens: a whole number > 0 expected, got " .. o.max_tokens
    end
    o.max_tokens = t
  end
  if o.json and o.schema then return nil, "give --json or --schema, not both" end
  if o.models and (o.interactive or o.continue) then
    return nil, "--models lists models: no -i or -c with it"
  end
  o.words, o.params = words, params
  return o
end

-- ---- running ---------------------------------------------------------------

local function say_error(msg)
  io.stderr:write("chatgpt: ", (tostring(msg):gsub("[\r\n]+", " ")), "\n")
end
M.say_error = say_error

-- The exit status for an error object of the module.
function M.status_of(err)
  local kind = type(err) == "table" and err.kind
  if kind == "network" or kind == "timeout" then return EXIT.network end
  if kind == "http" or kind == "api" or kind == "parse" or kind == "refusal"
     or kind == "limit" or kind == "cancelled" then
    return EXIT.api
  end
  return EXIT.failure
end

-- tostring(err) already opens with "chatgpt: "
local function report(err)
  if chatgpt.is_error(err) then
    io.stderr:write((tostring(err):gsub("[\r\n]+", " ")), "\n")
  else
    say_error(err)
  end
  return M.status_of(err)
end

-- A raise of the module (a bad option in the config file, no key) as
-- the one line to show: luaL_argerror's words without the Lua position.
local function raised(e)
  return (tostring(e):gsub("^[^\n]-%.lua:%d+: ", ""))
end
M.raised = raised

local INTERRUPTED = {}           -- what await returns for Ctrl-C

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
M.INTERRUPTED = INTERRUPTED

local function printer()
  local last = "\n"
  local p = { wrote = false }
  function p.write(text)
    if type(text) ~= "string" or text == "" then return end
    io.stdout:write(text)
    io.stdout:flush()
    p.wrote, last = true, text:sub(-1)
  end
  function p.finish()           -- the shell's prompt starts on a line of its own
    if p.wrote and last ~= "\n" then io.stdout:write("\n") end
    io.stdout:flush()
  end
  return p
end
M.printer = printer

-- The request params of a say from the options.
function M.params(o, out)
  local params = {}
  for k, v in pairs(o.params) do params[k] = v end
  if o.temperature then params.temperature = o.temperature end
  if o.max_tokens then
    params[o.responses and "max_output_tokens" or "max_completion_tokens"] = o.max_tokens
  end
  if o.json then params.json = true end
  if o.schema then params.schema = o.schema end
  if out and not o.json and not o.schema then params.on_delta = out.write end
  return params
end

-- The reasoning text a chat streams (DeepSeek, vLLM, llama.cpp,
-- OpenRouter), on stderr as it comes, dimmed on a terminal. w.write is the
-- on_reasoning callback; w.finish ends its lines before the answer.
function M.thoughts()
  local dim, open = core.isatty(2), false
  local w = {}
  function w.write(text)
    if not open then
      open = true
      if dim then io.stderr:write("\27[2m") end
    end
    io.stderr:write(text)
    io.stderr:flush()
  end
  function w.finish()
    if not open then return end
    open = false
    io.stderr:write(dim and "\27[0m\n" or "\n")
    io.stderr:flush()
  end
  return w
end

-- The one line to say when an answer was cut short, or nil: a chat's
-- finish_reason "length" or "content_filter", a Responses answer
-- "incomplete" with its reason.
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

-- One exchange: conv says prompt; prints the answer (streamed, or the JSON
-- once complete), the reasoning on stderr (chat, unless --no-reasoning).
-- Returns the exit status.
function M.exchange(conv, prompt, o)
  local out = printer()
  local params = M.params(o, out)
  local thinking = not o.no_reasoning and conv.api ~= "responses" and M.thoughts() or nil
  if thinking then
    params.on_reasoning = thinking.write
    local write = params.on_delta
    if write then params.on_delta = function(text) thinking.finish(); write(text) end end
  end
  local ok, h = pcall(conv.say_async, conv, prompt, params)
  if not ok then
    say_error(raised(h))
    return EXIT.usage
  end
  local reply, response = await(h)
  if thinking then thinking.finish() end
  if reply == nil then
    out.finish()
    if response == INTERRUPTED then return EXIT.interrupted end
    return report(response)
  end
  if o.json or o.schema then
    out.write(config.content_of(response) or "")
  end
  out.finish()
  local cut = M.cut(response)
  if cut then
    say_error(cut)
    return EXIT.cut
  end
  return EXIT.ok
end

local function list_models(client)
  local list, err = await(client:models_async())
  if list == nil then
    if err == INTERRUPTED then return EXIT.interrupted end
    return report(err)
  end
  local ids = {}
  for _, m in ipairs(list) do
    if type(m) == "table" and m.id ~= nil then ids[#ids + 1] = tostring(m.id) end
  end
  table.sort(ids)
  for _, id in ipairs(ids) do io.stdout:write(id, "\n") end
  return EXIT.ok
end

local function version()
  io.stdout:write("chatgpt (", chatgpt._VERSION, ", ", _VERSION, ", libcurl ",
                  core.curl_version(), ")\n")
  return EXIT.ok
end

-- The prompt from the words and standard input (read when it is not a
-- terminal, and not for -i, which reads it line by line).
local function read_prompt(o)
  local prompt = #o.words > 0 and concat(o.words, " ") or nil
  if not o.interactive and not core.isatty(0) then
    local input, err = io.stdin:read("*a")
    if input == nil and core.interrupted() then return nil, INTERRUPTED end
    if input == nil then return nil, "cannot read standard input: " .. tostring(err) end
    if input:find("%S") then
      prompt = prompt and (prompt .. "\n\n" .. input) or input
    end
  end
  return prompt
end

-- The conversation to say things in: the last one (-c) or a new one,
-- with -s and -m applied; nil, status on failure.
local function conversation(client, o, settings)
  local conv
  if o.continue then
    local path = config.state_file()
    local loaded, err = chatgpt.load(path, client)
    if not loaded then
      say_error("no conversation to continue: " .. tostring(err))
      return nil, EXIT.failure
    end
    conv = loaded
    if o.model then conv.model = o.model end
    if o.system then require("chatgpt.conversation").set_system(conv.messages, o.system) end
  else
    local opts = { system = o.system or settings.system, model = o.model or settings.model }
    if o.responses then opts.api = "responses" end
    local ok, c = pcall(client.conversation, client, opts)
    if not ok then
      say_error(raised(c))
      return nil, EXIT.usage
    end
    conv = c
  end
  return conv
end

-- The run behind main, once Ctrl-C is trapped.
local function run(argv)
  local o, why = M.parse(argv)
  if not o then
    say_error(why .. " (chatgpt --help lists the options)")
    return EXIT.usage
  end
  if o.help then
    io.stdout:write(M.USAGE)
    return EXIT.ok
  end
  if o.version then return version() end

  local settings, cerr = config.load()
  if not settings then
    say_error(cerr)
    return EXIT.usage
  end
  if o.schema then
    local schema, serr = config.read_schema(o.schema)
    if not schema then
      say_error(serr)
      return EXIT.usage
    end
    o.schema = schema
  end
  for k, v in pairs { temperature = settings.temperature, max_tokens = settings.max_tokens } do
    if o[k] == nil then o[k] = v end
  end

  local client, kerr = config.client(o, settings)
  if not client then
    say_error(kerr)
    return EXIT.usage
  end
  if o.models then return list_models(client) end

  local prompt, perr = read_prompt(o)
  if perr == INTERRUPTED then return EXIT.interrupted end
  if perr then
    say_error(perr)
    return EXIT.failure
  end
  local conv, status = conversation(client, o, settings)
  if not conv then return status end
  if o.json then config.name_json(conv, prompt) end
  if o.interactive then
    return require("chatgpt.repl").run(conv, prompt, o)
  end
  if not prompt then
    say_error("no prompt: give one as arguments or on standard input, or -i for a chat")
    return EXIT.usage
  end
  status = M.exchange(conv, prompt, o)
  if status == EXIT.ok or status == EXIT.cut then
    local saved, serr = config.save(conv)
    if not saved then say_error(serr) end
  end
  return status
end

-- cli.main(argv) -> exit status. Ctrl-C is trapped for the run (and given
-- back after): it cancels the request in flight and gives 130.
function M.main(argv)
  core.trap_interrupt(true)
  local ok, status = pcall(run, argv or {})
  core.trap_interrupt(false)
  if not ok then                 -- a bug of ours: still one line, no traceback
    say_error("internal error: " .. tostring(status))
    return EXIT.failure
  end
  return status
end

return M

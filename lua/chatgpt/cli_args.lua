-- chatgpt.cli_args: the `chatgpt` command's flags, its usage text, and
-- "did you mean" for a mistyped name (a flag, a setting of the config file).
--
-- Flags as getopt and getopt_long read them: -m gpt-4o, -mgpt-4o, -ic
-- (short flags together), --model gpt-4o, --model=gpt-4o, and -- before
-- words that start with a dash.

local core = require "chatgpt.core"

local ipairs, math, pairs, table, tonumber = ipairs, math, pairs, table, tonumber
local huge, min = math.huge, math.min

local M = {}

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
  -a, --attach FILE       an image (png, jpeg, webp, gif), a PDF or a text file sent
                          with the prompt; a URL; - for standard input (repeatable)
      --json              ask for a JSON object, print it once complete
      --schema FILE       ask for JSON that follows the JSON schema in FILE, print it
  -c, --continue          continue the last conversation
  -i, --interactive       a chat in the terminal (/help there lists its commands)
      --responses         the Responses API instead of Chat Completions
      --no-reasoning      do not show the reasoning text some servers stream
                          (shown on standard error, dimmed on a terminal)
      --models            list the models the server offers
      --base-url URL      the server (default: $OPENAI_BASE_URL, else the OpenAI API)
      --profile NAME      the settings of profiles.NAME in the config file
      --key-file FILE     the key for this server, from FILE (only you may read it)
      --key-env NAME      the key for this server, from the variable NAME
      --raw               write the answer's bytes as they come, even to a terminal
  -h, --help              this text
      --version           versions of chatgpt, Lua and libcurl

The key: $OPENAI_API_KEY, else the file named by $OPENAI_API_KEY_FILE, else
the output of the command in $CHATGPT_API_KEY_CMD (split at blanks, run
without a shell), else api_key_file, api_key_cmd or api_key_env in the
config file. These go only to the OpenAI API or $OPENAI_BASE_URL (a key in
the config file also to the base_url beside it); for another server give
--key-file, --key-env or a profile. A server that needs no key gets none.

Config file: $XDG_CONFIG_HOME/lua-chatgpt/config.lua or config.json
(default ~/.config/lua-chatgpt/), which only you may write: base_url,
model, system, temperature, max_tokens, the key's source, profiles, and
any other chatgpt.new option but api_key. The last conversation and the
history of -i: $XDG_STATE_HOME/lua-chatgpt/ (default ~/.local/state/),
readable by you only. CHATGPT_LOG=info (or debug) logs each request on
standard error.

Exit status: 0 done, 1 another failure (a file that cannot be read or
written), 2 usage (a bad option, no prompt, no key, a bad config file),
3 the server answered with an error or an answer that cannot be used,
4 network or timeout, 5 the answer was cut short (the token limit, the
content filter: what came is on standard output, and a line on standard
error says why), 130 interrupted (Ctrl-C).
]]

-- flag -> { name, takes a value, repeatable }
local FLAGS = {
  ["-m"] = { "model", true }, ["--model"] = { "model", true },
  ["-s"] = { "system", true }, ["--system"] = { "system", true },
  ["-t"] = { "temperature", true }, ["--temperature"] = { "temperature", true },
  ["--max-tokens"] = { "max_tokens", true },
  ["-p"] = { "param", true, true }, ["--param"] = { "param", true, true },
  ["-a"] = { "attach", true, true }, ["--attach"] = { "attach", true, true },
  ["--json"] = { "json" }, ["--schema"] = { "schema", true },
  ["-c"] = { "continue" }, ["--continue"] = { "continue" },
  ["-i"] = { "interactive" }, ["--interactive"] = { "interactive" },
  ["--responses"] = { "responses" }, ["--models"] = { "models" },
  ["--no-reasoning"] = { "no_reasoning" },
  ["--base-url"] = { "base_url", true }, ["--profile"] = { "profile", true },
  ["--key-file"] = { "key_file", true }, ["--key-env"] = { "key_env", true },
  ["--raw"] = { "raw" },
  ["-h"] = { "help" }, ["--help"] = { "help" }, ["--version"] = { "version" },
}
M.FLAGS = FLAGS

-- The option's name as the user would write it, for messages: "--model".
local LONG = {}
for flag, f in pairs(FLAGS) do
  if flag:sub(1, 2) == "--" then LONG[f[1]] = flag end
end
M.LONG = LONG

-- Damerau-Levenshtein distance (a swap of two neighbours counts one).
local function distance(a, b)
  local la, lb = #a, #b
  local d = {}
  for i = 0, la do d[i] = { [0] = i } end
  for j = 0, lb do d[0][j] = j end
  for i = 1, la do
    for j = 1, lb do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      local v = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:sub(i, i) == b:sub(j - 1, j - 1) and a:sub(i - 1, i - 1) == b:sub(j, j) then
        v = min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[la][lb]
end

-- suggest(word, names) -> the name closest to word, when it is close
-- enough to be a typo of it (at most 2 edits, and fewer than half its
-- letters), else nil. names: a list, or a table whose keys are the names.
function M.suggest(word, names)
  local list = names
  if names[1] == nil then
    list = {}
    for k in pairs(names) do list[#list + 1] = k end
  end
  table.sort(list)
  local best, best_d = nil, huge
  for _, name in ipairs(list) do
    local dd = distance(word, name)
    if dd < best_d then best, best_d = name, dd end
  end
  if best and best_d <= 2 and best_d * 2 < #word then return best end
end

local function did_you_mean(name)
  local longs = {}
  for flag in pairs(FLAGS) do
    if flag:sub(1, 2) == "--" then longs[#longs + 1] = flag end
  end
  local s = name:sub(1, 2) == "--" and M.suggest(name, longs)
            or (#name > 2 and M.suggest("-" .. name, longs))   -- -model: --model
  return s and (" (did you mean " .. s .. "?)") or ""
end

local function number(name, s, whole)
  local t = tonumber(s)
  if whole then
    if not t or t < 1 or t % 1 ~= 0 or t > 2 ^ 31 then
      return nil, name .. ": a whole number > 0 expected, got " .. s
    end
  elseif not t or t ~= t or t == huge or t == -huge then
    return nil, name .. ": a number expected, got " .. s
  end
  return t
end

-- -p NAME=VALUE: VALUE read as JSON when it is JSON, else a string.
local function param(params, flag, value)
  local k, v = value:match("^([%w_%.%-]+)=(.*)$")
  if not k then return nil, flag .. ": NAME=VALUE expected, got " .. value end
  local decoded = core.decode(v)             -- JSON null decodes to nil
  if v == "null" then decoded = core.null elseif decoded == nil then decoded = v end
  params[k] = decoded
  return true
end

-- Sets what one flag says; nil, why when it cannot.
local function take(o, flag, f, value)
  local name = f[1]
  if name == "param" then return param(o.params, flag, value) end
  if name == "attach" then
    o.attach[#o.attach + 1] = value
    return true
  end
  if name == "temperature" or name == "max_tokens" then
    local n, why = number(flag, value, name == "max_tokens")
    if not n then return nil, why end
    value = n
  end
  o[name] = value == nil and true or value
  o.flag_of[name] = flag
  return true
end

-- parse(argv) -> options | nil, why. options.words: the prompt's words;
-- options.params: the -p fields; options.attach: the -a values, in order;
-- options.flag_of[name]: the flag that set an option, as typed.
function M.parse(argv)
  local o = { words = {}, params = {}, attach = {}, flag_of = {} }
  local i, n = 1, #argv
  while i <= n do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, n do o.words[#o.words + 1] = argv[j] end
      break
    elseif a:sub(1, 2) == "--" then
      local name, value = a, nil
      local eq = a:find("=", 3, true)
      if eq then name, value = a:sub(1, eq - 1), a:sub(eq + 1) end
      local f = FLAGS[name]
      if not f then return nil, "unknown option " .. name .. did_you_mean(name) end
      if f[2] and value == nil then
        i = i + 1
        value = argv[i]
        if value == nil then return nil, name .. " needs a value" end
      elseif not f[2] and value ~= nil then
        return nil, name .. " takes no value"
      end
      local ok, why = take(o, name, f, value)
      if not ok then return nil, why end
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      -- -ic, -mgpt-4o, -m gpt-4o
      local j = 2
      while j <= #a do
        local flag = "-" .. a:sub(j, j)
        local f = FLAGS[flag]
        if not f then
          return nil, "unknown option " .. flag .. (j == 2 and did_you_mean(a) or " (in " .. a .. ")")
        end
        local value
        if f[2] then
          value = a:sub(j + 1)
          if value == "" then
            i = i + 1
            value = argv[i]
            if value == nil then return nil, flag .. " needs a value" end
          end
          j = #a
        end
        local ok, why = take(o, flag, f, value)
        if not ok then return nil, why end
        j = j + 1
      end
    else
      o.words[#o.words + 1] = a
    end
    i = i + 1
  end
  if o.json and o.schema then return nil, "give --json or --schema, not both" end
  if o.models and (o.interactive or o.continue) then
    return nil, "--models lists models: no -i or -c with it"
  end
  if o.key_file and o.key_env then return nil, "give --key-file or --key-env, not both" end
  local stdin = 0
  for _, v in ipairs(o.attach) do
    if v == "-" then stdin = stdin + 1 end
  end
  if stdin > 1 then return nil, "-a - reads standard input: give it once" end
  return o
end

return M

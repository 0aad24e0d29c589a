-- The `chatgpt` command, run as a user runs it (bin/chatgpt in a process of
-- its own) against the fake server.
local fake = require "spec.support.fake"
local T = require "spec.support.client"
local cli = require "spec.support.cli"
local lines, mode, sleep, write = cli.lines, cli.mode, cli.sleep, cli.write
local core = require "chatgpt.core"

local HELLO = T.HELLO

before_each(function() fake.reset() end)

describe("chatgpt PROMPT", function()
  it("streams the answer to stdout, asks for a stream, and exits 0", function()
    local out, err, status = cli.run { "What", "is", "Lua?" }
    assert.equal(0, status, err)
    assert.equal(HELLO .. "\n", out)
    assert.equal("", err)
    local req = fake.last()
    assert.equal("What is Lua?", req.json.messages[1].content)
    assert.is_true(req.json.stream)
    assert.equal("gpt-4o-mini", req.json.model)
    assert.equal("Bearer " .. T.KEY, req.header["authorization"])
  end)

  it("writes each piece as it arrives, before the answer is complete", function()
    fake.script { sse = {
      { choices = { { index = 0, delta = { content = "first " } } } },
      { choices = { { index = 0, delta = { content = "second" } } } }, "[DONE]" },
      chunk_delay = 1.5 }
    local pid, done, files = cli.start { "hi" }
    local seen
    for _ = 1, 100 do
      seen = cli.read(files.out)
      if seen and seen ~= "" then break end
      sleep(0.02)
    end
    assert.equal("first ", seen)           -- the second piece is 1.5 s away
    assert.is_nil(done())
    for _ = 1, 300 do
      if done() then break end
      sleep(0.02)
    end
    assert.equal(0, done())
    assert.equal("first second\n", cli.read(files.out))
    assert.truthy(pid)
  end)

  it("sends -m, -s, -t, --max-tokens and -p fields", function()
    local _, err, status = cli.run { "-m", "gpt-4o", "-s", "Be terse.", "-t", "0.2", "--max-tokens", "50",
                                     "-p", "seed=42", "-p", "user=alice", "-p", 'stop=["\\n"]',
                                     "-p", "logprobs=null", "hi" }
    assert.equal(0, status, err)
    local js = fake.last().json
    assert.equal("gpt-4o", js.model)
    assert.same({ role = "system", content = "Be terse." }, js.messages[1])
    assert.equal("hi", js.messages[2].content)
    assert.equal(0.2, js.temperature)
    assert.equal(50, js.max_completion_tokens)
    assert.equal(42, js.seed)
    assert.equal("alice", js.user)
    assert.same({ "\n" }, js.stop)
    assert.truthy(fake.last().body:find('"logprobs":null', 1, true))
  end)

  it("reads a piped prompt: git diff | chatgpt -s \"Review this\"", function()
    local diff = "diff --git a/x.lua b/x.lua\n-local a = 1\n+local a = 2\n"
    local out, err, status = cli.run({ "-s", "Review this" }, { stdin = diff })
    assert.equal(0, status, err)
    assert.equal(HELLO .. "\n", out)
    local msgs = fake.last().json.messages
    assert.same({ role = "system", content = "Review this" }, msgs[1])
    assert.equal(diff, msgs[2].content)
  end)

  it("appends piped input to the prompt of the arguments", function()
    local _, err, status = cli.run({ "Summarise:" }, { stdin = "line one\nline two\n" })
    assert.equal(0, status, err)
    assert.equal("Summarise:\n\nline one\nline two\n", fake.last().json.messages[1].content)
  end)

  it("exits 2 with one line on stderr when there is no prompt", function()
    local out, err, status = cli.run {}
    assert.equal(2, status)
    assert.equal("", out)
    assert.equal(1, #lines(err), err)
    assert.truthy(err:find("no prompt", 1, true), err)
    assert.is_nil(fake.last())
  end)

  it("exits 2 with one line on stderr for an unknown option or a bad value", function()
    for _, args in ipairs { { "--frobnicate", "x" }, { "-t", "warm", "x" }, { "--max-tokens", "0", "x" },
                            { "-m" }, { "--json", "--schema", "f", "x" }, { "-p", "novalue", "x" } } do
      local out, err, status = cli.run(args)
      assert.equal(2, status, table.concat(args, " ") .. ": " .. err)
      assert.equal("", out)
      assert.equal(1, #lines(err), err)
      assert.truthy(err:find("^chatgpt: "), err)
    end
    assert.is_nil(fake.last())
  end)

  it("prints its usage with --help and its versions with --version", function()
    local out, _, status = cli.run { "--help" }
    assert.equal(0, status)
    assert.truthy(out:find("usage: chatgpt", 1, true))
    assert.truthy(out:find("130 interrupted", 1, true))
    out, _, status = cli.run { "--version" }
    assert.equal(0, status)
    assert.truthy(out:find("lua-chatgpt " .. core._VERSION, 1, true), out)
    assert.truthy(out:find(core.curl_version(), 1, true), out)
  end)
end)

describe("chatgpt --json and --schema", function()
  before_each(function() fake.config { chat_text = '{"colours": ["red", "green"]}' } end)

  it("--json asks for a JSON object and prints it once complete", function()
    local out, err, status = cli.run { "--json", "Three colours" }
    assert.equal(0, status, err)
    assert.equal('{"colours": ["red", "green"]}\n', out)
    local js = fake.last().json
    assert.same({ type = "json_object" }, js.response_format)
    -- the API refuses JSON mode unless a message names JSON
    assert.equal("system", js.messages[1].role)
    assert.truthy(js.messages[1].content:find("JSON", 1, true))
  end)

  it("--json prints a reply that is not JSON as it came, and exits 3", function()
    fake.config { chat_text = "Sorry, no." }
    local out, err, status = cli.run { "--json", "Give me JSON" }
    assert.equal(3, status)
    assert.equal("Sorry, no.\n", out)
    assert.equal(1, #lines(err), err)
    assert.truthy(err:find("BAD_JSON", 1, true), err)
  end)

  it("--schema FILE sends the schema, strict, named after the file, and prints the JSON", function()
    local dir = cli.home()
    local path = dir .. "/colours.json"
    write(path, '{"type": "object", "properties": {"colours": {"type": "array", "items": {"type": "string"}}},'
                .. ' "required": ["colours"], "additionalProperties": false}')
    local out, err, status = cli.run { "--schema", path, "Three colours" }
    assert.equal(0, status, err)
    assert.equal('{"colours": ["red", "green"]}\n', out)
    local rf = fake.last().json.response_format
    assert.equal("json_schema", rf.type)
    assert.equal("colours", rf.json_schema.name)
    assert.is_true(rf.json_schema.strict)
    assert.same({ "colours" }, rf.json_schema.schema.required)
  end)

  it("--schema sends the file's properties in the file's order (structured output follows it)", function()
    local path = cli.home() .. "/ordered.json"
    local names = { "zeta", "reasoning", "alpha", "answer", "mid" }
    local props = {}
    for i, n in ipairs(names) do props[i] = '"' .. n .. '": {"type": "string"}' end
    write(path, '{"type": "object", "properties": {' .. table.concat(props, ", ") .. '},'
                .. ' "required": ["zeta", "reasoning", "alpha", "answer", "mid"], "additionalProperties": false}')
    local _, err, status = cli.run { "--schema", path, "x" }
    assert.equal(0, status, err)
    local body = fake.last().body
    local at, last = {}, 0
    for _, n in ipairs(names) do
      at[n] = assert(body:find('"' .. n .. '":{', 1, true), n)
      assert(at[n] > last, body)
      last = at[n]
    end
  end)

  it("--schema takes OpenAI's {name, schema, strict} as well, and exits 1 for a missing file", function()
    local dir = cli.home()
    local path = dir .. "/s.json"
    write(path, '{"name": "palette", "strict": false, "schema": {"type": "object"}}')
    local _, err, status = cli.run { "--schema", path, "x" }
    assert.equal(0, status, err)
    local js = fake.last().json.response_format.json_schema
    assert.equal("palette", js.name)
    assert.is_false(js.strict)
    local out
    out, err, status = cli.run { "--schema", dir .. "/none.json", "x" }
    assert.equal(1, status)
    assert.equal("", out)
    assert.equal("chatgpt: --schema " .. dir .. "/none.json: cannot read it: No such file or directory\n", err)
  end)
end)

describe("chatgpt -c", function()
  it("continues the last conversation, kept in a file only its owner can read", function()
    local home = cli.home()
    local _, err, status = cli.run({ "-s", "Be brief.", "first" }, { home = home })
    assert.equal(0, status, err)
    _, err, status = cli.run({ "-c", "second" }, { home = home })
    assert.equal(0, status, err)
    _, err, status = cli.run({ "--continue", "third" }, { home = home })
    assert.equal(0, status, err)
    local msgs = fake.last().json.messages
    local roles, texts = {}, {}
    for i, m in ipairs(msgs) do roles[i], texts[i] = m.role, m.content end
    assert.same({ "system", "user", "assistant", "user", "assistant", "user" }, roles)
    assert.same({ "Be brief.", "first", HELLO, "second", HELLO, "third" }, texts)
    local file = home .. "/state/lua-chatgpt/last.json"
    assert.equal("600", mode(file))
    assert.equal("700", mode(home .. "/state/lua-chatgpt"))
    -- a new prompt without -c starts afresh
    cli.run({ "fresh" }, { home = home })
    assert.equal(1, #fake.last().json.messages)
  end)

  it("uses ~/.local/state without XDG_STATE_HOME", function()
    local home = cli.home()
    local _, err, status = cli.run({ "first" }, { home = home, env = { XDG_STATE_HOME = false } })
    assert.equal(0, status, err)
    assert.equal("600", mode(home .. "/.local/state/lua-chatgpt/last.json"))
  end)

  it("exits 1 with one line when there is no conversation to continue", function()
    local out, err, status = cli.run { "-c", "more" }
    assert.equal(1, status)
    assert.equal("", out)
    assert.equal(1, #lines(err), err)
    assert.truthy(err:find("no conversation to continue", 1, true), err)
  end)
end)

describe("chatgpt --models", function()
  it("lists the model ids, one a line, sorted", function()
    local out, err, status = cli.run { "--models" }
    assert.equal(0, status, err)
    assert.equal("gpt-3.5-turbo\ngpt-3.5-turbo-instruct\ngpt-4o\ngpt-4o-mini\ntext-embedding-3-small\n", out)
    assert.equal("GET", fake.last().method)
  end)
end)

describe("chatgpt errors", function()
  it("exits 3 with one line on stderr for a 401, without the key", function()
    fake.config { require_key = "sk-another-key-0000" }
    local out, err, status = cli.run { "hi" }
    assert.equal(3, status)
    assert.equal("", out)
    assert.equal(1, #lines(err), err)
    assert.truthy(err:find("^chatgpt: 401 invalid_api_key"), err)
    assert.falsy(err:find(T.MARKER, 1, true), err)
    assert.falsy(err:find("traceback", 1, true), err)
  end)

  it("exits 4 with what arrived on stdout when the stream is cut mid-way", function()
    local filler = string.rep("x", 4000)
    fake.script { sse = {
      { choices = { { index = 0, delta = { content = "part one " } } } },
      { choices = { { index = 0, delta = { content = filler } } } }, "[DONE]" },
      drop_after = 1500, headers = { { "Content-Type", "text/event-stream" } } }
    local out, err, status = cli.run { "hi" }
    assert.equal(4, status, err)
    assert.equal("part one \n", out)
    assert.equal(1, #lines(err), err)
    assert.truthy(err:find("^chatgpt: network"), err)
  end)

  it("exits 4 for a server that is not there", function()
    local socket = require "socket"
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    local out, err, status = cli.run({ "--base-url", "http://127.0.0.1:" .. port .. "/v1", "hi" },
                                     { env = { OPENAI_BASE_URL = false } })
    assert.equal(4, status)
    assert.equal("", out)
    assert.equal("chatgpt: cannot connect to http://127.0.0.1:" .. port .. "/v1 (connection refused; 3 attempts)\n",
                 err)
  end)

  it("exits 130 on Ctrl-C while the server stalls, and leaves nothing running", function()
    fake.script { stall = 30 }
    local pid, done, files = cli.start { "hi" }
    for _ = 1, 250 do                     -- the request went out: Ctrl-C is trapped by then
      if #fake.requests() > 0 then break end
      sleep(0.02)
    end
    assert.equal(1, #fake.requests())
    local t0 = core.now()
    assert(T.ok("kill -INT " .. pid))
    for _ = 1, 250 do
      if done() then break end
      sleep(0.02)
    end
    assert.equal(130, done())
    assert.is_true(core.now() - t0 < 3)
    assert.is_false(T.ok("kill -0 " .. pid))
    assert.equal("chatgpt: interrupted\n", cli.read(files.err))
    assert.equal("", cli.read(files.out))
  end)
end)

describe("chatgpt's key and settings", function()
  it("reads the key from $OPENAI_API_KEY_FILE, refusing one others can read", function()
    local home = cli.home()
    local keyfile = home .. "/key"
    write(keyfile, "sk-from-file-0123456789\n")
    os.execute("chmod 600 " .. cli.quote(keyfile))
    local _, err, status = cli.run({ "hi" }, { home = home,
      env = { OPENAI_API_KEY = false, OPENAI_API_KEY_FILE = keyfile } })
    assert.equal(0, status, err)
    assert.equal("Bearer sk-from-file-0123456789", fake.last().header["authorization"])
    os.execute("chmod 644 " .. cli.quote(keyfile))
    local out
    out, err, status = cli.run({ "hi" }, { home = home,
      env = { OPENAI_API_KEY = false, OPENAI_API_KEY_FILE = keyfile } })
    assert.equal(2, status)
    assert.equal("", out)
    assert.equal(1, #lines(err), err)
    assert.falsy(err:find("sk-from-file", 1, true), err)
  end)

  it("runs $CHATGPT_API_KEY_CMD for the key, without a shell", function()
    local _, err, status = cli.run({ "hi" }, {
      env = { OPENAI_API_KEY = false, CHATGPT_API_KEY_CMD = "echo sk-from-cmd-0123456789" } })
    assert.equal(0, status, err)
    assert.equal("Bearer sk-from-cmd-0123456789", fake.last().header["authorization"])
  end)

  it("takes base_url, model, system and api_key_cmd from config.lua", function()
    local home = cli.home()
    write(home .. "/config/lua-chatgpt/config.lua", ([[
      base_url = %q
      model = "gpt-4o"
      system = "From the config."
      api_key_cmd = { "echo", "sk-config-cmd-0123456789" }
    ]]):format(fake.base_url()))
    local _, err, status = cli.run({ "hi" }, { home = home,
      env = { OPENAI_API_KEY = false, OPENAI_BASE_URL = false } })
    assert.equal(0, status, err)
    local req = fake.last()
    assert.equal("gpt-4o", req.json.model)
    assert.equal("From the config.", req.json.messages[1].content)
    assert.equal("Bearer sk-config-cmd-0123456789", req.header["authorization"])
    -- the flags over the file
    _, err, status = cli.run({ "-m", "gpt-3.5-turbo", "-s", "Flag.", "hi" }, { home = home,
      env = { OPENAI_API_KEY = false, OPENAI_BASE_URL = false } })
    assert.equal(0, status, err)
    assert.equal("gpt-3.5-turbo", fake.last().json.model)
    assert.equal("Flag.", fake.last().json.messages[1].content)
  end)

  it("takes config.json, and refuses an api_key in it or an unknown option", function()
    local home = cli.home()
    local path = home .. "/config/lua-chatgpt/config.json"
    write(path, '{"model": "gpt-4o", "timeout": 30}')
    local _, err, status = cli.run({ "hi" }, { home = home })
    assert.equal(0, status, err)
    assert.equal("gpt-4o", fake.last().json.model)
    for _, bad in ipairs { '{"api_key": "sk-in-config-0123456789"}', '{"colour": "blue"}', '{"timeout": -1}' } do
      write(path, bad)
      local out
      out, err, status = cli.run({ "hi" }, { home = home })
      assert.equal(2, status, bad)
      assert.equal("", out)
      assert.equal(1, #lines(err), err)
      assert.truthy(err:find("config.json", 1, true), err)
      assert.falsy(err:find("sk-in-config", 1, true), err)
    end
  end)

  -- in a network namespace of its own: were the key check wrong, nothing
  -- could leave for api.openai.com
  local netless = T.ok("env -u LD_PRELOAD unshare -n true") and it or pending
  netless("exits 2 with one line when there is no key for the OpenAI API", function()
    local out, err, status = cli.run({ "hi" }, { wrap = "env -u LD_PRELOAD unshare -n",
      env = { OPENAI_API_KEY = false, OPENAI_BASE_URL = false } })
    assert.equal(2, status, err)
    assert.equal("", out)
    assert.equal(1, #lines(err), err)
    assert.truthy(err:find("^chatgpt: no API key for the OpenAI API: set OPENAI_API_KEY"), err)
  end)

  it("sends $OPENAI_API_KEY to $OPENAI_BASE_URL only: --base-url elsewhere gets no key", function()
    local url = "http://localhost:" .. fake.port() .. "/v1"   -- another origin, the same server
    local _, err, status = cli.run({ "--base-url", url, "hi" })
    assert.equal(0, status, err)
    assert.is_nil(fake.last().header["authorization"])
  end)

  it("logs each request on stderr with CHATGPT_LOG=info", function()
    local out, err, status = cli.run({ "hi" }, { env = { CHATGPT_LOG = "info" } })
    assert.equal(0, status, err)
    assert.equal(HELLO .. "\n", out)
    assert.equal(1, #lines(err), err)
    assert.truthy(err:find("^chatgpt: request POST /chat/completions status=200 "), err)
  end)
end)

describe("chatgpt -i", function()
  it("says each line, streams the answers and runs /commands until the input ends", function()
    local home = cli.home()
    local out, err, status = cli.run({ "-i", "-s", "Be brief." },
      { home = home, stdin = "hello\n/usage\n/model gpt-4o\nagain\n/undo\n/nope\n" })
    assert.equal(0, status, err)
    assert.truthy(out:find(HELLO .. "\n", 1, true), out)
    assert.truthy(out:find("tokens)", 1, true), out)
    assert.truthy(out:find("(model: gpt-4o)", 1, true), out)
    assert.truthy(out:find("(last exchange dropped)", 1, true), out)
    assert.truthy(err:find("unknown command /nope", 1, true), err)
    local js = fake.last().json
    assert.equal("gpt-4o", js.model)
    assert.equal(4, #js.messages)           -- system, hello, answer, again
    -- the conversation is kept for -c
    local _
    _, err, status = cli.run({ "-c", "more" }, { home = home })
    assert.equal(0, status, err)
    assert.equal(4, #fake.last().json.messages)   -- again was undone
  end)
end)

describe("chatgpt --responses", function()
  it("streams the answer of /responses, and -c continues it", function()
    local home = cli.home()
    local out, err, status = cli.run({ "--responses", "-s", "Be terse.", "hi" }, { home = home })
    assert.equal(0, status, err)
    assert.equal(HELLO .. "\n", out)
    local req = fake.last()
    assert.truthy(req.path:find("/responses$"), req.path)
    assert.is_true(req.json.stream)
    assert.equal("Be terse.", req.json.instructions)
    local _
    _, err, status = cli.run({ "--responses", "-c", "again" }, { home = home })
    assert.equal(0, status, err)
    assert.truthy(fake.last().path:find("/responses$"))
  end)
end)

describe("chatgpt: reasoning text, cut answers, rate limits", function()
  local function ds(d, finish)
    return { choices = { { index = 0, delta = d, finish_reason = finish or fake.null } } }
  end
  local THINKING = { ds { role = "assistant", reasoning_content = "Let me " },
                     ds { reasoning_content = "think." }, ds { content = "Four." }, ds({}, "stop"), "[DONE]" }

  it("shows a chat's reasoning text on stderr as it streams, the answer on stdout", function()
    fake.script { sse = THINKING }
    local out, err, status = cli.run { "2+2?" }
    assert.equal(0, status, err)
    assert.equal("Four.\n", out)
    assert.equal("Let me think.\n", err)
  end)

  it("dims it on a terminal, and ends it before the answer", function()
    fake.script { sse = THINKING }
    local r = cli.pty({ "2+2?" }, {})
    assert.is_nil(r.failed, r.output)
    assert.equal(0, r.status)
    assert.truthy(r.output:find("\27[2mLet me think.\27[0m\r\nFour.\r\n", 1, true), r.output)
  end)

  it("shows the control characters of the reasoning text on a terminal instead of obeying them", function()
    fake.script { sse = { ds { role = "assistant", reasoning_content = "a\27]0;owned\7b \27[8mhidden" },
                          ds { content = "Four." }, ds({}, "stop"), "[DONE]" } }
    local r = cli.pty({ "2+2?" }, {})
    assert.equal(0, r.status)
    assert.truthy(r.output:find("\27[2ma^[]0;owned^Gb ^[[8mhidden\27[0m\r\nFour.", 1, true), r.output)
    -- the dimming is the only escape sequence
    assert.falsy(r.output:gsub("\27%[[02]m", ""):find("\27", 1, true), r.output)
  end)

  it("shows a Responses reasoning summary on stderr, its parts a blank line apart", function()
    local name = "responses_stream_reasoning_summary_o3-mini_2025-09.sse"
    fake.script { sse_file = name }
    local evs = require("spec.support.wire").events(require("spec.support.wire").read(name))
    local final = core.decode(evs[#evs]).response
    local out, err, status = cli.run { "--responses", "hi" }
    assert.equal(0, status, err)
    assert.equal(final.output[2].content[1].text .. "\n", out)
    local parts = {}
    for i, p in ipairs(final.output[1].summary) do parts[i] = p.text end
    assert.equal(4, #parts)
    assert.equal(table.concat(parts, "\n\n") .. "\n", err)
  end)

  it("--no-reasoning hides it", function()
    fake.script { sse = THINKING }
    local out, err, status = cli.run { "--no-reasoning", "2+2?" }
    assert.equal(0, status, err)
    assert.equal("Four.\n", out)
    assert.equal("", err)
  end)

  it("keeps an answer cut at the token limit for -c", function()
    local home = cli.home()
    local out, err, status = cli.run({ "--max-tokens", "3", "hi" }, { home = home })
    assert.equal(5, status, err)
    assert.is_truthy(HELLO:find(out:gsub("\n$", ""), 1, true), out)
    local _, err2, status2 = cli.run({ "-c", "go on" }, { home = home })
    assert.equal(0, status2, err2)
    local msgs = fake.last().json.messages
    assert.equal(3, #msgs)
    assert.equal(out:gsub("\n$", ""), msgs[2].content)
  end)

  it("exits 5 when the content filter cut it, and for an incomplete Responses answer", function()
    fake.script { sse = { ds { role = "assistant", content = "Part" }, ds({}, "content_filter"), "[DONE]" } }
    local out, err, status = cli.run { "hi" }
    assert.equal(5, status, err)
    assert.equal("Part\n", out)
    assert.equal("chatgpt: the answer was cut short: finish_reason content_filter (the content filter)\n", err)
    out, err, status = cli.run { "--responses", "--max-tokens", "3", "hi" }
    assert.equal(5, status, err)
    assert.truthy(#out > 1, out)
    assert.equal("chatgpt: the answer was cut short: incomplete (max_output_tokens)\n", err)
  end)

  it("exits 5 for a Responses answer cut before any text (the tokens went to reasoning)", function()
    fake.script { json = { id = "resp_c", object = "response", status = "incomplete",
                           incomplete_details = { reason = "max_output_tokens" },
                           output = { { id = "rs_1", type = "reasoning", summary = {} } } } }
    local out, err, status = cli.run { "--responses", "hi" }
    assert.equal(5, status, err)
    assert.equal("", out)
    assert.equal("chatgpt: the answer was cut short: incomplete (max_output_tokens)\n", err)
  end)

  it("says so in -i as well, keeps the cut answer in the chat and goes on", function()
    fake.script { { sse = { ds { role = "assistant", content = "Part" }, ds({}, "length"), "[DONE]" } } }
    local out, err, status = cli.run({ "-i" }, { stdin = "hi\nagain\n" })
    assert.equal(0, status, err)
    assert.equal("Part\n" .. HELLO .. "\n", out)
    assert.equal("chatgpt: the answer was cut short: finish_reason length (the token limit)\n", err)
    local msgs = fake.last().json.messages
    assert.equal(3, #msgs)
    assert.equal("Part", msgs[2].content)
  end)

  it("--json cut at the token limit prints what came and exits 5, saying why", function()
    fake.script { sse = { ds { role = "assistant", content = '{"primes": [2, 3' }, ds({}, "length"), "[DONE]" } }
    local out, err, status = cli.run { "--json", "Three primes" }
    assert.equal(5, status, err)
    assert.equal('{"primes": [2, 3\n', out)
    assert.equal("chatgpt: the answer was cut short: finish_reason length (the token limit)\n", err)
  end)

  it("names the server's retry-after in a rate limit's error line", function()
    fake.script { status = 429, headers = { { "retry-after", "120" }, { "Content-Type", "application/json" } },
                  json = { error = { message = "Rate limit reached for gpt-4o-mini.", type = "requests",
                                     code = "rate_limit_exceeded" } } }
    local out, err, status = cli.run { "hi" }
    assert.equal(3, status, err)
    assert.equal("", out)
    assert.equal(1, #lines(err), err)
    assert.truthy(err:find("; retry after 120 s\n$"), err)
  end)
end)

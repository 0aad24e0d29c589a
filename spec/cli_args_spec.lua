-- The `chatgpt` command's flags as getopt reads them, its "did you mean",
-- and every exit status of README's table, each from a run that gives it.
local fake = require "spec.support.fake"
local T = require "spec.support.client"
local cli = require "spec.support.cli"
local lines, sleep, write = cli.lines, cli.sleep, cli.write
local core = require "chatgpt.core"

before_each(function() fake.reset() end)

describe("chatgpt's flags", function()
  it("takes -mVALUE, --model=VALUE, --model VALUE and -m VALUE alike", function()
    for _, args in ipairs { { "-mgpt-4o", "hi" }, { "--model=gpt-4o", "hi" }, { "--model", "gpt-4o", "hi" },
                            { "-m", "gpt-4o", "hi" }, { "-t0.5", "-mgpt-4o", "hi" } } do
      local _, err, status = cli.run(args)
      assert.equal(0, status, table.concat(args, " ") .. ": " .. err)
      assert.equal("gpt-4o", fake.last().json.model)
      assert.equal("hi", fake.last().json.messages[#fake.last().json.messages].content)
    end
    assert.equal(0.5, fake.last().json.temperature)
  end)

  it("takes short flags together (-ci) and the words after -- as the prompt", function()
    local home = cli.home()
    local _, err, status = cli.run({ "first" }, { home = home })
    assert.equal(0, status, err)
    _, err, status = cli.run({ "-cs", "Short.", "--", "-not-a-flag" }, { home = home })
    assert.equal(0, status, err)
    local msgs = fake.last().json.messages
    assert.equal("Short.", msgs[1].content)
    assert.equal("first", msgs[2].content)
    assert.equal("-not-a-flag", msgs[#msgs].content)
  end)

  it("suggests the flag meant for a mistyped one", function()
    for typed, meant in pairs { ["--modle"] = "--model", ["--sytem"] = "--system", ["--shcema"] = "--schema",
                                ["--json-"] = "--json", ["--base_url"] = "--base-url", ["-model"] = nil } do
      local out, err, status = cli.run { typed, "x", "hi" }
      if meant then
        assert.equal(2, status, typed)
        assert.equal("", out)
        assert.equal("chatgpt: unknown option " .. typed .. " (did you mean " .. meant
                     .. "?) (chatgpt --help lists the options)\n", err)
      end
    end
    local _, err, status = cli.run { "--frobnicate", "hi" }
    assert.equal(2, status)
    assert.equal("chatgpt: unknown option --frobnicate (chatgpt --help lists the options)\n", err)
    _, err, status = cli.run { "-x", "hi" }
    assert.equal(2, status)
    assert.truthy(err:find("unknown option -x", 1, true), err)
    assert.is_nil(fake.last())
  end)

  it("names the flag in every refusal of a value, never a Lua function", function()
    for args, want in pairs {
      [{ "-t", "warm", "x" }] = "chatgpt: -t: a number expected, got warm",
      [{ "--max-tokens=0", "x" }] = "chatgpt: --max-tokens: a whole number > 0 expected, got 0",
      [{ "-p", "novalue", "x" }] = "chatgpt: -p: NAME=VALUE expected, got novalue",
      [{ "--json=yes", "x" }] = "chatgpt: --json takes no value",
      [{ "-m" }] = "chatgpt: -m needs a value",
      [{ "--base-url", "ftp://x/v1", "x" }] = "chatgpt: --base-url ftp://x/v1: not an http:// or https:// URL",
      [{ "--base-url", "http://203.0.113.5/v1", "--key-file", "/nonexistent", "x" }] = "chatgpt: --key-file:",
    } do
      local out, err, status = cli.run(args)
      assert.equal(2, status, table.concat(args, " ") .. ": " .. err)
      assert.equal("", out)
      assert.equal(1, #lines(err), err)
      assert.equal(want, err:sub(1, #want), err)
      assert.falsy(err:find("bad argument", 1, true), err)
      assert.falsy(err:find("'new'", 1, true), err)
    end
    assert.is_nil(fake.last())
  end)
end)

describe("chatgpt's exit statuses (doc/command.md's table)", function()
  it("0: done", function()
    local out, err, status = cli.run { "hi" }
    assert.equal(0, status, err)
    assert.equal(T.HELLO .. "\n", out)
  end)

  it("1: a file that cannot be read or written", function()
    local home = cli.home()
    -- the state folder is a file: the conversation cannot be kept
    write(home .. "/state/lua-chatgpt", "")
    local cases = {
      { { "--schema", "/nonexistent/s.json", "hi" }, "cannot read it" },
      { { "-c", "more" }, "no conversation to continue" },
      { { "-a", "/nonexistent/photo.png", "hi" }, "-a /nonexistent/photo.png: No such file" },
    }
    for _, c in ipairs(cases) do
      local out, err, status = cli.run(c[1], { home = home })
      assert.equal(1, status, table.concat(c[1], " ") .. ": " .. err)
      assert.equal("", out)
      assert.equal(1, #lines(err), err)
      assert.truthy(err:find(c[2], 1, true), err)
    end
    -- the answer came, but keeping it failed: said, and the status says so
    local out, err, status = cli.run({ "hi" }, { home = home })
    assert.equal(T.HELLO .. "\n", out)
    assert.truthy(err:find("cannot make the folder", 1, true), err)
    assert.equal(1, status)
  end)

  it("2: usage (a bad option, no prompt, no key, a bad config file)", function()
    local home = cli.home()
    write(home .. "/config/lua-chatgpt/config.lua", "modle = 'x'\n")
    for _, c in ipairs { { {}, {} }, { { "--nope", "x" }, {} }, { { "x" }, { home = home } } } do
      local _, err, status = cli.run(c[1], c[2])
      assert.equal(2, status, err)
    end
  end)

  it("3: the server answered with an error, or with an answer that cannot be used", function()
    fake.script { status = 400, json = { error = { message = "bad", type = "invalid_request_error" } } }
    local _, err, status = cli.run { "hi" }
    assert.equal(3, status, err)
    assert.truthy(err:find("^chatgpt: 400 invalid_request_error: bad %(request req_%w+%)\n$"), err)
  end)

  it("4: network or timeout", function()
    -- the client's idle timeout is 60 s: a smaller one from the config file
    local home = cli.home()
    write(home .. "/config/lua-chatgpt/config.json", '{"idle_timeout": 0.3, "max_retries": 0}')
    -- a stream that stalls midway (the idle timeout counts once the body began)
    local chunk = { choices = { { index = 0, delta = { content = "x" } } } }
    fake.script { status = 200, sse = { chunk, chunk }, chunk_delay = 5 }
    local _, err, status = cli.run({ "hi" }, { home = home })
    assert.equal(4, status, err)
    assert.truthy(err:find("^chatgpt: timeout IDLE_TIMEOUT"), err)
  end)

  it("5: the answer was cut short, what came on stdout and one line saying why", function()
    local out, err, status = cli.run { "--max-tokens", "3", "hi" }
    assert.equal(5, status, err)
    assert.truthy(#out > 1, out)
    assert.equal("chatgpt: the answer was cut short: finish_reason length (the token limit)\n", err)
  end)

  it("130: interrupted, with one line, while the key command runs too", function()
    local r = cli.pty({ "hi" }, { { sleep = 0.5 }, { send = "\3" } },
      { env = { OPENAI_API_KEY = false, CHATGPT_API_KEY_CMD = "sleep 20" }, timeout = 10 })
    assert.is_nil(r.failed, r.output)
    assert.equal(130, r.status)
    assert.equal("chatgpt: interrupted", (r.output:gsub("^%^C", ""):gsub("[\r\n]+$", "")))
    assert.is_nil(fake.last())
  end)

  it("130: a signal while the server stalls ends the run at once", function()
    fake.script { stall = 30 }
    local pid, done, files = cli.start { "hi" }
    for _ = 1, 250 do
      if #fake.requests() > 0 then break end
      sleep(0.02)
    end
    local t0 = core.now()
    assert(T.ok("kill -INT " .. pid))
    for _ = 1, 250 do
      if done() then break end
      sleep(0.02)
    end
    assert.equal(130, done())
    assert.is_true(core.now() - t0 < 3)
    assert.equal("chatgpt: interrupted\n", cli.read(files.err))
  end)
end)

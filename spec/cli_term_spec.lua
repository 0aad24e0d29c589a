-- What the `chatgpt` command writes to a terminal (a real pty): control
-- characters from the server shown, not obeyed; bytes unchanged to a pipe
-- or a file and with --raw; log lines on lines of their own.
local fake = require "spec.support.fake"
local T = require "spec.support.client"
local cli = require "spec.support.cli"

local HOSTILE = "a\27]0;owned\7b \27]52;c;ZXZpbA==\27\\ \194\155[2J \27[8mhidden\r done\n"

local function obeyable(s)
  -- an ESC or a C1 control as the terminal would read it
  return s:find("\27", 1, true) or s:find("\194[\128-\159]") or s:find("\155", 1, true)
end

before_each(function() fake.reset() end)

describe("chatgpt on a terminal", function()
  it("shows the control characters of an answer instead of obeying them", function()
    fake.config { chat_text = HOSTILE }
    local r = cli.pty({ "hi" }, {})
    assert.is_nil(r.failed, r.output)
    assert.equal(0, r.status)
    assert.falsy(obeyable(r.output), r.output)
    assert.truthy(r.output:find("a^[]0;owned^Gb ^[]52;c;ZXZpbA==^[\\ \\xc2\\x9b[2J ^[[8mhidden^M done", 1, true),
                  r.output)
  end)

  it("passes the answer's bytes unchanged to a pipe or a file, and to a terminal with --raw", function()
    fake.config { chat_text = HOSTILE }
    local out, err, status = cli.run { "hi" }
    assert.equal(0, status, err)
    assert.equal(HOSTILE, out)
    local r = cli.pty({ "--raw", "hi" }, {})
    assert.equal(0, r.status)
    assert.truthy(r.output:find("a\27]0;owned\7b", 1, true), r.output)
  end)

  it("keeps the streamed pieces of a character whole, and shows what is not UTF-8", function()
    fake.script { sse = {
      { choices = { { index = 0, delta = { content = "caf\195" } } } },
      { choices = { { index = 0, delta = { content = "\169 \226\130" } } } },
      { choices = { { index = 0, delta = { content = "\172 ok" } } } }, "[DONE]" } }
    local r = cli.pty({ "hi" }, {})
    assert.equal(0, r.status)
    assert.truthy(r.output:find("café € ok", 1, true), r.output)
  end)

  it("shows the control characters of a server's error message and of a model id", function()
    fake.script { status = 400, json = { error = { message = "bad \27]0;owned\7 thing", type = "x" } } }
    local r = cli.pty({ "hi" }, {})
    assert.equal(3, r.status)
    assert.falsy(obeyable(r.output), r.output)
    assert.truthy(r.output:find("bad ^[]0;owned^G thing", 1, true), r.output)
    fake.script { json = { object = "list", data = { { id = "evil\27[2Jmodel", object = "model" } } } }
    r = cli.pty({ "--models" }, {})
    assert.equal(0, r.status)
    assert.falsy(obeyable(r.output), r.output)
    assert.truthy(r.output:find("evil^[[2Jmodel", 1, true), r.output)
  end)

  it("starts each log line on a line of its own, never glued to the answer", function()
    fake.config { chat_text = "no newline at the end" }
    local r = cli.pty({ "hi" }, {}, { env = { CHATGPT_LOG = "info" } })
    assert.equal(0, r.status)
    assert.truthy(r.output:find("no newline at the end\r\nchatgpt: request POST /chat/completions status=200",
                                1, true), r.output)
    -- to files: stdout and stderr each whole
    local out, err, status = cli.run({ "hi" }, { env = { CHATGPT_LOG = "info" } })
    assert.equal(0, status, err)
    assert.equal("no newline at the end\n", out)
    assert.truthy(err:find("^chatgpt: request POST /chat/completions status=200"), err)
  end)

  it("writes a log line that comes in the middle of an answer on a line of its own", function()
    -- the first attempt fails (a retry line), the second streams
    fake.script { { status = 500, json = { error = { message = "try again" } } } }
    local r = cli.pty({ "hi" }, {}, { env = { CHATGPT_LOG = "info" } })
    assert.equal(0, r.status, r.output)
    local retry = r.output:find("chatgpt: retry POST", 1, true)
    assert.truthy(retry, r.output)
    assert.truthy(retry == 1 or r.output:sub(retry - 2, retry - 1) == "\r\n", r.output)
    assert.truthy(r.output:find(T.HELLO .. "\r\nchatgpt: request POST", 1, true), r.output)
  end)
end)

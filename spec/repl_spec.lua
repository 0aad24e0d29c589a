-- `chatgpt -i` in a real terminal (a pty, spec/support/pty_run.py), typed
-- at as a person would: the line editor, its history, pastes, Ctrl-C and
-- Ctrl-D, the banner and /usage.
local fake = require "spec.support.fake"
local cli = require "spec.support.cli"
local mode, write = cli.mode, cli.write

local HELLO = "Hello! I am the local fake OpenAI server."
local UP, LEFT, HOME = "\27[A", "\27[D", "\1"
local CTRL_C, CTRL_D, CTRL_R, ALT_ENTER = "\3", "\4", "\18", "\27\r"
-- the editor reads a new line: bracketed paste on, then the prompt
local READ = "\27[?2004h"

-- the user message of each request, in order
local function said()
  local t = {}
  for _, r in ipairs(fake.requests()) do
    local msgs = r.json.messages or r.json.input
    local last = msgs[#msgs]
    t[#t + 1] = last.content
  end
  return t
end

-- steps to type a message and wait for its answer and the next prompt
local function say(text)
  return { send = text .. "\r" }, { expect = HELLO }, { expect = READ }, { expect = "> " }
end

local function steps(...)
  local t = {}
  for _, part in ipairs { ... } do
    if part.send or part.expect or part.sleep then t[#t + 1] = part
    else for _, s in ipairs(part) do t[#t + 1] = s end end
  end
  return t
end

before_each(function() fake.reset() end)

describe("chatgpt -i in a terminal", function()
  it("opens with a banner naming the model and the server, and ends with status 0 on Ctrl-D", function()
    local r = cli.pty({ "-i", "-m", "gpt-4o" }, { { expect = "> " }, { send = CTRL_D } })
    assert.is_nil(r.failed, r.output)
    assert.equal(0, r.status)
    assert.truthy(r.output:find("gpt-4o at " .. fake.base_url() .. " (Chat Completions)", 1, true), r.output)
    assert.equal(0, #fake.requests())
  end)

  it("keeps the history across runs in a file only its owner can read; Up recalls, the arrows edit", function()
    local home = cli.home()
    local r = cli.pty({ "-i" }, steps({ expect = "> " }, { say("first message") }, { send = CTRL_D }),
                      { home = home })
    assert.is_nil(r.failed, r.output)
    assert.equal(0, r.status)
    local file = home .. "/state/lua-chatgpt/history"
    assert.equal("600", mode(file))
    assert.equal("first message\n", cli.read(file))
    -- the next run: Up, then Home and Left/Right editing
    r = cli.pty({ "-i" }, steps({ expect = "> " }, { send = UP }, { expect = "first message" },
                                { send = HOME .. "re: " }, { send = "\27[F" .. LEFT .. LEFT .. "X" },
                                { say("") }, { send = CTRL_D }), { home = home })
    assert.is_nil(r.failed, r.output)
    assert.equal(0, r.status)
    assert.same({ "first message", "re: first messaXge" }, said())
    assert.equal("first message\nre: first messaXge\n", cli.read(file))
  end)

  it("finds an older message with Ctrl-R", function()
    local home = cli.home()
    assert(os.execute("mkdir -p " .. cli.quote(home .. "/state/lua-chatgpt")))
    write(home .. "/state/lua-chatgpt/history", "alpha one\nbeta two\ngamma three\n")
    local r = cli.pty({ "-i" }, steps({ expect = "> " }, { send = CTRL_R }, { send = "bet" },
                                      { expect = "beta two" }, { send = "\r" }, { expect = HELLO },
                                      { expect = "> " }, { send = CTRL_D }), { home = home })
    assert.is_nil(r.failed, r.output)
    assert.same({ "beta two" }, said())
  end)

  it("sends a bracketed paste of several lines as one message, a long one shown as a placeholder", function()
    local long = {}
    for i = 1, 30 do long[i] = "line " .. i end
    local r = cli.pty({ "-i" }, steps({ expect = "> " },
      { send = "\27[200~one\ntwo\r\nthree\27[201~" }, { expect = "three" }, { say("") },
      { send = "Look: \27[200~" .. table.concat(long, "\n") .. "\27[201~" }, { expect = "[pasted 30 lines" },
      { say(" thanks") }, { send = CTRL_D }))
    assert.is_nil(r.failed, r.output)
    assert.equal(0, r.status)
    assert.same({ "one\ntwo\nthree", "Look: " .. table.concat(long, "\n") .. " thanks" }, said())
    assert.falsy(r.output:find("line 17", 1, true), "a long paste is not drawn")
  end)

  it("takes a message of several lines between \"\"\" lines, and a new line with Alt-Enter", function()
    local r = cli.pty({ "-i" }, steps({ expect = "> " }, { send = '"""\r' }, { expect = READ },
      { send = "def f():\r" }, { expect = READ }, { send = "  return 1\n" }, { expect = READ },
      { send = '"""\r' }, { expect = HELLO }, { expect = READ },
      { send = "a" .. ALT_ENTER .. "b" }, { say("") }, { send = CTRL_D }))
    assert.is_nil(r.failed, r.output)
    assert.same({ "def f():\n  return 1", "a\nb" }, said())
  end)

  it("stops an answer on Ctrl-C and goes on with the conversation as it was", function()
    fake.script { sse = {
      { choices = { { index = 0, delta = { content = "first piece " } } } },
      { choices = { { index = 0, delta = { content = "never shown" } } } }, "[DONE]" },
      chunk_delay = 5 }
    local r = cli.pty({ "-i" }, steps({ expect = "> " }, { send = "slow one\r" }, { expect = "first piece" },
      { send = CTRL_C }, { expect = "(stopped)" }, { expect = "> " }, { say("next one") }, { send = CTRL_D }))
    assert.is_nil(r.failed, r.output)
    assert.equal(0, r.status)
    assert.falsy(r.output:find("never shown", 1, true))
    local msgs = fake.last().json.messages
    assert.equal(1, #msgs)                        -- the stopped exchange was not kept
    assert.equal("next one", msgs[1].content)
  end)

  it("drops the typed line on Ctrl-C at the prompt, and deletes with Ctrl-D on a non-empty line", function()
    local r = cli.pty({ "-i" }, steps({ expect = "> " }, { send = "never sent" }, { expect = "sent" },
      { send = CTRL_C }, { expect = "^C" }, { expect = "> " },
      { send = "abc" .. LEFT .. LEFT .. CTRL_D }, { say("") }, { send = CTRL_D }))
    assert.is_nil(r.failed, r.output)
    assert.equal(0, r.status)
    assert.same({ "ac" }, said())
  end)

  it("tells /usage in each API's words", function()
    local r = cli.pty({ "-i" }, steps({ expect = "> " }, { say("hi") }, { send = "/usage\r" },
                                      { expect = "tokens)" }, { expect = READ }, { send = CTRL_D }))
    assert.is_nil(r.failed, r.output)
    assert.truthy(r.output:find("%(%d+ prompt %+ %d+ completion = %d+ tokens%)"), r.output)
    r = cli.pty({ "-i", "--responses" }, steps({ expect = "(Responses)" }, { expect = "> " }, { say("hi") },
                                               { send = "/usage\r" }, { expect = "tokens)" }, { expect = READ },
                                               { send = CTRL_D }))
    assert.is_nil(r.failed, r.output)
    assert.equal(0, r.status)
    local i, o, t = r.output:match("%((%d+) input %+ (%d+) output = (%d+) tokens%)")
    assert.truthy(i, r.output)
    assert.equal(tonumber(t), tonumber(i) + tonumber(o))
    assert.is_true(tonumber(t) > 0)
  end)

  it("reads plain lines on a dumb terminal, where Ctrl-C leaves with 130 and one line", function()
    local r = cli.pty({ "-i" }, { { expect = "> " }, { send = "plain\r" }, { expect = HELLO }, { expect = "> " },
                                  { send = CTRL_C } },
                      { env = { TERM = "dumb" } })
    assert.is_nil(r.failed, r.output)
    assert.equal(130, r.status)
    assert.falsy(r.output:find("\27[?2004h", 1, true), "no bracketed paste without the editor")
    assert.truthy(r.output:find("chatgpt: interrupted\r\n$"), r.output)
    assert.same({ "plain" }, said())
  end)
end)

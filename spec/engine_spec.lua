-- The per-state engine: one curl multi handle that keeps connections alive
-- across requests and clients.
local chatgpt = require "chatgpt"
local core = require "chatgpt.core"
local fake = require "spec.support.fake"
local T = require "spec.support.client"

-- valgrind (make valgrind) runs everything many times slower
local SLOW = os.getenv("CHATGPT_VALGRIND") and 10 or 1

local function conns(recs)
  local seen, n = {}, 0
  for _, r in ipairs(recs) do
    if not seen[r.conn] then seen[r.conn] = true; n = n + 1 end
  end
  return n
end

describe("the engine", function()
  before_each(function() T.drain(); fake.reset() end)

  it("reuses one connection for 20 sequential requests", function()
    local c = T.new()
    for i = 1, 20 do assert.is_string((c:chat("n" .. i))) end
    local recs = fake.requests()
    assert.equal(20, #recs)
    assert.equal(1, conns(recs))
  end)

  it("reuses connections across clients of the same state", function()
    local a, b = T.new(), T.new { model = "other" }
    for _ = 1, 5 do a:chat("x"); b:chat("y") end
    assert.equal(1, conns(fake.requests()))
  end)

  it("reuses the connection across endpoints (chat, models, complete)", function()
    local c = T.new()
    c:chat("x"); c:models(); c:complete("y"); c:embed("z")
    assert.equal(1, conns(fake.requests()))
  end)

  it("keeps the connection after an API error", function()
    local c = T.new { max_retries = 0 }
    fake.script { status = 400, json = { error = { message = "bad", type = "invalid_request_error" } } }
    c:chat("x")
    c:chat("y")
    assert.equal(1, conns(fake.requests()))
  end)

  it("opens a new connection when the server closes the old one", function()
    local c = T.new()
    fake.script { status = 200, close = true, json = { choices = { { index = 0,
      message = { role = "assistant", content = "bye" } } } } }
    assert.equal("bye", (c:chat("x")))
    assert.is_string((c:chat("y")))
    assert.equal(2, conns(fake.requests()))
  end)

  it("runs many requests at once over several connections", function()
    local c = T.new()
    local reqs = {}
    for i = 1, 8 do
      fake.script { delay = 0.2, json = { choices = { { index = 0,
        message = { role = "assistant", content = "slow" } } } } }
      reqs[i] = c:chat_async("x" .. i)
    end
    local t0 = require("chatgpt.core").now()
    for i = 1, 8 do assert.equal("slow", (reqs[i]:wait())) end
    local took = require("chatgpt.core").now() - t0
    assert.truthy(took < 1.2, "8 x 200 ms took " .. took .. " s")
    assert.truthy(conns(fake.requests()) > 1)
  end)

  it("a stream and a plain chat alternate on one client, each sending its own body", function()
    local c = T.new()
    for i = 1, 6 do
      if i % 2 == 0 then
        assert.is_string((c:chat("plain" .. i)))
      else
        assert.is_string((c:chat("stream" .. i, { on_delta = function() end })))
      end
    end
    local recs = fake.requests()
    assert.equal(6, #recs)
    for i, r in ipairs(recs) do
      local body = r.body
      assert.truthy(body:find((i % 2 == 0 and "plain" or "stream") .. i, 1, true), body)
      assert.equal(i % 2 == 1, body:find('"stream":true', 1, true) ~= nil)
      assert.equal(i % 2 == 0 and "application/json" or "text/event-stream", r.header["accept"])
    end
    assert.equal(1, conns(recs))
  end)

  it("requests outlive a client that was dropped while they ran", function()
    local reqs = {}
    do
      local c = T.new()
      for i = 1, 3 do
        fake.script { delay = 0.1, json = { choices = { { index = 0,
          message = { role = "assistant", content = "late" } } } } }
        reqs[i] = c:chat_async("x" .. i)
      end
    end
    collectgarbage(); collectgarbage()
    for i = 1, 3 do assert.equal("late", (reqs[i]:wait())) end
    reqs = nil -- luacheck: ignore 311 (drops the requests before collecting)
    collectgarbage(); collectgarbage()
    assert.is_string((T.new():chat("after")))
  end)
end)

describe("connection limits (core.configure)", function()
  local _, DEFAULTS = core.configure()

  before_each(function() T.drain(); fake.reset() end)
  after_each(function() core.configure(DEFAULTS) end)

  local function chats(clients, n, delay)
    for _ = 1, n do
      fake.script { delay = delay, json = { choices = { { index = 0,
        message = { role = "assistant", content = "q" } } } } }
    end
    local reqs, t0 = {}, core.now()
    for i = 1, n do reqs[i] = clients[(i - 1) % #clients + 1]:chat_async("x" .. i) end
    for i = 1, n do assert.equal("q", (reqs[i]:wait())) end
    return core.now() - t0
  end

  it("returns the settings and the defaults: 256 per host, no total limit", function()
    local out = T.run("", [[
      local core = require "chatgpt.core"
      local cur, def = core.configure()
      print(cur.max_host_connections, cur.max_total_connections,
            def.max_host_connections, def.max_total_connections)]])
    assert.equal("256\t0\t256\t0\n", out)
    assert.same({ max_host_connections = 256, max_total_connections = 0 }, DEFAULTS)
    local cur = core.configure { max_host_connections = 3, max_total_connections = 7 }
    assert.same({ max_host_connections = 3, max_total_connections = 7 }, cur)
    assert.same(cur, (core.configure {}))
    assert.same(cur, (core.configure()))
  end)

  it("runs 64 chats to one host at once", function()
    -- Counted in connections, not in time (a loaded machine can take seconds
    -- to open 64): a request held 1 s by the server keeps its connection,
    -- so more than 32 of them means no limit of 32 or less held them back.
    chats({ T.new() }, 64, 1)
    local n = conns(fake.requests())
    assert.truthy(n > 32, "64 chats of 1 s went over only " .. n .. " connections")
  end)

  it("max_host_connections = 1 runs the chats of every client one after another", function()
    -- a fresh process: idle connections are reused whatever the limit, and
    -- earlier specs left many
    for _ = 1, 4 do
      fake.script { delay = 0.15, json = { choices = { { index = 0,
        message = { role = "assistant", content = "q" } } } } }
    end
    local out = T.run("", ([[
      local chatgpt, core = require "chatgpt", require "chatgpt.core"
      core.configure { max_host_connections = 1 }
      local a = chatgpt.new { base_url = %q, auth = "none" }
      local b = chatgpt.new { base_url = %q, auth = "none", model = "other" }
      local reqs, t0 = {}, core.now()
      for i = 1, 4 do reqs[i] = (i %% 2 == 0 and a or b):chat_async("x" .. i) end
      for i = 1, 4 do assert(reqs[i]:wait() == "q") end
      print(core.now() - t0)]]):format(fake.base_url(), fake.base_url()))
    local took = tonumber(out)
    assert.truthy(took, out)
    assert.truthy(took >= 0.58, "4 x 150 ms took only " .. took .. " s")
    assert.equal(1, conns(fake.requests()))
  end)

  it("raises an argument error for a bad setting, and changes nothing", function()
    core.configure { max_host_connections = 5 }
    local bad = {
      { max_host_connections = 0 }, { max_host_connections = -1 }, { max_host_connections = 1.5 },
      { max_host_connections = 100001 }, { max_host_connections = 0 / 0 },
      { max_host_connections = math.huge }, { max_host_connections = "8" },
      { max_total_connections = -1 }, { max_total_connections = 1e300 },
      { max_connections = 4 }, { [1] = 4 }, { max_host_connections = 9, typo = 1 },
    }
    for _, t in ipairs(bad) do
      local ok, err = pcall(function() core.configure(t) end)   -- named from the call site on 5.1
      assert.is_false(ok)
      assert.truthy(tostring(err):find("bad argument #1 to '[%w.]*configure' %("), err)
    end
    assert.has_error(function() core.configure(5) end)
    assert.equal(5, core.configure().max_host_connections)
    assert.equal(100000, core.configure { max_host_connections = 100000 }.max_host_connections)
  end)
end)

describe("numbers given to the engine", function()
  before_each(function() T.drain(); fake.reset() end)

  local function spec()
    local origin = core.origin { url = fake.base_url(), auth = "none" }
    return core.endpoint { origin = origin, path = "/chat/completions", method = "POST" }
  end

  it("core.transfer raises an argument error for a timeout that is not finite and > 0", function()
    local s = spec()
    for _, t in ipairs { 0, -1, 0 / 0, math.huge, -math.huge } do
      local ok, err = pcall(function() core.transfer(s, "{}", t, 60) end)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("bad argument #3 to '[%w.]*transfer' %(timeout"), err)
    end
    for _, t in ipairs { -1, 0 / 0, math.huge } do
      local ok, err = pcall(function() core.transfer(s, "{}", 10, t) end)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("bad argument #4 to '[%w.]*transfer' %(idle_timeout"), err)
    end
    core.transfer(s, "{}", 1e300, 0):close()
    core.transfer(s, "{}", 1e-9, 1e300):close()
  end)

  it("core.poll raises an argument error for seconds that are not finite and >= 0", function()
    for _, t in ipairs { -1, 0 / 0, math.huge, -math.huge } do
      local ok, err = pcall(function() core.poll(t) end)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("bad argument #1 to '[%w.]*poll' %(seconds"), err)
    end
  end)

  it("poll(1e10) with a request in flight waits for it instead of returning at once", function()
    fake.script { delay = 0.3 }
    -- no idle timeout and a far total one: no deadline of ours shortens the wait
    local req = T.new { idle_timeout = 0, timeout = 1e9 }:chat_async("x")
    local polls, t0 = 0, core.now()
    while not req:done() and core.now() - t0 < 5 * SLOW do
      chatgpt.poll(1e10)
      polls = polls + 1
    end
    assert.is_string((req:result()))
    assert.truthy(polls < 30, polls .. " polls")
  end)
end)

describe("the state's context at lua_close", function()
  it("frees transfers in flight made before and after it, in either order, and exits cleanly", function()
    local out = T.run("", ([[
      local core = require "chatgpt.core"
      local o = core.origin { url = %q, auth = "none" }
      local ep = core.endpoint { origin = o, path = "/chat/completions", method = "POST" }
      local body = '{"model":"m","messages":[{"role":"user","content":"x"}]}'
      local a = core.transfer(ep, body)       -- before the context: collected after it
      a:start()                               -- the context (and the engine) is made here
      local b = core.transfer(ep, body)       -- after it: collected before it
      b:start()
      assert(core.encode({ small = "x" }))   -- the encoder's buffer, kept for the next
      core.poll(0)
      print(a:state(), b:state(), core.running())
      -- the end: lua.c runs lua_close, both still running (os.exit(0, true) does not on 5.1)
    ]]):format(fake.base_url()))
    assert.equal("running\trunning\t2\n", out)
  end)
end)

describe("error tables of the C core (curl_errors.h)", function()
  before_each(function() T.drain(); fake.reset() end)

  -- One transfer at the core level; returns its error table (or nil).
  local function run(reply, opts)
    opts = opts or {}
    if reply then fake.script(reply) end
    local origin = core.origin { url = opts.url or fake.base_url(), auth = "none" }
    local ep = core.endpoint { origin = origin, path = "/chat/completions", method = "POST",
                               max_body = opts.max_body }
    local t = core.transfer(ep, '{"model":"m","messages":[]}', opts.timeout or 10,
                            opts.idle_timeout or 0, opts.first_byte_timeout)
    t:start()
    local t0 = core.now()
    while t:state() == "running" and core.now() - t0 < 10 * SLOW do
      if opts.cancel_after and core.now() - t0 > opts.cancel_after then t:cancel() end
      core.poll(0.05)
    end
    local err = select(5, t:response())
    t:close()
    return err
  end

  local function check(err, kind, code, retryable, received)
    assert.is_table(err)
    assert.equal(kind, err.kind)
    if code:sub(1, 1) == "^" then
      assert.truthy(err.code:find(code), err.code)
    else
      assert.equal(code, err.code)
    end
    assert.equal(retryable, err.retryable, err.code)
    assert.equal(received, err.received, err.code)
    assert.is_string(err.message)
  end

  it("says whether a retry can help: yes for a connection refused or cut", function()
    local refused = run(nil, { url = "http://127.0.0.1:1/v1" })
    check(refused, "network", "COULDNT_CONNECT", true, false)
    assert.equal("Connection refused", refused.os_error)   -- the system's word, for the command
    check(run { drop_after = 60 }, "network", "^[A-Z_]+$", true, true)
  end)

  it("retries a timeout only when no byte came, and never a limit or a cancel", function()
    check(run({ stall = 3 }, { timeout = 0.3 }), "timeout", "TOTAL_TIMEOUT", true, false)
    check(run({ stall_after_headers = 3 }, { timeout = 0.3 }), "timeout", "TOTAL_TIMEOUT", false, true)
    check(run({ split = 20, chunk_delay = 3 }, { idle_timeout = 0.3 }), "timeout", "IDLE_TIMEOUT", false, true)
    check(run({ stall = 3 }, { first_byte_timeout = 0.3 }), "timeout", "FIRST_BYTE_TIMEOUT", true, false)
    check(run({ stall_after_headers = 3 }, { first_byte_timeout = 0.3 }), "timeout", "FIRST_BYTE_TIMEOUT",
          false, true)
    check(run({}, { max_body = 10 }), "limit", "BODY_TOO_LARGE", false, true)
    check(run({ delay = 1 }, { cancel_after = 0.1 }), "cancelled", "CANCELLED", false, false)
  end)

  it("core.curl_error gives the table of a code: its name, kind and whether to retry", function()
    check(core.curl_error(7), "network", "COULDNT_CONNECT", true, false)
    check(core.curl_error(28), "timeout", "OPERATION_TIMEDOUT", true, false)
    check(core.curl_error(60), "network", "PEER_FAILED_VERIFICATION", false, false)
    check(core.curl_error(77), "network", "SSL_CACERT_BADFILE", false, false)
    check(core.curl_error(27), "limit", "OUT_OF_MEMORY", false, false)
  end)

  it("gives a code outside the list as CURLE_<n>, not retryable (it was retried)", function()
    check(core.curl_error(9), "network", "CURLE_9", false, false)      -- REMOTE_ACCESS_DENIED (FTP)
    check(core.curl_error(9999), "network", "CURLE_9999", false, false)
  end)

  it("names every code of the list once", function()
    local seen, listed = {}, 0
    for n = 1, 120 do
      local e = core.curl_error(n)
      if e.code ~= "CURLE_" .. n then
        listed = listed + 1
        assert.is_nil(seen[e.code], e.code)
        seen[e.code] = true
        assert.truthy(e.kind == "network" or e.kind == "timeout" or e.kind == "limit", e.kind)
        assert.is_boolean(e.retryable)
      end
    end
    assert.truthy(listed >= 50, listed)
  end)
end)

describe("core.defaults and core._VERSION", function()
  it("hand the Lua side the version and every default, from defaults.h", function()
    assert.equal("0.2.0", core._VERSION)
    assert.same({
      timeout = 600, connect_timeout = 10, idle_timeout = 60, first_byte_timeout = 0, max_retries = 2,
      max_response_bytes = 64 * 1024 * 1024, max_event_bytes = 8 * 1024 * 1024,
      max_stream_bytes = 256 * 1024 * 1024, max_header_bytes = 256 * 1024,
      max_host_connections = 256, max_total_connections = 0,
      key_cmd_timeout = 10, user_agent = "lua-chatgpt/0.2.0",
    }, core.defaults)
    local _, def = core.configure()
    assert.equal(core.defaults.max_host_connections, def.max_host_connections)
    assert.equal(core.defaults.max_total_connections, def.max_total_connections)
  end)

  it("an endpoint without user_agent sends the default one", function()
    fake.reset()
    local origin = core.origin { url = fake.base_url(), auth = "none" }
    local t = core.transfer(core.endpoint { origin = origin, path = "/models", method = "GET" })
    t:start()
    while t:state() == "running" do core.poll(0.05) end
    assert.equal(200, (t:response()))
    t:close()
    assert.equal("lua-chatgpt/0.2.0", fake.last().header["user-agent"])
  end)
end)

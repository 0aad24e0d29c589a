-- Keys that change (lua/chatgpt/auth.lua): api_key as a function (a token
-- provider) and api_key_cmd run again, on a lifetime and after a 401; one
-- fetch shared by the requests that wait for it; a provider that fails
-- fails the request cleanly (kind "auth"), never raising out of poll.
local chatgpt = require "chatgpt"
local core = require "chatgpt.core"
local fake = require "spec.support.fake"
local T = require "spec.support.client"

local HELLO = T.HELLO
local drain = T.drain

local K1 = "sk-token-one-000000000000aaaa"
local K2 = "sk-token-two-000000000000bbbb"

-- A provider handing out keys in turn (the last one again when they run
-- out), counting its calls; lifetime for each key, when given.
local function provider(keys, lifetime)
  local p = { calls = 0, clients = {} }
  function p.fn(client)
    p.calls = p.calls + 1
    p.clients[#p.clients + 1] = client
    return keys[math.min(p.calls, #keys)], lifetime
  end
  return p
end

local function auth_header() return fake.last().header["authorization"] end

describe("api_key as a function", function()
  before_each(function() drain(); fake.reset() end)
  after_each(function() fake.config { require_key = fake.null } end)

  it("is called before the first request, with the client, and not again while its key lasts", function()
    local p = provider { K1 }
    local c = T.new { api_key = p.fn }
    assert.equal(0, p.calls)               -- not at new()
    assert.is_nil(c:key_hint())
    assert.equal(HELLO, (c:chat("a")))
    assert.equal("Bearer " .. K1, auth_header())
    assert.equal(HELLO, (c:chat("b")))
    assert.equal(1, p.calls)
    assert.equal(c, p.clients[1])
    assert.equal("sk-token-...aaaa", c:key_hint())
    assert.falsy(tostring(c):find(K1, 1, true))
  end)

  it("is called again once the lifetime it gave has passed, not before", function()
    local p = provider({ K1, K2 }, 60)
    local c = T.new { api_key = p.fn }
    assert.equal(HELLO, (c:chat("a")))
    assert.equal(HELLO, (c:chat("b")))
    assert.equal(1, p.calls)
    p = provider({ K1, K2 }, 0.3)
    c = T.new { api_key = p.fn }
    assert.equal(HELLO, (c:chat("a")))
    assert.equal("Bearer " .. K1, auth_header())
    require("socket").sleep(0.35)
    assert.equal(HELLO, (c:chat("c")))
    assert.equal(2, p.calls)
    assert.equal("Bearer " .. K2, auth_header())
    assert.equal("sk-token-...bbbb", c:key_hint())
  end)

  it("after a 401 is called once and the request sent again with the new key, not counted as a retry",
     function()
    fake.config { require_key = K2 }
    local p = provider { K1, K2 }
    local events = {}
    local c = T.new { api_key = p.fn, max_retries = 0, log = function(e) events[#events + 1] = e end }
    local text, _, info = c:chat("a")
    assert.equal(HELLO, text)
    assert.equal(2, p.calls)
    assert.equal(2, info.attempts)
    assert.equal("retry", events[1].event)
    assert.equal(401, events[1].status)
    assert.truthy(events[1].reason:find("(a new key)", 1, true), events[1].reason)
    for _, e in ipairs(events) do
      for _, v in pairs(e) do assert.falsy(tostring(v):find("sk-token", 1, true), tostring(v)) end
    end
    local reqs = fake.requests()
    assert.equal(2, #reqs)
    assert.equal("Bearer " .. K1, reqs[1].header["authorization"])
    assert.equal("Bearer " .. K2, reqs[2].header["authorization"])
    assert.equal(HELLO, (c:chat("b")))    -- the new key stays
    assert.equal(2, p.calls)
  end)

  it("a second 401 is the answer", function()
    fake.config { require_key = "sk-none-of-these-0000000000" }
    local p = provider { K1, K2 }
    local text, err = T.new { api_key = p.fn, max_retries = 2 }:chat("a")
    assert.is_nil(text)
    assert.equal("api", err.kind)
    assert.equal(401, err.status)
    assert.equal(2, err.attempts)
    assert.equal(2, p.calls)
    assert.equal(2, #fake.requests())
    assert.falsy(T.leaks(err))
  end)

  it("retries a stream refused with a 401 with the new key", function()
    fake.config { require_key = K2 }
    local p = provider { K1, K2 }
    local pieces = {}
    local text = T.new { api_key = p.fn }:chat("a", { on_delta = function(s) pieces[#pieces + 1] = s end })
    assert.equal(HELLO, text)
    assert.equal(HELLO, table.concat(pieces))
    assert.equal(2, p.calls)
  end)

  it("is called once for every request that waits for it, and once after their 401s", function()
    local p = provider { K1, K2 }
    local c = T.new { api_key = p.fn }
    local reqs = {}
    for i = 1, 5 do reqs[i] = c:chat_async("r" .. i) end
    for i = 1, 5 do assert.equal(HELLO, (reqs[i]:wait())) end
    assert.equal(1, p.calls)
    fake.config { require_key = K2 }
    for i = 1, 5 do reqs[i] = c:chat_async("s" .. i) end
    for i = 1, 5 do assert.equal(HELLO, (reqs[i]:wait())) end
    assert.equal(2, p.calls)
    assert.equal(15, #fake.requests())      -- 5, then 5 refused and 5 again
  end)

  it("runs from the engine's turn: chat_async returns at once, poll(0) calls it", function()
    local p = provider { K1 }
    local req = T.new { api_key = p.fn }:chat_async("a")
    assert.equal(0, p.calls)
    assert.equal("pending", req.status)
    assert.truthy(chatgpt.poll(0) >= 1)
    assert.equal(1, p.calls)
    local t0 = core.now()
    while not req:done() and core.now() - t0 < 10 do chatgpt.poll(0.01) end
    assert.equal(HELLO, (req:result()))
  end)

  it("inside chatgpt.spawn, the call yields while the key is fetched", function()
    local p = provider { K1 }
    local c = T.new { api_key = p.fn }
    local got
    chatgpt.spawn(function() got = c:chat("a") end)
    assert.is_nil(got)
    drain()
    assert.equal(HELLO, got)
    assert.equal(1, p.calls)
  end)

  it("sends the key as api-key: for auth = \"api-key\" (Azure)", function()
    local p = provider { K1 }
    assert.equal(HELLO, (T.new { api_key = p.fn, auth = "api-key" }:chat("a")))
    assert.equal(K1, fake.last().header["api-key"])
    assert.is_nil(auth_header())
  end)

  it("is never called for auth = \"none\"", function()
    local p = provider { K1 }
    assert.equal(HELLO, (T.new { api_key = p.fn, auth = "none" }:chat("a")))
    assert.equal(0, p.calls)
    assert.is_nil(auth_header())
  end)

  it("keeps the key on the client's origin: a changed base_url sends it nowhere else", function()
    local p = provider { K1, K2 }
    local c = T.new { api_key = p.fn }
    assert.equal(HELLO, (c:chat("a")))
    c.base_url = "http://127.0.0.1:1/v1"
    fake.config { require_key = K2 }       -- a refresh after a 401
    assert.equal(HELLO, (c:chat("b")))
    assert.equal("Bearer " .. K2, auth_header())
  end)

  it("refuses at new() a plain http:// URL to another host, as for a key given", function()
    local ok, err = pcall(chatgpt.new, { base_url = "http://example.invalid/v1", api_key = function() end })
    assert.is_false(ok)
    assert.truthy(err:find("refusing to send the API key over plain http://", 1, true), err)
    assert.truthy(pcall(chatgpt.new, { base_url = "http://example.invalid/v1", api_key = function() end,
                                       allow_insecure = true }))
  end)

  it("redacts the key it gave, and the one before, from what the server echoes", function()
    fake.script { status = 401, json = { error = { message = "bad key " .. K1 } } }
    local p = provider { K1, K2 }
    local c = T.new { api_key = p.fn }
    assert.equal(HELLO, (c:chat("a")))
    fake.script { status = 400, json = { error = { message = "was " .. K1 .. ", is " .. K2 } } }
    local _, err = c:chat("b")
    assert.equal("was sk-token-...aaaa, is sk-token-...bbbb", err.message)
  end)
end)

describe("a provider that fails", function()
  before_each(function() drain(); fake.reset() end)

  local BAD = {
    { "raises", function() error("vault is sealed") end, "the api_key function raised: .*vault is sealed" },
    { "returns nothing", function() end, "the api_key function returned nil, not a key" },
    { "returns a number", function() return 42 end, "the api_key function returned number, not a key" },
    { "returns a key with a space", function() return "sk-has space-0000000000" end,
      "the api_key function's key: an API key is 1 to 4096 printable characters without spaces" },
    { "returns an empty key", function() return "" end, "the api_key function's key: " },
    { "returns a lifetime of 0", function() return K1, 0 end,
      "the api_key function's lifetime: a number of seconds > 0 expected, got 0" },
    { "returns a lifetime that is not a number", function() return K1, "1h" end,
      "lifetime: a number of seconds > 0 expected, got string" },
    { "waits on this module", function() return (T.new():chat("inner")) end, "re%-entrant" },
    { "asks its own client", function(c) return (c:chat("inner")) end, "re%-entrant" },
  }

  for _, case in ipairs(BAD) do
    it(case[1] .. ": the request is nil, err{kind = 'auth'}, nothing is sent, nothing raises", function()
      local c = T.new { api_key = case[2], max_retries = 2 }
      local text, err = c:chat("a")
      assert.is_nil(text)
      assert.is_true(chatgpt.is_error(err))
      assert.equal("auth", err.kind)
      assert.equal("NO_KEY", err.code)
      assert.is_false(err.retryable)
      assert.equal(0, err.attempts)
      assert.truthy(err.message:find(case[3]), err.message)
      assert.falsy(err.message:find("sk-has", 1, true))
      assert.equal(0, #fake.requests())
      assert.equal(1, #(tostring(err):gsub("[^\n]", "")) + 1)
    end)
  end

  it("fails every request waiting on it, from poll, which never raises; the next request asks again", function()
    local calls = 0
    local c = T.new { api_key = function()
      calls = calls + 1
      if calls == 1 then error("not yet") end
      return K1
    end }
    local a, b = c:chat_async("a"), c:chat_async("b")
    local t0 = core.now()
    while (not a:done() or not b:done()) and core.now() - t0 < 10 do
      assert.has_no_error(function() chatgpt.poll(0.01) end)
    end
    assert.equal("auth", select(2, a:result()).kind)
    assert.equal("auth", select(2, b:result()).kind)
    assert.equal(1, calls)
    assert.equal(HELLO, (c:chat("c")))
    assert.equal(2, calls)
  end)

  it("one that asks its own client is called once: that request fails at once, and so does the call", function()
    local calls = 0
    local c = T.new { api_key = function(self)
      calls = calls + 1
      local req = self:chat_async("inner")
      assert(req.status == "failed" and select(2, req:result()).kind == "auth")
      return nil
    end }
    local _, err = c:chat("a")
    assert.equal("auth", err.kind)
    assert.equal(1, calls)
    drain()
    assert.equal(1, calls)
    assert.equal(0, #fake.requests())
  end)

  it("a request cancelled while it waits for the key is not sent", function()
    local c = T.new { api_key = function() return K1 end }
    local req = c:chat_async("a")
    req:cancel()
    drain()
    assert.equal("cancelled", req.status)
    assert.equal(0, #fake.requests())
  end)
end)

describe("api_key_cmd run again", function()
  before_each(function() drain(); fake.reset() end)
  after_each(function() fake.config { require_key = fake.null } end)

  local function key_file(key)
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(key, "\n")
    f:close()
    return path
  end
  local function set(path, key)
    local f = assert(io.open(path, "w"))
    f:write(key, "\n")
    f:close()
  end
  -- a command printing the file's key and counting its runs
  local function command(path)
    return { "sh", "-c", 'cat "$1"; echo x >> "$1.runs"', "sh", path }
  end
  local function runs(path)
    local n = 0
    local f = io.open(path .. ".runs")
    if f then
      for _ in f:lines() do n = n + 1 end
      f:close()
    end
    return n
  end

  it("runs once at new() and again after a 401, the request sent again with its new key", function()
    local path = key_file(K1)
    local c = T.new { api_key_cmd = command(path), max_retries = 0 }
    assert.equal(1, runs(path))
    assert.equal(HELLO, (c:chat("a")))
    assert.equal(1, runs(path))
    set(path, K2)
    fake.config { require_key = K2 }
    local text, _, info = c:chat("b")
    assert.equal(HELLO, text)
    assert.equal(2, info.attempts)
    assert.equal(2, runs(path))
    assert.equal("Bearer " .. K2, auth_header())
    os.remove(path)
    os.remove(path .. ".runs")
  end)

  it("runs again once api_key_cmd_ttl has passed", function()
    local path = key_file(K1)
    local c = T.new { api_key_cmd = command(path), api_key_cmd_ttl = 0.3 }
    assert.equal(HELLO, (c:chat("a")))
    set(path, K2)
    require("socket").sleep(0.35)
    assert.equal(HELLO, (c:chat("b")))
    assert.truthy(runs(path) >= 2)           -- a slow machine may have run it for "a" too
    assert.equal("Bearer " .. K2, auth_header())
    os.remove(path)
    os.remove(path .. ".runs")
  end)

  it("a run that fails fails the request with kind 'auth', saying why without the output", function()
    local path = key_file(K1)
    local c = T.new { api_key_cmd = { "sh", "-c", 'cat "$1"; test -e "$1.gone" && exit 3; exit 0', "sh", path },
                      api_key_cmd_ttl = 0.2 }
    assert.equal(HELLO, (c:chat("a")))
    assert(io.open(path .. ".gone", "w")):close()
    require("socket").sleep(0.25)
    local text, err = c:chat("b")
    assert.is_nil(text)
    assert.equal("auth", err.kind)
    assert.equal("api_key_cmd: sh failed (exit status 3)", err.message)
    os.remove(path)
    os.remove(path .. ".gone")
  end)

  it("refuses api_key_cmd_ttl without api_key_cmd, and a ttl that is not > 0", function()
    local ok, err = pcall(T.new, { api_key_cmd_ttl = 60 })
    assert.is_false(ok)
    assert.truthy(err:find("api_key_cmd_ttl", 1, true), err)
    ok, err = pcall(T.new, { api_key_cmd = { "echo", K1 }, api_key_cmd_ttl = 0 })
    assert.is_false(ok)
    assert.truthy(err:find("option 'api_key_cmd_ttl': a number > 0", 1, true), err)
  end)

  it("a key given as a string is never fetched again: a 401 is the answer", function()
    fake.config { require_key = K2 }
    local _, err = T.new { api_key = K1 }:chat("a")
    assert.equal(401, err.status)
    assert.equal(1, #fake.requests())
  end)
end)

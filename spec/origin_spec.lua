-- The key stays where it was sent: base URLs judged by libcurl's parser,
-- the key bound in C to the origin it was given with, the environment's
-- key only for OpenAI, header values checked when the client is made.
local chatgpt = require "chatgpt"
local core = require "chatgpt.core"
local fake = require "spec.support.fake"
local T = require "spec.support.client"

local function raises(pattern, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "no error raised")
  assert.truthy(tostring(err):find(pattern, 1, true), tostring(err))
  return err
end

local function new(opts)
  return function() return chatgpt.new(opts) end
end

local function keyed(url, extra)
  local o = { base_url = url, api_key = T.KEY }
  for k, v in pairs(extra or {}) do o[k] = v end
  return new(o)
end

-- A second listener on 127.0.0.1 that records what reaches it.
local socket = require "socket"
local function listener()
  local srv = assert(socket.bind("127.0.0.1", 0))
  srv:settimeout(0)
  local _, port = srv:getsockname()
  local got = {}
  return {
    url = "http://127.0.0.1:" .. port .. "/v1",
    -- what arrived so far (accepts and reads without blocking)
    read = function()
      local c = srv:accept()
      if c then
        c:settimeout(0.2)
        local data, _, partial = c:receive("*a")
        got[#got + 1] = data or partial
        c:close()
      end
      return table.concat(got)
    end,
    close = function() srv:close() end,
  }
end

describe("base_url", function()
  it("refuses a user name or password in the URL (userinfo), whatever it looks like", function()
    for _, url in ipairs {
      "http://127.0.0.1:x@example.com/v1", "http://localhost:pw@example.com/v1",
      "http://[::1]@example.com/v1", "https://user@api.openai.com/v1",
    } do
      local err = raises("userinfo", keyed(url))
      assert.falsy(err:find("pw@", 1, true), "the message repeats the URL: " .. err)
      raises("userinfo", new { base_url = url, auth = "none" })
    end
  end)

  it("judges the host curl connects to, not how it is written", function()
    -- 127.1 and 0x7f.1 are 127.0.0.1 to libcurl; foo.localhost is loopback
    for _, url in ipairs { "http://127.1:9/v1", "http://0x7f.1:9/v1", "http://foo.localhost:9/v1",
                           "http://[::1]:9/v1", "http://LOCALHOST:9/v1" } do
      assert.equal("chatgpt.client", tostring(chatgpt.new { base_url = url, api_key = T.KEY }):match("^%S+"))
    end
    for _, url in ipairs { "http://127.0.0.1.example.com/v1", "http://localhost.example.com/v1",
                           "http://[::ffff:127.0.0.1]/v1", "http://foo.localhost./v1" } do
      raises("refusing to send the API key over plain http://", keyed(url))
    end
  end)

  it("names auth = \"none\" in the plain-http refusal", function()
    raises('auth = "none"', keyed("http://gpu-box:8000/v1"))
    assert.truthy(chatgpt.new { base_url = "http://gpu-box:8000/v1", auth = "none" })
    assert.truthy(chatgpt.new { base_url = "http://gpu-box:8000/v1", api_key = T.KEY, allow_insecure = true })
  end)

  it("raises on a NUL byte instead of passing a shorter URL to C", function()
    raises("NUL", keyed("http://example.com\0.localhost/v1"))
    raises("NUL", new { base_url = "http://127.0.0.1/v1\0x", auth = "none" })
  end)

  it("refuses a query or fragment (extra parameters go in the query option)", function()
    raises("query", keyed("http://127.0.0.1:9/v1?api-version=1"))
    raises("query", keyed("http://127.0.0.1:9/v1#x"))
  end)

  it("refuses what is not an http:// or https:// URL", function()
    for _, url in ipairs { "ftp://127.0.0.1/v1", "file:///etc/passwd", "127.0.0.1/v1", "" } do
      raises("bad argument #1 to 'new' (option 'base_url'", keyed(url))
    end
  end)
end)

describe("the key's binding to its origin", function()
  local base
  before_each(function()
    base = fake.base_url()
    fake.reset()
  end)

  it("goes where the client was made for, whatever base_url says later", function()
    local other = listener()
    local c = T.new()
    c.base_url = other.url
    assert.truthy(c:chat("hi"))
    assert.equal(1, #fake.requests())
    assert.equal("", other.read())
    other.close()
  end)

  it("does not move with a copy of a client's fields", function()
    local other = listener()
    local mine = T.new()
    local theirs = chatgpt.new { base_url = other.url, auth = "none" }
    for k, v in pairs(mine) do
      if k ~= "base_url" then theirs[k] = v end
    end
    assert.truthy(theirs:chat("hi"))
    local got = other.read()
    assert.falsy(got:find(T.MARKER, 1, true), "the key reached the other listener")
    assert.equal("Bearer " .. T.KEY, fake.last().header.authorization)
    other.close()
  end)

  it("refuses a path that would leave the origin", function()
    local o = assert(core.origin { url = "http://127.0.0.1:" .. fake.port(), key = core.key(T.KEY) })
    for _, path in ipairs { "@example.com/x", ":1/x", ".example.com/x" } do
      raises("chatgpt: a path starts with '/'", function() core.endpoint { origin = o, path = path } end)
    end
    local s = core.endpoint { origin = o, path = "//example.com/x" }     -- a path on the origin
    assert.truthy(s)
    assert.truthy(base)
  end)
end)

describe("a loopback server", function()
  it("is spoken to directly, never through a proxy from the environment", function()
    fake.reset()
    local out = T.run("http_proxy=http://127.0.0.1:1 HTTPS_PROXY=http://127.0.0.1:1 ALL_PROXY=http://127.0.0.1:1", [[
      local c = require("chatgpt").new { base_url = "]] .. fake.base_url() .. [[", api_key = "]] .. T.KEY .. [[" }
      print((c:chat("hi")))
    ]])
    assert.truthy(out:find("Hello", 1, true), out)
  end)
end)

describe("the environment's key", function()
  local env = "OPENAI_API_KEY=" .. T.KEY .. " OPENAI_BASE_URL= "

  it("is not sent to another server unless given", function()
    local out = T.run(env, [[
      local chatgpt = require "chatgpt"
      local ok, err = pcall(chatgpt.new, { base_url = "http://localhost:11434/v1" })
      print(ok, err)
      print(chatgpt.new { base_url = "http://localhost:11434/v1", auth = "none" }:key_hint())
      print(chatgpt.new():key_hint())
    ]])
    assert.truthy(out:find("false", 1, true), out)
    assert.truthy(out:find("OPENAI_API_KEY is sent only to https://api.openai.com:443", 1, true), out)
    assert.truthy(out:find('auth = "none"', 1, true), out)
    assert.truthy(out:find("\nnil\n", 1, true), out)
    assert.truthy(out:find("...WXYZ", 1, true), out)
  end)

  it("goes to $OPENAI_BASE_URL of the same environment", function()
    fake.reset()
    local out = T.run("OPENAI_API_KEY=" .. T.KEY .. " OPENAI_BASE_URL=" .. fake.base_url(), [[
      local chatgpt = require "chatgpt"
      print((chatgpt.new():chat("hi")))
    ]])
    assert.truthy(out:find("Hello", 1, true), out)
    assert.equal("Bearer " .. T.KEY, fake.last().header.authorization)
  end)
end)

describe("header values", function()
  it("are checked when the client is made", function()
    raises("organization", keyed(fake.base_url(), { organization = "org\r\nX-Evil: 1" }))
    raises("project", keyed(fake.base_url(), { project = "p\nq" }))
    raises("organization", keyed(fake.base_url(), { organization = "org\0x" }))
    raises("headers", keyed(fake.base_url(), { headers = { ["X-A"] = "a\0b" } }))
    raises("headers", keyed(fake.base_url(), { headers = { ["X A"] = "v" } }))
    raises("headers", keyed(fake.base_url(), { headers = { ["X-A:"] = "v" } }))
  end)
end)

describe("numeric options", function()
  it("raise a clear argument error out of range", function()
    for _, bad in ipairs {
      { timeout = 0 }, { timeout = -1 }, { timeout = 0 / 0 }, { timeout = math.huge },
      { connect_timeout = 0 }, { idle_timeout = -1 },
      { max_response_bytes = -1 }, { max_response_bytes = 1.5 }, { max_event_bytes = 0 },
      { max_retries = -1 }, { max_retries = 0.5 }, { api_key_cmd_timeout = 0 },
    } do
      local name = next(bad)
      raises("bad argument #1 to 'new' (option '" .. name .. "'", keyed(fake.base_url(), bad))
    end
  end)

  it("raise a clear argument error in a call's params", function()
    local c = T.new()
    raises("bad argument #2 to 'chat' (param 'timeout'", function() c:chat("x", { timeout = -1 }) end)
    raises("param 'idle_timeout'", function() c:chat("x", { idle_timeout = 0 / 0 }) end)
    raises("param 'max_retries'", function() c:chat("x", { max_retries = 1.5 }) end)
  end)

  it("points max_connections to chatgpt.configure", function()
    raises("chatgpt.configure", keyed(fake.base_url(), { max_connections = 4 }))
  end)
end)

-- Towards a host that is not loopback, inside a private network namespace
-- (203.0.113.5 on its own lo): no test sends anything anywhere else.
describe("a remote host", function()
  local function in_namespace(code)
    local f = os.tmpname()
    local h = assert(io.open(f, "w"))
    h:write(code)
    h:close()
    local build = os.getenv("CHATGPT_BUILD") or "build"
    local py = os.getenv("PYTHON") or "python3"
    local lua = os.getenv("CHATGPT_LUA") or "lua5.4"
    local cmd = string.format([[unshare -n sh -c '
      ip link set lo up && ip addr add 203.0.113.5/32 dev lo || exit 99
      %s spec/support/fake_openai.py --host 203.0.113.5 --port 8443 >/dev/null 2>&1 &
      for i in 1 2 3 4 5 6 7 8 9 10; do
        %s -e "local s=require(\"socket\").connect(\"203.0.113.5\",8443) os.exit(s and 0 or 1)" && break
        sleep 0.2
      done
      LD_PRELOAD="%s" LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="%s/?.so;;" %s %s
      kill $! 2>/dev/null' 2>&1; echo "rc=$?"]], py, lua, os.getenv("LD_PRELOAD") or "", build, lua, f)
    -- only lua5.4 gets the sanitizer runtime that make check preloads
    cmd = "env -u LD_PRELOAD " .. cmd
    local p = io.popen(cmd)
    local out = p:read("*a")
    p:close()
    os.remove(f)
    return out
  end

  local can = T.ok("env -u LD_PRELOAD unshare -n true")
  local case = can and it or pending

  case("gets no key over plain http:// even when the URL's userinfo says 127.0.0.1", function()
    local out = in_namespace([[
      local chatgpt = require "chatgpt"
      local socket = require "socket"
      local ok, err = pcall(chatgpt.new, { base_url = "http://127.0.0.1:x@203.0.113.5:8443/v1",
                                          api_key = "]] .. T.KEY .. [[" })
      print("userinfo", ok, err)
      ok, err = pcall(chatgpt.new, { base_url = "http://203.0.113.5:8443/v1", api_key = "]] .. T.KEY .. [[" })
      print("plain", ok, err)
      -- what the server saw
      local c = socket.connect("203.0.113.5", 8443)
      c:send("GET /_fake/requests HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
      print("seen", (c:receive("*a")))
    ]])
    assert.truthy(out:find("userinfo\tfalse", 1, true), out)
    assert.truthy(out:find("plain\tfalse", 1, true), out)
    assert.truthy(out:find("seen", 1, true), out)
    assert.falsy(out:find(T.MARKER .. "0123", 1, true), out)
  end)

  case("gets the key over plain http:// only with allow_insecure = true", function()
    local out = in_namespace([[
      local chatgpt = require "chatgpt"
      local c = chatgpt.new { base_url = "http://203.0.113.5:8443/v1", api_key = "]] .. T.KEY .. [[",
                              allow_insecure = true }
      print("answer", (c:chat("hi")))
    ]])
    assert.truthy(out:find("answer\tHello", 1, true), out)
  end)
end)

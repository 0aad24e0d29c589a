-- Network options: per-call headers and query, proxies (the proxy and
-- no_proxy options over libcurl's http_proxy/https_proxy/no_proxy), client
-- certificates (cert_file, key_file).
local socket = require "socket"
local chatgpt = require "chatgpt"
local fake = require "spec.support.fake"
local T = require "spec.support.client"
local pki = require "spec.support.pki"

local function raises(pattern, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "no error raised")
  assert.truthy(tostring(err):find(pattern, 1, true), tostring(err))
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

before_each(function() fake.reset() end)

describe("per-call headers and query", function()
  it("are sent with that call only, merged over the client's", function()
    local c = T.new { headers = { ["X-Team"] = "core", ["X-Trace"] = "client" },
                      query = { ["api-version"] = "1", mode = "a" } }
    assert.equal(T.HELLO, (c:chat("hi", { headers = { ["x-trace"] = "call", ["X-Extra"] = 7 },
                                          query = { mode = "b", page = 2 } })))
    local req = fake.last()
    assert.equal("core", req.header["x-team"])
    assert.equal("call", req.header["x-trace"])
    assert.equal("7", req.header["x-extra"])
    local traces = 0
    for _, h in ipairs(req.headers) do
      if h[1]:lower() == "x-trace" then traces = traces + 1 end
    end
    assert.equal(1, traces)
    assert.same({ ["api-version"] = "1", mode = "b", page = "2" }, req.args)
    assert.is_nil(req.json.headers)                 -- never a request field
    c:chat("hi")
    req = fake.last()
    assert.equal("client", req.header["x-trace"])
    assert.is_nil(req.header["x-extra"])
    assert.same({ ["api-version"] = "1", mode = "a" }, req.args)
  end)

  it("remove a client's header or query parameter with false", function()
    local c = T.new { headers = { ["X-Team"] = "core" }, query = { mode = "a" } }
    c:chat("hi", { headers = { ["X-Team"] = false }, query = { mode = false } })
    local req = fake.last()
    assert.is_nil(req.header["x-team"])
    assert.equal("", req.query)
  end)

  it("work on streams, models and embeddings, and in conversations", function()
    local c = T.new()
    c:chat("hi", { stream = true, headers = { ["X-A"] = "1" } })
    assert.equal("1", fake.last().header["x-a"])
    assert.equal("text/event-stream", fake.last().header["accept"])
    c:models { headers = { ["X-B"] = "2" }, query = { limit = 5 } }
    assert.equal("2", fake.last().header["x-b"])
    assert.equal("5", fake.last().args.limit)
    c:embed("x", { query = { q = "v" } })
    assert.equal("v", fake.last().args.q)
    local conv = c:conversation { params = { headers = { ["X-Conv"] = "yes" } } }
    assert.equal(T.HELLO, (conv:say("hi")))
    assert.equal("yes", fake.last().header["x-conv"])
  end)

  it("are checked as new() checks the client's: token names, no CR, LF or NUL", function()
    local c = T.new()
    raises("bad argument #2 to 'chat' (param 'headers': the value of X-A must be a string without CR, LF or NUL)",
           function() c:chat("hi", { headers = { ["X-A"] = "v\r\nX-Evil: 1" } }) end)
    raises("param 'headers': bad header name Bad Name", function()
      c:chat("hi", { headers = { ["Bad Name"] = "v" } })
    end)
    raises("param 'headers': the value of X-A", function() c:chat("hi", { headers = { ["X-A"] = "a\0b" } }) end)
    raises("bad argument #1 to 'models' (param 'query'", function() c:models { query = { x = {} } } end)
    raises("param 'headers': table expected, got string", function() c:chat("hi", { headers = "X: 1" }) end)
    raises("param 'headers': bad header name 1", function() c:chat("hi", { headers = { false } }) end)
    assert.is_nil(fake.last())
  end)

  it("cannot take a request off the client's origin: a query is encoded, never a URL", function()
    local c = T.new()
    c:chat("hi", { query = { ["x@y"] = "@evil.example/#frag", ["a b"] = "1&2=3" } })
    local req = fake.last()
    assert.equal("/v1/chat/completions", req.path)
    assert.equal("@evil.example/#frag", req.args["x@y"])
    assert.equal("1&2=3", req.args["a b"])
  end)

  it("make few endpoints: calls with the same headers share one", function()
    local c = T.new()
    for _ = 1, 40 do c:chat("hi", { headers = { ["X-Same"] = "1" } }) end
    local n = 0
    for _ in pairs(c._custom) do n = n + 1 end
    assert.equal(1, n)
    for i = 1, 40 do c:chat("hi", { query = { i = i } }) end
    n = 0
    for _ in pairs(c._custom) do n = n + 1 end
    assert.is_true(n <= 32)
  end)
end)

describe("framing and routing headers", function()
  local NAMES = { "Host", "host", "Content-Length", "CONTENT-LENGTH", "Transfer-Encoding",
                  "transfer-encoding", "Connection", "Expect", "Keep-Alive", "Upgrade", "TE", "Trailer",
                  "Proxy-Connection", "HTTP2-Settings" }
  local VALUES = { Host = "evil.example", ["Content-Length"] = "0", ["Transfer-Encoding"] = "chunked" }

  for _, name in ipairs(NAMES) do
    it(name .. " is refused as a client option, a call's param and a request's, even as false", function()
      local value = VALUES[name] or "1"
      raises("bad argument #1 to 'new' (option 'headers': " .. name .. " is not a header to set", function()
        T.new { headers = { [name] = value } }
      end)
      local c = T.new()
      for _, v in ipairs { value, false } do
        raises("bad argument #2 to 'chat' (param 'headers': " .. name .. " is not a header to set", function()
          c:chat("hi", { headers = { [name] = v } })
        end)
        raises("bad argument #2 to 'chat' (param 'headers': " .. name, function()
          c:chat("hi", { stream = true, headers = { ["X-Ok"] = "1", [name] = v } })
        end)
        raises("bad argument #4 to 'request' (param 'headers': " .. name, function()
          c:request("GET", "/models", nil, { headers = { [name] = v } })
        end)
        raises("param 'headers': " .. name, function()
          c:conversation { params = { headers = { [name] = v } } }:say("hi")
        end)
      end
      assert.is_nil(fake.last())
    end)
  end

  describe("Authorization and api-key", function()
    local function credentials(req)
      local found = {}
      for _, h in ipairs(req.headers) do
        local n = h[1]:lower()
        if n == "authorization" or n == "api-key" then found[#found + 1] = h[1] .. ": " .. h[2] end
      end
      return found
    end

    it("beside a key, as a client option, are refused; without one (auth = 'none') they go out", function()
      for _, name in ipairs { "Authorization", "authorization", "AUTHORIZATION", "api-key", "Api-Key" } do
        raises("option 'headers': " .. name .. " would go beside the key", function()
          T.new { headers = { [name] = "Bearer mine" } }
        end)
        raises("option 'headers': " .. name .. " would go beside the key", function()
          T.new { auth = "api-key", headers = { [name] = "mine" } }
        end)
      end
      local c = chatgpt.new { base_url = fake.base_url(), auth = "none",
                              headers = { Authorization = "Bearer gateway" } }
      c:chat("hi")
      assert.same({ "Authorization: Bearer gateway" }, credentials(fake.last()))
    end)

    for _, case in ipairs {
      { auth = "bearer", name = "Authorization", value = "Bearer per-call" },
      { auth = "bearer", name = "authorization", value = "Bearer lower" },
      { auth = "bearer", name = "api-key", value = "other-key" },
      { auth = "api-key", name = "api-key", value = "per-call-key" },
      { auth = "api-key", name = "AUTHORIZATION", value = "Bearer entra-token" },
    } do
      it(("a call's %s replaces the key of an auth = %q client, never beside it"):format(case.name, case.auth),
         function()
        local c = T.new { auth = case.auth }
        c:chat("hi", { headers = { [case.name] = case.value } })
        assert.same({ case.name .. ": " .. case.value }, credentials(fake.last()))
        assert.is_nil(fake.last().body:find(T.MARKER, 1, true))
        c:chat("hi", { stream = true })
        assert.equal(1, #credentials(fake.last()))                  -- the key again
        c:request("GET", "/models", nil, { headers = { [case.name] = case.value } })
        assert.same({ case.name .. ": " .. case.value }, credentials(fake.last()))
        c:chat("hi", { headers = { [case.name] = false } })          -- false: neither
        assert.same({}, credentials(fake.last()))
        c:chat("hi")
        local again = credentials(fake.last())
        assert.equal(1, #again)
        assert.truthy(again[1]:find(T.MARKER, 1, true))
      end)
    end
  end)
end)

describe("the proxy options", function()
  it("are checked when the client is made", function()
    raises("option 'proxy' must be a proxy URL", function() T.new { proxy = "ftp://proxy:21" } end)
    raises("option 'proxy' must be a proxy URL", function() T.new { proxy = "http://p:1\r\nX: y" } end)
    raises("option 'no_proxy': string expected", function() T.new { no_proxy = { "a" } } end)
    for _, p in ipairs { "http://127.0.0.1:3128", "https://proxy:443", "socks5h://u:p@proxy:1080",
                         "proxy.corp:3128", "" } do
      assert.truthy(T.new { proxy = p })
    end
  end)

  it("never send a loopback server's requests to a proxy, given or from the environment", function()
    local log = os.tmpname()
    local port = free_port()
    local py = os.getenv("PYTHON") or "python3"
    local proc = io.popen(("exec %s spec/support/proxy.py --port %d --log %s --exit-on-stdin-eof "
                           .. ">/dev/null 2>&1"):format(py, port, log), "w")
    os.execute("sleep 0.3")
    local c = T.new { proxy = "http://127.0.0.1:" .. port }
    assert.equal(T.HELLO, (c:chat("hi")))
    local out = T.run("http_proxy=http://127.0.0.1:" .. port .. " ALL_PROXY=http://127.0.0.1:" .. port
                      .. " OPENAI_BASE_URL=" .. fake.base_url(), [[
      local c = require("chatgpt").new { api_key = "]] .. T.KEY .. [[" }
      print("answer", (c:chat("hi")))
    ]])
    assert.truthy(out:find("answer\t" .. T.HELLO, 1, true), out)
    proc:close()                          -- the proxy exits with its stdin
    assert.equal("", read(log))
    os.remove(log)
  end)
end)

-- Towards a host that is not loopback, inside a private network namespace
-- (203.0.113.5 on its own lo, the proxy on its 127.0.0.1): nothing is sent
-- anywhere else.
describe("a proxy towards a remote host", function()
  local can = T.ok("env -u LD_PRELOAD unshare -n true")
  local case = can and it or pending

  -- Runs code (Lua) in the namespace with the fake server on
  -- 203.0.113.5:8443, the proxy on 127.0.0.1:3128, and nginx with conf
  -- when given; env: "NAME=value ..." for the Lua process. Returns its
  -- output and what the proxy logged.
  local function in_namespace(code, conf, env)
    local f = os.tmpname()
    local h = assert(io.open(f, "w"))
    h:write(code)
    h:close()
    local log = os.tmpname()
    local build = os.getenv("CHATGPT_BUILD") or "build"
    local py = os.getenv("PYTHON") or "python3"
    local nginx = conf and (pki.nginx_path() .. " -p " .. pki.make() .. " -c " .. conf .. " &") or ""
    local cmd = string.format([[unshare -n sh -c '
      ip link set lo up && ip addr add 203.0.113.5/32 dev lo || exit 99
      %s spec/support/fake_openai.py --host 203.0.113.5 --port 8443 >/dev/null 2>&1 &
      fake=$!
      %s spec/support/proxy.py --host 127.0.0.1 --port 3128 --log %s >/dev/null 2>&1 &
      proxy=$!
      %s
      nginx=$!
      for i in 1 2 3 4 5 6 7 8 9 10; do
        lua5.4 -e "local s = require(\"socket\") os.exit(s.connect(\"203.0.113.5\", 8443)
          and s.connect(\"127.0.0.1\", 3128) and (\"%s\" == \"\" or s.connect(\"203.0.113.5\", 8444))
          and 0 or 1)" && break
        sleep 0.2
      done
      %s LD_PRELOAD="%s" LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="%s/?.so;;" %s %s
      kill $fake $proxy $nginx 2>/dev/null
      wait' 2>&1; echo "rc=$?"]], py, py, log, nginx, conf and "tls" or "", env or "",
      os.getenv("LD_PRELOAD") or "", build, os.getenv("CHATGPT_LUA") or "lua5.4", f)
    cmd = "env -u LD_PRELOAD -u http_proxy -u https_proxy -u HTTPS_PROXY -u ALL_PROXY -u all_proxy "
          .. "-u no_proxy -u NO_PROXY " .. cmd
    local p = io.popen(cmd)
    local out = p:read("*a")
    p:close()
    os.remove(f)
    local seen = read(log)
    os.remove(log)
    return out, seen
  end

  case("forwards a plain-http request through the proxy option", function()
    local out, seen = in_namespace([[
      local chatgpt = require "chatgpt"
      local c = chatgpt.new { base_url = "http://203.0.113.5:8443/v1", auth = "none",
                              proxy = "http://127.0.0.1:3128" }
      print("answer", (c:chat("hi")))
    ]])
    assert.truthy(out:find("answer\t" .. T.HELLO, 1, true), out)
    assert.truthy(seen:find("POST http://203.0.113.5:8443/v1/chat/completions HTTP/1.1", 1, true), seen)
  end)

  case("goes direct to a host in no_proxy, and with proxy = \"\" whatever the environment says", function()
    local out, seen = in_namespace([[
      local chatgpt = require "chatgpt"
      local c = chatgpt.new { base_url = "http://203.0.113.5:8443/v1", auth = "none",
                              proxy = "http://127.0.0.1:3128", no_proxy = "example.com,203.0.113.5" }
      print("direct", (c:chat("hi")))
      local d = chatgpt.new { base_url = "http://203.0.113.5:8443/v1", auth = "none", proxy = "" }
      print("direct", (d:chat("hi")))
    ]], nil, "http_proxy=http://127.0.0.1:3128")
    local _, n = out:gsub("direct\t" .. T.HELLO, "")
    assert.equal(2, n, out)
    assert.equal("", seen)
  end)

  case("uses http_proxy from the environment, as libcurl does", function()
    local out, seen = in_namespace([[
      local chatgpt = require "chatgpt"
      local c = chatgpt.new { base_url = "http://203.0.113.5:8443/v1", auth = "none" }
      print("answer", (c:chat("hi")))
    ]], nil, "http_proxy=http://127.0.0.1:3128")
    assert.truthy(out:find("answer\t" .. T.HELLO, 1, true), out)
    assert.truthy(seen:find("POST http://203.0.113.5:8443/v1/chat/completions HTTP/1.1", 1, true), seen)
  end)

  case("tunnels https through CONNECT: the proxy never reads the key", function()
    local dir, why = pki.make()
    if not dir then return pending(why) end
    local conf = pki.conf { listen = "203.0.113.5:8444", daemon = false }
    local out, seen = in_namespace([[
      local chatgpt = require "chatgpt"
      local c = chatgpt.new { base_url = "https://203.0.113.5:8444/v1", api_key = "]] .. T.KEY .. [[",
                              ca_file = "]] .. dir .. [[/ca.pem", proxy = "http://127.0.0.1:3128" }
      local text, err = c:chat("hi")
      print("answer", text, err)
    ]], conf)
    assert.truthy(out:find("answer\tover tls", 1, true), out)
    assert.truthy(seen:find("CONNECT 203.0.113.5:8444 HTTP/1.1", 1, true), seen)
    assert.falsy(seen:find(T.MARKER, 1, true), seen)
  end)

  case("carries the key of a plain-http remote origin only with allow_insecure", function()
    local out = in_namespace([[
      local chatgpt = require "chatgpt"
      local ok, err = pcall(chatgpt.new, { base_url = "http://203.0.113.5:8443/v1",
        api_key = "]] .. T.KEY .. [[", proxy = "http://127.0.0.1:3128" })
      print("refused", ok, err)
    ]])
    assert.truthy(out:find("refused\tfalse", 1, true), out)
    assert.truthy(out:find("allow_insecure", 1, true), out)
  end)
end)

describe("client certificates", function()
  local dir, why = pki.make()
  local case = dir and it or pending
  local port

  setup(function()
    if not dir then return end
    port = free_port()
    assert(pki.nginx { listen = "127.0.0.1:" .. port, verify_client = true })
  end)
  teardown(function() pki.cleanup() end)

  case("cert_file and key_file answer a server that asks for one (mutual TLS)", function()
    local base = "https://localhost:" .. port .. "/v1"
    local c = T.new { base_url = base, ca_file = dir .. "/ca.pem", cert_file = dir .. "/client.pem",
                      key_file = dir .. "/client.key" }
    local text, response, info = c:chat("hi")
    assert.equal("over tls", text, tostring(response))
    assert.truthy(info.headers["x-client-subject"]:find("lua-chatgpt-client", 1, true))
    -- without: the server refuses
    local bare = T.new { base_url = base, ca_file = dir .. "/ca.pem" }
    local t2, err = bare:chat("hi")
    assert.is_nil(t2)
    assert.equal("http", err.kind)
    assert.equal(400, err.status)
    assert.truthy(err.message:find("certificate", 1, true), err.message)
  end)

  case("a missing certificate file is a network error naming it", function()
    local c = T.new { base_url = "https://localhost:" .. port .. "/v1", ca_file = dir .. "/ca.pem",
                      cert_file = dir .. "/none.pem", key_file = dir .. "/client.key", max_retries = 0 }
    local text, err = c:chat("hi")
    assert.is_nil(text)
    assert.equal("network", err.kind)
    assert.truthy(tostring(err):find("certificate", 1, true), tostring(err))
  end)

  describe("an encrypted key (key_passphrase)", function()
    local PASS = "p4ss MARKERk3y ph\xc3\xa9rase"           -- spaces and UTF-8 are fine
    local keys = {}                                       -- form -> path
    setup(function()
      if not dir then return end
      local function sh(cmd) assert(os.execute(cmd .. " >/dev/null 2>&1")) end
      keys.pkcs8 = dir .. "/client-pkcs8.key"
      sh(("openssl pkey -in %s/client.key -aes256 -passout 'pass:%s' -out %s"):format(dir, PASS, keys.pkcs8))
      keys.traditional = dir .. "/client-trad.key"
      sh(("openssl rsa -in %s/client.key -aes128 -traditional -passout 'pass:%s' -out %s")
         :format(dir, PASS, keys.traditional))
      keys.des3 = dir .. "/client-des3.key"
      sh(("openssl pkey -in %s/client.key -des3 -passout 'pass:%s' -out %s"):format(dir, PASS, keys.des3))
    end)

    local function client(form, opts)
      opts = opts or {}
      opts.base_url = "https://localhost:" .. port .. "/v1"
      opts.ca_file = dir .. "/ca.pem"
      opts.max_retries = 0
      -- a certificate file of its own: libcurl reuses a connection made
      -- with the same certificate, whatever the key's passphrase
      local cert = ("%s/client-%s-%d.pem"):format(dir, form, math.random(1e9))
      assert(os.execute(("cp %s/client.pem %s"):format(dir, cert)))
      opts.cert_file, opts.key_file = cert, keys[form]
      return T.new(opts)
    end

    for _, form in ipairs { "pkcs8", "traditional", "des3" } do
      case(form .. ": with key_passphrase, the server gets the certificate", function()
        local text, response, info = client(form, { key_passphrase = PASS }):chat("hi")
        assert.equal("over tls", text, tostring(response))
        assert.truthy(info.headers["x-client-subject"]:find("lua-chatgpt-client", 1, true))
      end)

      case(form .. ": without one, a clean error at once, never a prompt (no terminal)", function()
        local code = ([[
          local T = require "spec.support.client"
          local c = T.new { base_url = %q, ca_file = %q, cert_file = %q, key_file = %q, max_retries = 0 }
          local t, err = c:chat("hi")
          print("RESULT", t, err.kind, err.code, err.message)
        ]]):format("https://localhost:" .. port .. "/v1", dir .. "/ca.pem", dir .. "/client.pem", keys[form])
        local out = T.run("", "io.stdin:close() " .. code)      -- no terminal, stdin closed
        assert.truthy(out:find("RESULT\tnil\tnetwork\tSSL_CERTPROBLEM\t", 1, true), out)
        assert.truthy(out:find("an encrypted key_file needs key_passphrase", 1, true), out)
        assert.falsy(out:lower():find("pass phrase", 1, true), out)
      end)

      case(form .. ": a wrong passphrase is the same clean error, which never shows it", function()
        local wrong = "wrong MARKERk3y"
        local lines = {}
        local c = client(form, { key_passphrase = wrong, log_level = "debug",
                                 log = function(ev) lines[#lines + 1] = ev end })
        local t, err = c:chat("hi")
        assert.is_nil(t)
        assert.equal("SSL_CERTPROBLEM", err.code)
        assert.truthy(err.message:find("is key_passphrase the key's?", 1, true), err.message)
        assert.falsy(T.leaks(err))
        assert.falsy(T.leaks(lines))
        assert.falsy(T.leaks(c))
        assert.falsy(tostring(c):find("MARKER", 1, true))
      end)
    end

    case("with a terminal, OpenSSL never asks: the call returns at once", function()
      local script = os.tmpname()
      local f = assert(io.open(script, "w"))
      f:write(([[
        local T = require "spec.support.client"
        local c = T.new { base_url = %q, ca_file = %q, cert_file = %q, key_file = %q, max_retries = 0,
                          timeout = 30 }
        local req = c:chat_async("hi")
        local t, err = req:wait(20)
        print("RESULT", t, err and err.code)
      ]]):format("https://localhost:" .. port .. "/v1", dir .. "/ca.pem", dir .. "/client.pem", keys.pkcs8))
      f:close()
      local cmd = ("timeout 25 script -qec 'env LUA_PATH=\"lua/?.lua;lua/?/init.lua;./?.lua;;\" "
        .. "LUA_CPATH=\"%s/?.so;;\" %s %s' /dev/null </dev/null 2>&1")
        :format(os.getenv("CHATGPT_BUILD") or "build", os.getenv("CHATGPT_LUA") or "lua5.4", script)
      local t0 = socket.gettime()
      local p = io.popen(cmd)
      local out = p:read("*a")
      p:close()
      os.remove(script)
      assert.truthy(out:find("RESULT\tnil\tSSL_CERTPROBLEM", 1, true), out)
      assert.falsy(out:lower():find("pass phrase", 1, true), out)
      assert.is_true(socket.gettime() - t0 < 20)
    end)
  end)

  if not dir then pending(why) end
end)

describe("key_passphrase", function()
  it("raises on anything but 1 to 1023 bytes without NUL, and never echoes it", function()
    for _, bad in ipairs { "", "a\0MARKERk3y", string.rep("MARKERk3y", 114), 42, true } do
      local ok, err = pcall(T.new, { key_passphrase = bad })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("bad argument #1 to 'new' (option 'key_passphrase': ", 1, true),
                    tostring(err))
      assert.falsy(tostring(err):find("MARKER", 1, true))
    end
    local c = T.new { key_passphrase = string.rep("x", 1014) .. "MARKERk3y" }
    assert.falsy(T.leaks(c))
    assert.equal(T.HELLO, (c:chat("hi")))       -- no certificate: it is not used
  end)
end)

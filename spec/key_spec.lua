-- The key rules of DESIGN.md: kept in C, shown only as a hint, sent only in
-- a header, never over plain http to another host, never in an error.
local chatgpt = require "chatgpt"
local core = require "chatgpt.core"
local fake = require "spec.support.fake"
local T = require "spec.support.client"

local function tmpfile(content, mode)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(content)
  f:close()
  os.execute("chmod " .. mode .. " " .. path)
  return path
end

-- Runs a snippet in a fresh interpreter (T.run) killed after 5 s, so that a
-- regression that blocks fails its spec instead of hanging the suite. T.run's
-- command is "env <env> LUA_PATH=... lua file": ending <env> with
-- "timeout -s KILL 5 env" puts the interpreter under timeout.
local function run5(env, code)
  return T.run((env or "") .. " timeout -s KILL 5 env", code)
end

describe("the API key", function()
  before_each(function() T.drain(); fake.reset() end)
  after_each(function() chatgpt.set_key(nil) end)

  it("shows only a hint: client:key_hint()", function()
    assert.equal("sk-proj-...WXYZ", T.new():key_hint())
  end)

  it("shows no hint of a short key", function()
    assert.equal("...", T.new { api_key = "short-key" }:key_hint())
  end)

  it("is not in tostring(client)", function()
    local s = tostring(T.new())
    assert.falsy(s:find(T.MARKER, 1, true))
    assert.truthy(s:find("sk-proj-...WXYZ", 1, true))
  end)

  it("is nowhere in the client table (a debug dump finds nothing)", function()
    assert.is_false(T.leaks(T.new()))
  end)

  it("hides the metatable of the origin that holds the key", function()
    local c = T.new()
    assert.equal("not yours", getmetatable(c._origin))
    assert.falsy(tostring(c._origin):find(T.MARKER, 1, true))
  end)

  it("is sent only in the Authorization header", function()
    T.new { query = { x = "1" } }:chat("a", { user = "someone" })
    local rec = fake.last()
    assert.falsy(rec.path:find(T.MARKER, 1, true))
    assert.falsy(rec.query:find(T.MARKER, 1, true))
    assert.falsy(rec.body:find(T.MARKER, 1, true))
    local found = {}
    for _, h in ipairs(rec.headers) do
      if h[2]:find(T.MARKER, 1, true) then found[#found + 1] = h[1]:lower() end
    end
    assert.same({ "authorization" }, found)
  end)

  it("is not in an error, even when the server echoes it back", function()
    fake.script { status = 401, json = { error = {
      message = "Incorrect API key provided: " .. T.KEY .. ".", type = "invalid_request_error",
      code = "invalid_api_key" } } }
    local text, err = T.new():chat("a")
    assert.is_nil(text)
    assert.equal("api", err.kind)
    assert.equal(401, err.status)
    assert.falsy(tostring(err):find(T.MARKER, 1, true))
    assert.is_false(T.leaks(err))
    assert.truthy(err.message:find("sk-proj-...WXYZ", 1, true))
  end)

  it("is in no field of an error when echoed in code, type, param or x-request-id", function()
    fake.script { status = 400, headers = { { "x-request-id", "req_" .. T.KEY } },
      json = { error = { message = "m", type = T.KEY, code = "c" .. T.KEY, param = T.KEY .. "p" } } }
    local _, err = T.new { max_retries = 0 }:chat("a")
    assert.equal("api", err.kind)
    assert.is_false(T.leaks(err))
    assert.falsy(tostring(err):find(T.MARKER, 1, true))
    assert.equal("req_sk-proj-...WXYZ", err.request_id)
  end)

  it("is not cut into view by the excerpt of an HTML error page", function()
    -- the key straddles the 200-byte cut of the page's excerpt
    local page = "<html><body><p>" .. string.rep("x", 170) .. " " .. T.KEY .. "</p></body></html>"
    fake.script { status = 502, headers = { { "Content-Type", "text/html" } }, body = page }
    local _, err = T.new { max_retries = 0 }:chat("a")
    assert.equal("http", err.kind)
    assert.falsy(err.message:find("sk-proj-MARK", 1, true), err.message)
    assert.is_false(T.leaks(err))
  end)

  it("is not in an error event of a stream", function()
    fake.script { sse = { { error = { message = "bad " .. T.KEY, code = T.KEY } } } }
    local _, err = T.new { max_retries = 0 }:chat("a", { stream = true })
    assert.equal("api", err.kind)
    assert.is_false(T.leaks(err))
  end)

  it("is not in info.request_id or info.headers of a success", function()
    fake.script { default_headers = true, headers = { { "x-request-id", T.KEY }, { "x-echo", T.KEY } } }
    local text, _, info = T.new():chat("a")
    assert.truthy(text)
    assert.equal("sk-proj-...WXYZ", info.request_id)
    assert.is_false(T.leaks(info.headers))
  end)

  it("is not in a network error", function()
    local c = T.new { base_url = "http://127.0.0.1:1/v1", max_retries = 0 }
    local _, err = c:chat("a")
    assert.equal("network", err.kind)
    assert.is_false(T.leaks(err))
  end)

  it("is not in info or the response", function()
    local _, response, info = T.new():chat("a")
    assert.is_false(T.leaks(response))
    assert.is_false(T.leaks(info))
  end)

  it("two clients with different keys each send their own", function()
    local a = T.new { api_key = "sk-aaaaaaaaaaaaaaaa1111" }
    local b = T.new { api_key = "sk-bbbbbbbbbbbbbbbb2222" }
    a:chat("x"); b:chat("y"); a:chat("z")
    local recs = fake.requests()
    assert.equal("Bearer sk-aaaaaaaaaaaaaaaa1111", recs[1].header.authorization)
    assert.equal("Bearer sk-bbbbbbbbbbbbbbbb2222", recs[2].header.authorization)
    assert.equal("Bearer sk-aaaaaaaaaaaaaaaa1111", recs[3].header.authorization)
  end)

  it("chatgpt.set_key gives new clients a default key", function()
    chatgpt.set_key("sk-default-key-000000009999")
    assert.is_true(chatgpt.has_key())
    local c = T.new { api_key = false }
    assert.equal("sk-default-...9999", c:key_hint())
    c:chat("a")
    assert.equal("Bearer sk-default-key-000000009999", fake.last().header.authorization)
  end)

  it("api_key_env names a variable whose key goes to this client's server, whatever it is", function()
    local out = run5("SOME_KEY=sk-from-named-env-0123", string.format([[
      local chatgpt = require "chatgpt"
      local c = chatgpt.new { api_key_env = "SOME_KEY", base_url = %q }
      print(c:key_hint(), (c:chat("a")))
      print(pcall(chatgpt.new, { api_key_env = "NO_SUCH_KEY_VAR" }))
    ]], "http://localhost:" .. fake.port() .. "/v1"))
    assert.equal("Bearer sk-from-named-env-0123", fake.last().header.authorization)
    assert.truthy(out:find("sk-from-...0123", 1, true), out)
    assert.truthy(out:find("bad argument #1 to 'new' (option 'api_key_env': $NO_SUCH_KEY_VAR is not set)",
                           1, true), out)
  end)

  it("an explicit api_key wins over set_key", function()
    chatgpt.set_key("sk-default-key-000000009999")
    T.new():chat("a")
    assert.equal("Bearer " .. T.KEY, fake.last().header.authorization)
  end)

  it("set_key raises on a key with a newline or space (no header injection)", function()
    assert.has_error(function() chatgpt.set_key("sk-abc\r\nX-Evil: 1") end)
    assert.has_error(function() chatgpt.set_key("sk abc") end)
    assert.has_error(function() chatgpt.set_key("") end)
    assert.has_error(function() chatgpt.set_key(42) end)
  end)

  it("set_key raises at the caller's line, in set_key's name", function()
    local ok, err = pcall(function() chatgpt.set_key("sk abc") end)
    assert.is_false(ok)
    assert.truthy(err:find("^[^:]*key_spec.lua:%d+: bad argument #1 to 'set_key' %(an API key is"), err)
  end)

  it("core.key returns nil and why for a bad key, and raises nothing", function()
    for _, bad in ipairs { "sk abc", "sk-abc\r\nX-Evil: 1", "", ("x"):rep(4097) } do
      local ok, k, why = pcall(core.key, bad)
      assert.is_true(ok, tostring(k))
      assert.is_nil(k)
      assert.equal("an API key is 1 to 4096 printable characters without spaces", why)
    end
    local ok, k, why = pcall(core.key, 42)
    assert.is_true(ok, tostring(k))
    assert.is_nil(k)
    assert.equal("string expected, got number", why)
    assert.equal("chatgpt.key (sk-...wxyz)", tostring(core.key("sk-0000000000000wxyz")))
  end)

  it("api_key with a control character raises in new()", function()
    local ok, err = pcall(T.new, { api_key = "sk-abc\ndef" })
    assert.is_false(ok)
    assert.falsy(err:find("sk-abc", 1, true))
  end)

  it("is read from OPENAI_API_KEY when the client is made", function()
    local out = T.run("OPENAI_API_KEY=sk-from-env-0000000000abcd", [[
      local chatgpt = require "chatgpt"
      print(chatgpt.has_key(), chatgpt.new():key_hint())]])
    assert.equal("true\tsk-from-...abcd\n", out)
  end)

  it("has_key() is false with no key anywhere", function()
    local out = T.run("-u OPENAI_API_KEY", [[print(require("chatgpt").has_key())]])
    assert.equal("false\n", out)
  end)

  it("new() raises without any key for api.openai.com", function()
    local out = T.run("-u OPENAI_API_KEY -u OPENAI_BASE_URL", [[
      print(pcall(require("chatgpt").new, {}))]])
    assert.truthy(out:find("false", 1, true))
    assert.truthy(out:find("no API key", 1, true))
  end)

  it("a local server needs no key", function()
    local out = T.run("-u OPENAI_API_KEY OPENAI_BASE_URL=" .. fake.base_url(), [[
      local c = require("chatgpt").new()
      print(c:key_hint(), (c:chat("hi")))]])
    assert.equal("nil\t" .. T.HELLO .. "\n", out)
    assert.is_nil(fake.last().header.authorization)
  end)

  it("is refused over plain http to a non-loopback host, naming allow_insecure", function()
    local ok, err = pcall(chatgpt.new, { base_url = "http://api.example.com/v1", api_key = T.KEY })
    assert.is_false(ok)
    assert.truthy(err:find("allow_insecure", 1, true))
    assert.falsy(err:find(T.MARKER, 1, true))
  end)

  it("is allowed over plain http with allow_insecure = true", function()
    assert.has_no_error(function()
      chatgpt.new { base_url = "http://10.1.2.3:8000/v1", api_key = T.KEY, allow_insecure = true }
    end)
  end)

  it("is allowed over plain http to loopback hosts", function()
    for _, host in ipairs { "localhost", "127.0.0.1", "127.1.2.3", "[::1]" } do
      assert.has_no_error(function()
        chatgpt.new { base_url = "http://" .. host .. ":11434/v1", api_key = T.KEY }
      end)
    end
  end)

  it("is allowed over https to any host", function()
    assert.has_no_error(function()
      chatgpt.new { base_url = "https://my-resource.openai.azure.com/openai", api_key = T.KEY }
    end)
  end)

  it("plain http without a key is allowed anywhere (auth = none)", function()
    assert.has_no_error(function()
      chatgpt.new { base_url = "http://gpu-box:8000/v1", auth = "none" }
    end)
  end)

  it("a redirect is not followed: the 3xx comes back as an error", function()
    fake.script { status = 307, headers = { { "Location", "http://127.0.0.1:1/steal" } }, body = "" }
    local text, err = T.new { max_retries = 0 }:chat("a")
    assert.is_nil(text)
    assert.equal("http", err.kind)
    assert.equal(307, err.status)
    assert.equal(1, #fake.requests())
  end)
end)

describe("the key hint", function()
  -- The hint of key k as key_hint(), tostring(client) and a redacted echo
  -- show it; all three must agree.
  local function hints(k)
    local c = T.new { api_key = k }
    local shown = tostring(c):match("key (.-)%)$")
    local redacted = c._origin:redact("echo: " .. k .. "."):match("^echo: (.*)%.$")
    return c:key_hint(), shown, redacted
  end

  local function shows(expected, k)
    local h, s, r = hints(k)
    assert.equal(expected, h)
    assert.equal(expected, s)
    assert.equal(expected, r)
  end

  it("of a UUID-style key shows its last four characters only", function()
    shows("...4000", "123e4567-e89b-12d3-a456-426614174000")
  end)

  it("of a key not starting with sk- shows no prefix", function()
    shows("...wxyz", "gsk_0123456789abcdefghijwxyz")
    shows("...wxyz", "abcd-0123456789abcdefghijwxyz")
  end)

  it("shows the public sk- prefix with one lowercase segment", function()
    shows("sk-proj-...wxyz", "sk-proj-0123456789abcdefghijwxyz")
    shows("sk-svcacct-...wxyz", "sk-svcacct-0123456789abcdefghijwxyz")
    shows("sk-admin-...wxyz", "sk-admin-0123456789abcdefghijwxyz")
    shows("sk-...wxyz", "sk-0123456789abcdefghijwxyz")
  end)

  it("shows no more than sk- when what follows is not a short lowercase segment", function()
    shows("sk-...wxyz", "sk-Proj-0123456789abcdefghijwxyz")
    shows("sk-...wxyz", "sk-pr0j-0123456789abcdefghijwxyz")
    shows("sk-...wxyz", "sk-abcdefghijk-0123456789abcdefghijwxyz")   -- 11 letters
    shows("sk-...wxyz", "sk-0123-proj-456789abcdefghijwxyz")
  end)

  it("keeps at least 8 characters of a short key hidden", function()
    shows("...wxyz", "sk-proj-wxyz")
    shows("...wxyz", "sk-proj-01wxyz")
    shows("sk-...wxyz", "sk-proj-0123wxyz")
    shows("sk-...wxyz", "sk-proj-01234wxyz")
    shows("sk-proj-...wxyz", "sk-proj-01234567wxyz")
  end)

  it("of a key shorter than 12 characters shows nothing of it", function()
    shows("...", "sk-abcdwxyz")
  end)
end)

describe("api_key_file", function()
  before_each(function() T.drain(); fake.reset() end)

  it("reads the key from the first line, trimmed", function()
    local path = tmpfile("  sk-file-key-00000000abcd  \nsecond line\n", "600")
    local c = T.new { api_key_file = path }
    assert.equal("sk-file-...abcd", c:key_hint())
    c:chat("a")
    assert.equal("Bearer sk-file-key-00000000abcd", fake.last().header.authorization)
    os.remove(path)
  end)

  it("refuses a file that group or others can read, like ssh", function()
    local path = tmpfile("sk-file-key-00000000abcd\n", "644")
    local ok, err = pcall(T.new, { api_key_file = path })
    assert.is_false(ok)
    assert.truthy(err:find("readable by group or others", 1, true))
    assert.truthy(err:find("chmod 600", 1, true))
    assert.falsy(err:find("sk-file-key", 1, true))
    os.remove(path)
  end)

  it("gives a clear error for a missing file", function()
    local ok, err = pcall(T.new, { api_key_file = "/nonexistent/key" })
    assert.is_false(ok)
    assert.truthy(err:find("cannot open /nonexistent/key", 1, true))
  end)

  it("gives a clear error for an empty file", function()
    local path = tmpfile("\n", "600")
    local ok, err = pcall(T.new, { api_key_file = path })
    assert.is_false(ok)
    assert.truthy(err:find("no key", 1, true))
    os.remove(path)
  end)

  it("refuses a FIFO at once, without waiting for a writer", function()
    local path = os.tmpname()
    os.remove(path)
    local made = os.execute("mkfifo -m 600 " .. path)
    assert.is_true(made == true or made == 0)   -- 5.1 returns the status
    local out = run5("", string.format([[
      local core = require "chatgpt.core"
      local t0 = core.now()
      local k, err = core.key_file(%q)
      print(k, err, core.now() - t0 < 1)]], path))
    os.remove(path)
    assert.equal("nil\tapi_key_file: " .. path .. " is not a regular file\ttrue\n", out)
  end)

  it("refuses a directory", function()
    local k, err = core.key_file("/tmp")
    assert.is_nil(k)
    assert.equal("api_key_file: /tmp is not a regular file", err)
  end)

  it("expands a leading ~/ from $HOME", function()
    local path = tmpfile("sk-home-key-0000000000abcd\n", "600")
    local dir, name = path:match("^(.*)/([^/]+)$")
    local out = run5("HOME=" .. dir, string.format([[
      print(require("chatgpt.core").key_file(%q):hint())]], "~/" .. name))
    os.remove(path)
    assert.equal("sk-home-...abcd\n", out)
  end)

  it("says HOME is not set when ~/ cannot be expanded", function()
    local code = [[print(require("chatgpt.core").key_file("~/key"))]]
    assert.equal("nil\tapi_key_file: cannot expand ~/key: HOME is not set\n", run5("-u HOME", code))
    assert.equal("nil\tapi_key_file: cannot expand ~/key: HOME is not set\n", run5("HOME=", code))
  end)

  it("raises on a path with a NUL (C would read a shorter one)", function()
    assert.has_error(function() core.key_file("/tmp\0/key") end)
  end)

  it("expands only a leading ~/", function()
    local k, err = core.key_file("~nobody/key")
    assert.is_nil(k)
    assert.equal("api_key_file: cannot open ~nobody/key: No such file or directory", err)
  end)
end)

describe("api_key_cmd", function()
  before_each(function() T.drain(); fake.reset() end)

  it("runs the command once (no shell) and takes its first line", function()
    local path = tmpfile("sk-cmd-key-000000000wxyz\nignored\n", "600")
    local c = T.new { api_key_cmd = { "cat", path } }
    assert.equal("sk-cmd-...wxyz", c:key_hint())
    c:chat("a")
    assert.equal("Bearer sk-cmd-key-000000000wxyz", fake.last().header.authorization)
    os.remove(path)
  end)

  it("does not use a shell: metacharacters are plain arguments", function()
    local ok, err = pcall(T.new, { api_key_cmd = { "echo sk-x; touch /tmp/pwned" } })
    assert.is_false(ok)
    assert.truthy(err:find("cannot run", 1, true))
  end)

  it("reports a failing command by its exit status, without its output", function()
    local ok, err = pcall(T.new, { api_key_cmd = { "sh", "-c", "echo sk-secret-output-1234; exit 3" } })
    assert.is_false(ok)
    assert.truthy(err:find("exit status 3", 1, true))
    assert.falsy(err:find("secret", 1, true))
  end)

  it("kills a command that does not finish within the timeout", function()
    local out = run5("", [[
      local core = require "chatgpt.core"
      local t0 = core.now()
      local k, err = core.key_cmd({ "sh", "-c", "echo sk-never-0000000000wxyz; exec sleep 1000" }, 0.5)
      print(k, err, core.now() - t0 < 2)]])
    assert.equal("nil\tapi_key_cmd: sh did not finish within 0.5 s\ttrue\n", out)
  end)

  it("gives a command KEY_CMD_TIMEOUT seconds by default", function()
    local k = core.key_cmd { "sh", "-c", "sleep 1; echo sk-slow-00000000000wxyz" }
    assert.equal("sk-slow-...wxyz", k:hint())
  end)

  it("raises on a timeout that is not a number > 0 and <= 3600", function()
    for _, t in ipairs { 0, -1, 0 / 0, math.huge, -math.huge, 3601, 1e300, "x", true } do
      local ok, err = pcall(core.key_cmd, { "true" }, t)
      assert.is_false(ok, tostring(t))
      assert.truthy(err:find("bad argument #2", 1, true), tostring(t))
    end
    assert.has_no_error(function() core.key_cmd({ "echo", "sk-0000000000000wxyz" }, 3600) end)
    assert.has_no_error(function() core.key_cmd({ "echo", "sk-0000000000000wxyz" }, nil) end)
  end)

  it("returns the key promptly when the command leaves a background child holding stdout", function()
    local pidfile = os.tmpname()
    local out = run5("", string.format([[
      local core = require "chatgpt.core"
      local t0 = core.now()
      local k, err = core.key_cmd { "sh", "-c",
        'echo sk-bg-00000000000000wxyz; sleep 100 2>/dev/null & echo $! > "$1"', "sh", %q }
      print(k and k:hint(), err, core.now() - t0 < 2)]], pidfile))
    local pid = tonumber(assert(T.read(pidfile)))
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    os.remove(pidfile)
    assert.equal("sk-bg-...wxyz\tnil\ttrue\n", out)
  end)

  it("takes the first line even when 100 KB more follows", function()
    local k, err = core.key_cmd { "sh", "-c",
      "echo sk-long-0000000000000wxyz; head -c 102400 /dev/zero | tr '\\0' x; echo" }
    assert.is_nil(err)
    assert.equal("sk-long-...wxyz", k:hint())
  end)

  it("runs the command with only stdin, stdout and stderr open", function()
    T.new():chat("a")                       -- libcurl keeps this connection
    local held = assert(io.open(os.tmpname(), "w"))
    local server = assert(require("socket").bind("127.0.0.1", 0))
    local fdfile = os.tmpname()
    local k, err = core.key_cmd { "sh", "-c",
      '(ls /proc/$$/fd > "$1"); echo sk-fds-00000000000wxyz', "sh", fdfile }
    local fds = assert(T.read(fdfile))
    held:close()
    server:close()
    os.remove(fdfile)
    assert.equal("0\n1\n2\n", fds)
    assert.is_nil(err)
    assert.equal("sk-fds-...wxyz", k:hint())
  end)

  it("runs the command with stdin from /dev/null", function()
    local k = core.key_cmd { "sh", "-c", "cat; echo sk-stdin-000000000wxyz" }
    assert.equal("sk-stdin-...wxyz", k:hint())
  end)

  it("says so when the first line is longer than 4096 characters", function()
    local k, err = core.key_cmd { "sh", "-c", "head -c 5000 /dev/zero | tr '\\0' x; echo" }
    assert.is_nil(k)
    assert.equal("api_key_cmd: the key's line is longer than 4096 characters", err)
  end)

  it("raises on a malformed argv", function()
    assert.has_error(function() T.new { api_key_cmd = {} } end)
    assert.has_error(function() T.new { api_key_cmd = { "cat", 42 } } end)
    assert.has_error(function() T.new { api_key_cmd = { "echo\0x" } } end)
    assert.has_error(function() core.key_cmd("echo") end)
  end)
end)

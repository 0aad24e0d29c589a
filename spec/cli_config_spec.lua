-- The files the `chatgpt` command reads and writes, and where its keys may
-- go: the config file checked as ssh checks its own, errors that name the
-- file and line, profiles, the ambient-key rule for every source, and
-- state files only their owner can read.
local fake = require "spec.support.fake"
local T = require "spec.support.client"
local cli = require "spec.support.cli"
local lines, mode, write = cli.lines, cli.mode, cli.write

-- without make check's sanitizer runtime: chown leaks, and LSan says so
local function sh(cmd) assert(T.ok("env -u LD_PRELOAD " .. cmd), cmd) end

-- another origin on the same fake server: an ambient key may not go there
local function elsewhere() return "http://localhost:" .. fake.port() .. "/v1" end

local NO_ENV_KEY = { OPENAI_API_KEY = false }

before_each(function() fake.reset() end)

describe("chatgpt's config file", function()
  local function config_home(text, name)
    local home = cli.home()
    local path = home .. "/config/lua-chatgpt/" .. (name or "config.lua")
    write(path, text)
    sh("chmod 600 " .. cli.quote(path))
    return home, path
  end

  it("is refused, unrun, when others can write it or its folder, with how to fix it", function()
    for _, case in ipairs {
      { "chmod 666 FILE", "FILE can be written by others", "chmod go-w FILE" },
      { "chmod 777 DIR", "DIR can be written by others", "chmod go-w DIR" },
      { "chmod 620 FILE", "FILE can be written by others", "chmod go-w FILE" },
    } do
      local home, path = config_home("os.execute('touch ' .. os.getenv('HOME') .. '/ran')\nmodel = 'gpt-4o'\n")
      local dir = home .. "/config/lua-chatgpt"
      local function fill(s) return (s:gsub("FILE", path):gsub("DIR", dir)) end
      sh(fill(case[1]))
      local out, err, status = cli.run({ "hi" }, { home = home })
      assert.equal(2, status, err)
      assert.equal("", out)
      assert.equal(1, #lines(err), err)
      assert.truthy(err:find(fill(case[2]), 1, true), err)
      assert.truthy(err:find(fill(case[3]), 1, true), err)
      assert.is_nil(io.open(home .. "/ran"), "the file ran")
    end
    assert.is_nil(fake.last())
  end)

  local as_root = T.ok("test $(id -u) = 0") and it or pending
  as_root("is refused when another user owns it, or it links to another user's file", function()
    local home, path = config_home("os.execute('touch ' .. os.getenv('HOME') .. '/ran')\n")
    sh("chown nobody " .. cli.quote(path))
    local _, err, status = cli.run({ "hi" }, { home = home })
    assert.equal(2, status, err)
    assert.truthy(err:find(path .. " belongs to another user", 1, true), err)
    assert.truthy(err:find("chown it to you, or remove it", 1, true), err)
    -- a link to it from a folder of one's own
    local home2 = cli.home()
    sh("ln -s " .. cli.quote(path) .. " " .. cli.quote(home2 .. "/config/lua-chatgpt/config.lua"))
    _, err, status = cli.run({ "hi" }, { home = home2 })
    assert.equal(2, status, err)
    assert.truthy(err:find("belongs to another user", 1, true), err)
    assert.is_nil(io.open(home .. "/ran"))
    assert.is_nil(io.open(home2 .. "/ran"))
  end)

  it("names the file and the line of a bad setting, with what was meant", function()
    for _, case in ipairs {
      { "config.lua", "model = 'gpt-4o'\n\nmodle = 'x'\n",
        "config.lua:3: unknown setting 'modle' (did you mean 'model'?)" },
      { "config.lua", "return {\n  timeout = -1,\n}\n", "config.lua:2: timeout: a number > 0, got -1" },
      { "config.lua", "model = 'x'\nthis is not Lua\n", "config.lua:2:" },
      { "config.lua", "system = 42\n", "config.lua:1: system must be a string" },
      { "config.json", '{\n  "model": "gpt-4o",\n  "colour": "blue"\n}', "config.json:3: unknown setting 'colour'" },
      { "config.json", '{"api_key": "sk-in-config-0123456789"}',
        "config.json:1: api_key is not read from a config file" },
      { "config.lua", "profiles = { work = { base_urll = 'x' } }\n",
        "config.lua:1: unknown setting 'base_urll' (did you mean 'base_url'?)" },
    } do
      local home, path = config_home(case[2], case[1])
      local out, err, status = cli.run({ "hi" }, { home = home })
      assert.equal(2, status, err)
      assert.equal("", out)
      assert.equal(1, #lines(err), err)
      local want = "chatgpt: " .. path:gsub("[^/]*$", "") .. case[3]
      assert.equal(want, err:sub(1, #want), err)
      assert.falsy(err:find("sk-in-config", 1, true), err)
      assert.falsy(err:find("bad argument", 1, true), err)
    end
    assert.is_nil(fake.last())
  end)

  it("names the file and line of a setting chatgpt.new refuses", function()
    local home, path = config_home('model = "gpt-4o"\nauth = "magic"\n')
    local _, err, status = cli.run({ "hi" }, { home = home })
    assert.equal(2, status, err)
    assert.truthy(err:find("^chatgpt: " .. path:gsub("%p", "%%%0") .. ":2: auth"), err)
    assert.falsy(err:find("bad argument", 1, true), err)
  end)
end)

describe("chatgpt's keys", function()
  it("sends no ambient key to another server: $OPENAI_API_KEY_FILE, $CHATGPT_API_KEY_CMD, the config file", function()
    local home = cli.home()
    local keyfile = home .. "/key"
    write(keyfile, "sk-from-file-0123456789\n")
    sh("chmod 600 " .. cli.quote(keyfile))
    local cfg = home .. "/config/lua-chatgpt/config.lua"
    for _, env in ipairs {
      { OPENAI_API_KEY = false, OPENAI_API_KEY_FILE = keyfile },
      { OPENAI_API_KEY = false, CHATGPT_API_KEY_CMD = "echo sk-from-cmd-0123456789" },
      { OPENAI_API_KEY = false, CONFIG = 'api_key_cmd = { "echo", "sk-config-cmd-0123456789" }' },
      { OPENAI_API_KEY = false, CONFIG = 'api_key_env = "MY_KEY"', MY_KEY = "sk-config-env-0123456789" },
    } do
      write(cfg, env.CONFIG or "")
      sh("chmod 600 " .. cli.quote(cfg))
      env.CONFIG = false
      -- to $OPENAI_BASE_URL it goes
      local _, err, status = cli.run({ "hi" }, { home = home, env = env })
      assert.equal(0, status, err)
      assert.truthy(fake.last().header["authorization"], "the key goes to $OPENAI_BASE_URL")
      -- elsewhere it does not
      _, err, status = cli.run({ "--base-url", elsewhere(), "hi" }, { home = home, env = env })
      assert.equal(0, status, err)
      assert.is_nil(fake.last().header["authorization"])
    end
  end)

  it("says which key was withheld, and how to give one, when the other server asks for a key", function()
    fake.config { require_key = T.KEY }
    local out, err, status = cli.run { "--base-url", elsewhere(), "hi" }
    assert.equal(3, status)
    assert.equal("", out)
    assert.equal(1, #lines(err), err)
    assert.truthy(err:find("^chatgpt: 401"), err)
    assert.truthy(err:find("$OPENAI_API_KEY was not sent to " .. elsewhere(), 1, true), err)
    assert.truthy(err:find("--key-file FILE, --key-env NAME", 1, true), err)
    assert.falsy(err:find(T.KEY, 1, true), err)
  end)

  it("sends a key named on purpose anywhere: --key-file, --key-env", function()
    local home = cli.home()
    local keyfile = home .. "/key"
    write(keyfile, "sk-named-file-0123456789\n")
    sh("chmod 600 " .. cli.quote(keyfile))
    local _, err, status = cli.run({ "--base-url", elsewhere(), "--key-file", keyfile, "hi" }, { home = home })
    assert.equal(0, status, err)
    assert.equal("Bearer sk-named-file-0123456789", fake.last().header["authorization"])
    _, err, status = cli.run({ "--base-url", elsewhere(), "--key-env", "OTHER_KEY", "hi" },
                             { home = home, env = { OTHER_KEY = "sk-named-env-0123456789" } })
    assert.equal(0, status, err)
    assert.equal("Bearer sk-named-env-0123456789", fake.last().header["authorization"])
    local out
    out, err, status = cli.run({ "--key-env", "UNSET_KEY_VAR", "hi" }, { home = home })
    assert.equal(2, status)
    assert.equal("", out)
    assert.equal("chatgpt: --key-env: $UNSET_KEY_VAR is not set\n", err)
  end)

  it("sends a profile's key to the profile's server, and nowhere else", function()
    local home = cli.home()
    local cfg = home .. "/config/lua-chatgpt/config.lua"
    write(cfg, ([[
model = "gpt-4o"
profiles = {
  other = { base_url = %q, api_key_cmd = { "echo", "sk-profile-0123456789" }, model = "gpt-3.5-turbo" },
}
]]):format(elsewhere()))
    sh("chmod 600 " .. cli.quote(cfg))
    local _, err, status = cli.run({ "--profile", "other", "hi" }, { home = home, env = NO_ENV_KEY })
    assert.equal(0, status, err)
    local req = fake.last()
    assert.equal("Bearer sk-profile-0123456789", req.header["authorization"])
    assert.equal("gpt-3.5-turbo", req.json.model)
    -- the profile's key does not follow a --base-url elsewhere
    _, err, status = cli.run({ "--profile", "other", "--base-url", fake.base_url(), "hi" },
                             { home = home, env = NO_ENV_KEY })
    assert.equal(0, status, err)
    assert.is_nil(fake.last().header["authorization"])
    -- without the profile, the file's settings
    _, err, status = cli.run({ "hi" }, { home = home })
    assert.equal(0, status, err)
    assert.equal("gpt-4o", fake.last().json.model)
    local out
    out, err, status = cli.run({ "--profile", "othr", "hi" }, { home = home })
    assert.equal(2, status)
    assert.equal("", out)
    assert.truthy(err:find("--profile othr: " .. cfg .. " has no such profile (did you mean other?)", 1, true), err)
  end)

  it("takes api_key_cmd_ttl with api_key_cmd, and lets it be when another key is chosen", function()
    local home = cli.home()
    local cfg = home .. "/config/lua-chatgpt/config.lua"
    write(cfg, 'api_key_cmd = { "echo", "sk-cmd-0123456789" }\napi_key_cmd_ttl = 3600\n')
    sh("chmod 600 " .. cli.quote(cfg))
    local _, err, status = cli.run({ "hi" }, { home = home, env = NO_ENV_KEY })
    assert.equal(0, status, err)
    assert.equal("Bearer sk-cmd-0123456789", fake.last().header["authorization"])
    _, err, status = cli.run({ "--base-url", elsewhere(), "--key-env", "OTHER_KEY", "hi" },
                             { home = home, env = { OTHER_KEY = "sk-named-env-0123456789" } })
    assert.equal(0, status, err)
    assert.equal("Bearer sk-named-env-0123456789", fake.last().header["authorization"])
  end)

  it("names where a refused key came from", function()
    local home = cli.home()
    local keyfile = home .. "/key"
    write(keyfile, "sk-from-file-0123456789\n")
    sh("chmod 644 " .. cli.quote(keyfile))
    local _, err, status = cli.run({ "hi" }, { home = home,
                                               env = { OPENAI_API_KEY = false, OPENAI_API_KEY_FILE = keyfile } })
    assert.equal(2, status)
    assert.equal("chatgpt: $OPENAI_API_KEY_FILE: " .. keyfile .. " is readable by group or others; chmod 600 it\n", err)
  end)
end)

describe("chatgpt's state files", function()
  it("writes last.json, /save's file and the history 0600, whatever the umask", function()
    local home = cli.home()
    local saved = home .. "/saved.json"
    local _, err, status = cli.run({ "-i" }, { home = home, stdin = "hello\n/save " .. saved .. "\n",
                                               wrap = "umask 000;" })
    assert.equal(0, status, err)
    assert.equal("600", mode(saved))
    assert.equal("600", mode(home .. "/state/lua-chatgpt/last.json"))
    assert.equal("700", mode(home .. "/state/lua-chatgpt"))
  end)

  it("keeps nothing in the current folder with neither HOME nor XDG_STATE_HOME", function()
    local out, err, status = cli.run({ "hi" }, { env = { HOME = false, XDG_STATE_HOME = false,
                                                         XDG_CONFIG_HOME = false } })
    assert.equal(0, status, err)
    assert.equal(T.HELLO .. "\n", out)
    assert.equal("", err)
    assert.is_nil(io.open("lua-chatgpt/last.json"))
    assert.is_nil(io.open(".local/state/lua-chatgpt/last.json"))
    local _
    _, err, status = cli.run({ "-c", "more" }, { env = { HOME = false, XDG_STATE_HOME = false } })
    assert.equal(1, status)
    assert.truthy(err:find("neither XDG_STATE_HOME nor HOME is set", 1, true), err)
  end)
end)

describe("chatgpt's standard input", function()
  it("says, in its own words, that input which is not UTF-8 cannot be sent", function()
    for _, bad in ipairs { "caf\233\n", "ok\255\254", "\192\128" } do
      local out, err, status = cli.run({ "-s", "Review" }, { stdin = bad })
      assert.equal(2, status, err)
      assert.equal("", out)
      assert.equal(1, #lines(err), err)
      assert.truthy(err:find("^chatgpt: standard input is not UTF%-8 text %(byte %d+ is not%); "
                             .. "send a file with %-a %- instead"), err)
      assert.falsy(err:find("bad argument", 1, true), err)
    end
    assert.is_nil(fake.last())
  end)
end)

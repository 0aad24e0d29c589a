-- The install: the scm rockspec lists every file and is the only one in
-- the tree, the release rockspec `make rockspec` writes is the scm one with
-- the version of src/defaults.h, `make dist` holds what a user needs, and
-- `make install PREFIX=` gives a command that works with no LUA_PATH or
-- LUA_CPATH.
local core = require "chatgpt.core"
local fake = require "spec.support.fake"
local T = require "spec.support.client"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function rockspec(path)
  local env = {}
  local chunk
  if setfenv then                       -- 5.1 and LuaJIT: load takes no string
    chunk = assert(loadstring(read(path), "@" .. path))
    setfenv(chunk, env)
  else
    chunk = assert(load(read(path), "@" .. path, "t", env))
  end
  chunk()
  return env
end

local function ls(pattern)
  local p = io.popen("ls " .. pattern)
  local t = {}
  for line in p:lines() do t[#t + 1] = line end
  p:close()
  return t
end

-- a shell command's output and whether it succeeded; make and the
-- command run without the sanitizer runtime that make check preloads, and
-- without the settings of a make that runs the suite (make valgrind
-- LUA=luajit passes LUA on, in MAKEFLAGS and as an environment variable):
-- the install is the default one, 5.4's
local function sh(cmd)
  local out, ok = T.capture("env -u LD_PRELOAD -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u LUA sh -c '"
                            .. cmd:gsub("'", "'\\''") .. "'")
  return out, ok
end

describe("the rockspecs", function()
  it("build every C file and map every Lua module, and install bin/chatgpt", function()
    local spec = rockspec("lua-chatgpt-scm-1.rockspec")
    local modules = spec.build.modules
    local sources = {}
    for _, s in ipairs(modules["chatgpt.core"].sources) do sources[s] = true end
    for _, c in ipairs(ls("src/*.c")) do assert.is_true(sources[c], c .. " is not in the rockspec") end
    local mapped = {}
    for name, file in pairs(modules) do
      if type(file) == "string" then mapped[file] = name end
    end
    for _, lua in ipairs(ls("lua/chatgpt/*.lua")) do
      local name = lua:match("^lua/(.*)%.lua$"):gsub("/", "."):gsub("%.init$", "")
      assert.equal(name, mapped[lua], lua .. " is not mapped to its module name")
    end
    assert.equal("bin/chatgpt", spec.build.install.bin.chatgpt)
    -- the vocabularies go beside tokenizer.lua, in chatgpt/vocab/
    for _, bpe in ipairs(ls("lua/chatgpt/vocab/*.bpe")) do
      local name = "chatgpt.vocab." .. bpe:match("([^/]+)%.bpe$")
      assert.equal(bpe, spec.build.install.lua[name], bpe .. " is not installed by the rockspec")
    end
  end)

  it("are one in the tree, the scm one: what luarocks make finds (it looks in rockspec/ and rockspecs/ too)",
    function()
      assert.same({ "lua-chatgpt-scm-1.rockspec" },
                  ls("*.rockspec rockspec/*.rockspec rockspecs/*.rockspec 2>/dev/null"))
      -- and a build of it says scm, not the release's version
      local defines = rockspec("lua-chatgpt-scm-1.rockspec").build.modules["chatgpt.core"].defines
      assert.same({ "_GNU_SOURCE", 'CHATGPT_VERSION="scm"' }, defines)
    end)

  it("make rockspec writes the release one: the scm one with the version of src/defaults.h", function()
    local dir = os.tmpname()
    os.remove(dir)
    local out, ok = sh("make -s rockspec DIST=" .. dir)
    assert.is_true(ok, out)
    local scm = rockspec("lua-chatgpt-scm-1.rockspec")
    local spec = rockspec(dir .. "/lua-chatgpt-" .. core._VERSION .. "-1.rockspec")
    sh("rm -rf " .. dir)
    assert.equal(core._VERSION .. "-1", spec.version)
    assert.truthy(spec.source.url:find("/lua-chatgpt-" .. core._VERSION .. ".tar.gz", 1, true))
    assert.equal("lua-chatgpt-" .. core._VERSION, spec.source.dir)
    assert.same({ "_GNU_SOURCE" }, spec.build.modules["chatgpt.core"].defines)
    spec.build.modules["chatgpt.core"].defines = scm.build.modules["chatgpt.core"].defines
    assert.same(scm.build, spec.build)
    assert.same(scm.dependencies, spec.dependencies)
  end)
end)

describe("make dist", function()
  it("makes a tarball and a source rock of what a user needs, no test captures, each under 500 KB "
     .. "besides the tokenizer's vocabularies", function()
    local dir = os.tmpname()
    os.remove(dir)
    local out, ok = sh("make -s dist DIST=" .. dir)
    assert.is_true(ok, out)
    local name = "lua-chatgpt-" .. core._VERSION
    -- the vocabularies, compressed as the archives compress them (~1.5 MB)
    local vocab = tonumber((sh("cat lua/chatgpt/vocab/*.bpe | gzip -6 | wc -c")))
    assert.is_true(vocab > 1000 * 1000 and vocab < 2000 * 1000, tostring(vocab))
    for _, f in ipairs { name .. ".tar.gz", name .. "-1.src.rock" } do
      local size = #read(dir .. "/" .. f)
      assert.is_true(size < vocab + 500 * 1024, f .. ": " .. size .. " bytes")
    end
    local list = sh("tar -tzf " .. dir .. "/" .. name .. ".tar.gz")
    local rock = sh("cd " .. dir .. " && " .. (os.getenv("PYTHON") or "python3") .. " -m zipfile -l "
                    .. name .. "-1.src.rock")
    sh("rm -rf " .. dir)
    local held = {}
    for path in list:gmatch("[^\n]+") do
      assert.equal(name .. "/", path:sub(1, #name + 1))
      held[path:sub(#name + 2)] = true
    end
    -- what builds, installs, runs the quick starts and make demo
    local want = { "Makefile", "README.md", "bin/chatgpt", "doc/api.md", "examples/chat.lua",
                   "spec/support/fake_openai.py", "spec/support/fakeapi/model.py", name .. "-1.rockspec" }
    for _, c in ipairs(ls("src/*.c src/*.h lua/chatgpt/*.lua lua/chatgpt/vocab/*.bpe")) do
      want[#want + 1] = c
    end
    for _, f in ipairs(want) do assert.is_true(held[f], f .. " is not in the tarball") end
    for path in pairs(held) do
      assert.falsy(path:match("^spec/fixtures/") or path:match("_spec%.lua$") or path:match("^bench/")
                   or path:match("^%.") or path == "lua-chatgpt-scm-1.rockspec", path)
    end
    assert.truthy(rock:find(name .. "-1.rockspec", 1, true), rock)
    assert.truthy(rock:find(name .. ".tar.gz", 1, true), rock)
  end)
end)

describe("make install PREFIX=...", function()
  local prefix

  setup(function()
    prefix = os.tmpname()
    os.remove(prefix)
  end)
  teardown(function() sh("rm -rf " .. prefix) end)

  it("installs a chatgpt command that finds its module by itself", function()
    local out, ok = sh("make -s install PREFIX=" .. prefix)
    assert.is_true(ok, out)
    -- what it tells for require "chatgpt" from there
    assert.truthy(out:find("export LUA_PATH=", 1, true), out)
    assert.equal("#!/", read(prefix .. "/bin/chatgpt"):sub(1, 3))
    local answer
    answer, ok = sh("cd / && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 "
                    .. "OPENAI_BASE_URL=" .. fake.base_url() .. " OPENAI_API_KEY=" .. T.KEY
                    .. " XDG_STATE_HOME=" .. prefix .. "/state "
                    .. prefix .. "/bin/chatgpt Hello </dev/null")
    assert.is_true(ok, answer)
    assert.equal(T.HELLO .. "\n", answer)
    -- and the paths it printed are the ones require needs
    local lpath = out:match('export LUA_PATH="([^"]*)"')
    local cpath = out:match('export LUA_CPATH="([^"]*)"')
    local got = sh("cd / && LUA_PATH='" .. lpath .. "' LUA_CPATH='" .. cpath .. "' lua5.4 -e "
                   .. "'print(require(\"chatgpt\")._VERSION, package.searchpath(\"chatgpt.core\", package.cpath))'")
    assert.equal("lua-chatgpt " .. core._VERSION .. "\t" .. prefix .. "/lib/lua/5.4/chatgpt/core.so\n", got)
    -- with the tokenizer's vocabularies, found beside the installed tokenizer.lua
    got = sh("cd / && env -u CHATGPT_VOCAB_DIR LUA_PATH='" .. lpath .. "' LUA_CPATH='" .. cpath .. "' lua5.4 -e "
             .. "'print(require(\"chatgpt\").count_tokens(\"Hello\", \"gpt-4o\"), "
             .. "require(\"chatgpt.tokenizer\").vocab_dir())'")
    assert.equal("8\t" .. prefix .. "/share/lua/5.4/chatgpt/vocab\n", got)
  end)
end)

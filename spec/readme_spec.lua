-- README.md and the manual (doc/*.md) as a test: every ```lua block runs
-- as written, each in a fresh lua5.4 of its own, in an empty folder, with
-- OPENAI_BASE_URL pointing at the fake server (and OPENAI_API_KEY set), so
-- the docs and the code cannot drift apart. An HTML comment right before a
-- block may say
--   <!-- readme: skip (why) -->            not run (it needs a host: LÖVE)
--   <!-- readme: env NAME=value ... -->    more environment for it
--   <!-- readme: fake-config {json} -->    fake.config for it (reset after)
local fake = require "spec.support.fake"
local T = require "spec.support.client"
local LUA = os.getenv("CHATGPT_LUA") or "lua5.4"    -- the suite's own interpreter
local cjson = require("cjson").new()

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- The blocks: { code, line, skip, env, config }
local function blocks(text)
  local list, n, note = {}, 0, nil
  local inside, code, first
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if inside then
      if line:match("^```%s*$") then
        list[#list + 1] = { code = table.concat(code, "\n") .. "\n", line = first, note = note }
        inside, note = false, nil
      else
        code[#code + 1] = line
      end
    elseif line:match("^```lua%s*$") then
      inside, code, first = true, {}, n
    elseif line:match("^<!%-%- readme: .* %-%->$") then
      note = line:match("^<!%-%- readme: (.*) %-%->$")
    elseif line:match("%S") then
      note = nil                       -- a note holds for the block right after it
    end
  end
  for _, b in ipairs(list) do
    local say = b.note or ""
    b.skip = say:match("^skip")
    b.env = say:match("^env (.*)$")
    local config = say:match("^fake%-config (.*)$")
    b.config = config and cjson.decode(config)
  end
  return list
end

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- README.md, then doc/*.md in order
local FILES = { "README.md" }
do
  local p = io.popen("ls doc/*.md 2>/dev/null")
  for name in p:lines() do FILES[#FILES + 1] = name end
  p:close()
end

local BLOCKS = {}
for _, file in ipairs(FILES) do
  for _, b in ipairs(blocks(read(file))) do
    b.file = file
    BLOCKS[#BLOCKS + 1] = b
  end
end

describe("README.md and doc/*.md", function()
  it("have Lua blocks, and few of them skipped", function()
    local skipped = 0
    for _, b in ipairs(BLOCKS) do
      if b.skip then skipped = skipped + 1 end
    end
    assert.is_true(#BLOCKS >= 10, #BLOCKS .. " blocks")
    assert.is_true(skipped <= 4, skipped .. " blocks skipped")
  end)

  it("name the version of src/defaults.h wherever they name one", function()
    local version = require("chatgpt.core")._VERSION
    local n = 0
    for _, file in ipairs(FILES) do
      for v in read(file):gmatch("lua%-chatgpt%-(%d+%.%d+%.%d+)") do
        assert.equal(version, v, file)
        n = n + 1
      end
    end
    assert.is_true(n > 0)
  end)

  it("link only to files and headings that exist", function()
    -- GitHub's anchor for a heading: lower case, punctuation dropped,
    -- spaces as hyphens
    local function anchors(file)
      local set, inside = {}, false
      for line in read(file):gmatch("[^\n]*") do
        if line:match("^```") then inside = not inside end
        local h = not inside and line:match("^#+%s+(.-)%s*$")
        if h then set[(h:lower():gsub("[^%w%s%-_\128-\255]", ""):gsub("%s", "-"))] = true end
      end
      return set
    end
    local bad = {}
    for _, file in ipairs(FILES) do
      local dir = file:match("^(.*)/") or "."
      local inside = false
      for line in read(file):gmatch("[^\n]*") do
        if line:match("^```") then inside = not inside end
        for target in (inside and "" or line):gmatch("%]%(([^)%s]+)%)") do
          if not target:match("^%a[%w+.-]*:") then        -- not http:, https:, mailto:
            local path, anchor = target:match("^([^#]*)#?(.*)$")
            local to = path == "" and file or (dir .. "/" .. path):gsub("^%./", "")
            local f = io.open(to)
            if f then f:close() end
            if not f then
              bad[#bad + 1] = file .. ": " .. target .. " (no file " .. to .. ")"
            elseif anchor ~= "" and not (to:match("%.md$") and anchors(to)[anchor]) then
              bad[#bad + 1] = file .. ": " .. target .. " (no heading #" .. anchor .. " in " .. to .. ")"
            end
          end
        end
      end
    end
    assert.same({}, bad)
  end)

  for _, b in ipairs(BLOCKS) do
    local case = b.skip and pending or it
    case("runs the block at " .. b.file .. ":" .. b.line .. " as written", function()
      fake.reset()
      if b.config then fake.config(b.config) end
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p " .. quote(dir)))
      local f = assert(io.open(dir .. "/block.lua", "w"))
      f:write(b.code)
      f:close()
      local here = os.getenv("PWD") or "."
      local build = os.getenv("CHATGPT_BUILD") or "build"
      if build:sub(1, 1) ~= "/" then build = here .. "/" .. build end
      local cmd = table.concat({
        "cd " .. quote(dir) .. " &&",
        "env -u LD_PRELOAD -u CHATGPT_LOG -u http_proxy -u https_proxy -u HTTPS_PROXY -u ALL_PROXY",
        "OPENAI_BASE_URL=" .. quote(fake.base_url()), "OPENAI_API_KEY=" .. quote(T.KEY),
        b.env or "",
        "LUA_PATH=" .. quote(here .. "/lua/?.lua;" .. here .. "/lua/?/init.lua;;"),
        "LUA_CPATH=" .. quote(build .. "/?.so;;"),
        "LD_PRELOAD=" .. quote(os.getenv("LD_PRELOAD") or ""),
        "timeout 60 " .. LUA .. " block.lua </dev/null 2>&1",
      }, " ")
      local out, ok, code = T.capture(cmd)
      os.execute("rm -rf " .. quote(dir))
      fake.reset()
      assert.is_true(ok, b.file .. ":" .. b.line .. " exited " .. tostring(code) .. ":\n" .. out)
      assert.falsy(out:find(LUA .. ": ", 1, true), out)
    end)
  end
end)

-- The examples find the module by their own path (examples/server.lua), as
-- installed or else the checkout's lua/ and build/, and start the bundled
-- fake server when OPENAI_API_KEY is not set.
describe("the examples", function()
  local here = os.getenv("PWD") or "."
  local built = io.open(here .. "/build/chatgpt/core.so")
  if built then built:close() end
  local case = built and it or pending
  for _, name in ipairs { "chat", "game_loop", "tools" } do
    case("run from any folder: examples/" .. name .. ".lua", function()
      local cmd = table.concat({
        "cd / && env -u LD_PRELOAD -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4",
        "-u OPENAI_API_KEY -u OPENAI_BASE_URL -u CHATGPT_LOG",
        "timeout 60 " .. LUA .. " " .. quote(here .. "/examples/" .. name .. ".lua") .. " </dev/null 2>&1",
      }, " ")
      local out, ok = T.capture(cmd)
      assert.is_true(ok, out)
      assert.truthy(out:find("bundled local server", 1, true), out)
    end)
  end
end)

-- README's quick starts each say one command that runs them without a key:
-- `python3 spec/support/fake_openai.py --run COMMAND`, the bundled server
-- started for COMMAND. Those that need neither a terminal nor a display run
-- here, from the checkout, with the module as the checkout built it.
describe("README's commands without a key", function()
  local here = os.getenv("PWD") or "."
  local built = io.open(here .. "/build/chatgpt/core.so")
  if built then built:close() end
  local case = built and it or pending
  local readme = read("README.md")
  local commands = {}
  for command in readme:gmatch("\n    python3 spec/support/fake_openai%.py %-%-run ([^\n#]-)%s*#") do
    commands[#commands + 1] = command
  end
  -- from the checkout, with a home of its own (no config file, no history)
  local function run(command, stdin)
    local home = os.tmpname()
    os.remove(home)
    local out, ok = T.capture(table.concat({
      "mkdir -p " .. quote(home) .. " && cd " .. quote(here) .. " && printf %s " .. quote(stdin or "") .. " |",
      "env -u LD_PRELOAD -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u OPENAI_API_KEY -u OPENAI_BASE_URL -u CHATGPT_LOG",
      "-u XDG_CONFIG_HOME -u XDG_STATE_HOME HOME=" .. quote(home),
      "LUA_PATH=" .. quote(here .. "/lua/?.lua;" .. here .. "/lua/?/init.lua;;"),
      "LUA_CPATH=" .. quote(here .. "/build/?.so;;"),
      "timeout 60 " .. (os.getenv("PYTHON") or "python3") .. " spec/support/fake_openai.py --run " .. command,
    }, " "))
    os.execute("rm -rf " .. quote(home))
    return out, ok
  end

  it("are there for the script, the command, Neovim and LÖVE", function()
    assert.same({ "lua5.4 hello.lua", "bin/chatgpt -i", "nvim --cmd 'set rtp^=.'", "love examples/love" }, commands)
  end)

  case("run the script of the quick start: lua5.4 hello.lua", function()
    local script
    for _, b in ipairs(BLOCKS) do
      if b.file == "README.md" and b.code:match("^%-%- hello%.lua\n") then script = b.code end
    end
    local path = T.tmpfile(assert(script, "no hello.lua block"), ".lua")
    local out, ok = run("lua5.4 " .. quote(path))
    os.remove(path)
    assert.is_true(ok, out)
    assert.truthy(out:find("the bundled local server at http://127.0.0.1:", 1, true), out)
    assert.truthy(out:find(T.HELLO, 1, true), out)
    assert.truthy(out:find('Tool said: {"', 1, true), out)
  end)

  case("run the command: bin/chatgpt -i, with a prompt on its input", function()
    local out, ok = run("bin/chatgpt -i", "Say hello\n")
    assert.is_true(ok, out)
    assert.truthy(out:find(T.HELLO, 1, true), out)
  end)
end)

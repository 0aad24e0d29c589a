-- The engine allocates nothing per chunk beyond the decoded chunk itself:
-- counted with a lua_setallocf allocator (spec/support/alloc_count.c).
local fake = require "spec.support.fake"

local SCRIPT = [[
local base, n = ...
local chatgpt = require "chatgpt"
local c = chatgpt.new { base_url = base, auth = "none" }
c:chat("warm up", { on_delta = function() end })
collectgarbage(); collectgarbage("stop")
local a0 = allocs()
local text = c:chat("x", { on_delta = function() end })
local a1 = allocs()
assert(#text == tonumber(n), "got " .. #text)
return tostring(a1 - a0)
]]

local function allocations(n)
  fake.reset()
  fake.script { sse_repeat = { data = '{"id":"c","object":"chat.completion.chunk","created":1,'
    .. '"model":"m","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}', count = n },
                body_contains = '"content":"x"' }
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(SCRIPT)
  f:close()
  local build = os.getenv("CHATGPT_BUILD") or "build"
  local hosts = os.getenv("CHATGPT_HOSTS") or "build"   -- the C hosts of this Lua version
  local p = io.popen(("%s/alloc_count %s 'lua/?.lua;lua/?/init.lua' '%s/?.so' %s %d 2>&1")
                     :format(hosts, path, build, fake.base_url(), n))
  local out = p:read("*a")
  p:close()
  os.remove(path)
  return assert(tonumber(out), out)
end

describe("allocations while streaming", function()
  it("stay constant per chunk as the stream grows (1,000 vs 8,000 chunks)", function()
    local small, large = allocations(1000), allocations(8000)
    local per_small, per_large = small / 1000, large / 8000
    if os.getenv("VERBOSE") then print(per_small, per_large) end
    assert.truthy(per_large <= per_small * 1.1 + 0.5,
                  ("%.2f allocations a chunk at 1,000 chunks, %.2f at 8,000"):format(per_small, per_large))
    -- a decoded chunk is a handful of tables; nothing else may add up
    assert.truthy(per_large < 40, ("%.2f allocations a chunk"):format(per_large))
  end)
end)

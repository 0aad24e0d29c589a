-- Two lua_States in one process, each on its own thread with its own
-- engine and requests in flight (spec/support/two_states.c).
local fake = require "spec.support.fake"

describe("two Lua states in one process", function()
  before_each(fake.reset)

  it("each has its own engine, gets its own answers, and closes with requests in flight", function()
    local build = os.getenv("CHATGPT_BUILD") or "build"
    local host = (os.getenv("CHATGPT_HOSTS") or "build") .. "/two_states"   -- this Lua version's
    local f = io.open(host)
    assert.truthy(f, host .. " missing: run make ctest")
    f:close()
    local p = io.popen(("%s %s 'lua/?.lua;lua/?/init.lua' '%s/?.so' 2>&1; echo rc=$?")
                       :format(host, fake.base_url(), build))
    local out = p:read("*a")
    p:close()
    assert.truthy(out:find("A: 8 answers, 64 deltas", 1, true), out)
    assert.truthy(out:find("B: 8 answers, 64 deltas", 1, true), out)
    assert.truthy(out:find("rc=0", 1, true), out)
    assert.falsy(out:find("Sanitizer", 1, true), out)
    local seen = {}
    for _, r in ipairs(fake.requests()) do
      seen[r.json.messages[1].content] = true
    end
    for i = 1, 8 do
      assert.truthy(seen["A" .. i] and seen["B" .. i])
    end
  end)
end)

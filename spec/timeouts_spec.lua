-- The total timeout and how a timeout is named: `timeout` ends a request
-- even while its callbacks keep Lua busy, and CONNECT_TIMEOUT or
-- TOTAL_TIMEOUT says whether a connection (TLS included) was ever made.
local chatgpt = require "chatgpt"
local core = require "chatgpt.core"
local fake = require "spec.support.fake"
local T = require "spec.support.client"

-- valgrind (make valgrind) runs everything many times slower
local SLOW = os.getenv("CHATGPT_VALGRIND") and 10 or 1

local function timed(fn, ...)
  local t0 = core.now()
  local a, b, c = fn(...)
  return core.now() - t0, a, b, c
end

local function drain()
  local t0 = core.now()
  while chatgpt.poll(0.05) > 0 and core.now() - t0 < 10 do end
end

describe("the total timeout", function()
  before_each(function() drain(); fake.reset() end)

  it("a sub-millisecond timeout still ends the request (it is not 'no timeout')", function()
    fake.script { delay = 1 }
    local c = T.new { timeout = 0.0004, max_retries = 0 }
    local took, text, err = timed(c.chat, c, "x")
    assert.is_nil(text)
    assert.equal("timeout", err.kind)
    assert.truthy(took < 0.8 * SLOW, "took " .. took)
  end)

  it("a timeout of 1e300 s is no limit in practice, and the call works", function()
    local text = T.new { timeout = 1e300, idle_timeout = 0 }:chat("x")
    assert.is_string(text)
  end)
end)

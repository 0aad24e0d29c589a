-- busted helper (see .busted): one fake OpenAI server for the whole run.
--
-- The server is started here, before the first spec file, and stopped when
-- busted's last suite run ends. If busted dies instead, the server still
-- goes: it exits when its stdin (a pipe held by this process) reaches EOF.

local fake = require "spec.support.fake"

-- LuaJIT 2.1.0-beta3 (Debian's) now and then crashes in the machine code it
-- compiles for luassert's deep compare of large decoded responses
-- (responses_spec's assert.same: 9 runs of 148; none of 143 without that
-- assert, none of 158 with the JIT off): the comparison runs interpreted.
if jit then jit.off(require("luassert.util").deepcompare, true) end

fake.start()

local ok, busted = pcall(require, "busted")
if ok and type(busted) == "table" then
  local subscribe = busted.subscribe
  if subscribe then
    subscribe({ "suite", "end" }, function(_, run, runs)
      if run == nil or runs == nil or run >= runs then fake.stop() end
      return nil, true
    end)
  end
end

-- busted helper (see .busted): one fake OpenAI server for the whole run.
--
-- The server is started here, before the first spec file, and stopped when
-- busted's last suite run ends. If busted dies instead, the server still
-- goes: it exits when its stdin (a pipe held by this process) reaches EOF.

local fake = require "spec.support.fake"

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

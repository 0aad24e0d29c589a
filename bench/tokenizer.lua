-- One process of the tokenizer benchmark (bench/tokenizer.py runs it):
--   lua5.4 bench/tokenizer.lua ENCODING REPS FILE...
-- loads the tokenizer, then encodes each file REPS times and prints, per
-- file, its bytes, tokens and the median CPU seconds of one encode
-- (os.clock: this process's CPU, steadier than wall time on a loaded
-- machine); first, the vocabulary's memory (tok:memory()) and the growth
-- of the resident set while loading it.
local chatgpt = require "chatgpt"

local enc, reps = arg[1], tonumber(arg[2])

local function rss()
  local f = io.open("/proc/self/statm")
  local pages = f and tonumber(f:read("*l"):match("^%S+%s+(%d+)")) or 0
  if f then f:close() end
  return pages * 4096
end

local before = rss()
local tok = assert(chatgpt.tokenizer(enc))
tok:count("warm")
print(string.format("vocab=%s memory=%d rss=%d", enc, tok:memory(), rss() - before))

for i = 3, #arg do
  local f = assert(io.open(arg[i], "rb"))
  local text = f:read("*a")
  f:close()
  local n = #tok:encode(text)
  local times = {}
  for r = 1, reps do
    local t0 = os.clock()
    local ids = tok:encode(text)
    times[r] = os.clock() - t0
    assert(#ids == n)
  end
  table.sort(times)
  print(string.format("file=%s bytes=%d tokens=%d seconds=%.6f", arg[i]:match("[^/]+$"), #text, n,
                      times[math.floor((reps + 1) / 2)]))
end

-- Many streams at once in one Lua state (bench/scale.py runs it).
--
--   lua5.4 bench/scale.lua MODE BASE_URL N SSE_FILE WARM_URL [BATCH [FRAME_MS [GC]]]
--
-- MODE  chat   N streamed client:chat calls one after the other (blocking:
--              the engine waits in poll(2)): the single-stream figure
--       poll   N chat_async, driven like a game or an editor's timer does:
--              one chatgpt.poll(0) a frame, then sleep to the next frame
--       uv     N chat_async on luv's loop through chatgpt.uv
--              (chatgpt.attach); uv.run() until the engine is idle
-- BATCH: 0 (default) starts all N at once; else BATCH requests a frame.
-- FRAME_MS: 10 by default (poll's frame; uv's batches are this far apart);
-- poll with FRAME_MS 0 calls poll(0) in a busy loop. GC "nogc" stops Lua's
-- collector after the warm-up: the calls' own work, without the collector
-- steps that land inside them.
-- BASE_URL serves a paced stream (bench/fixtures.py: /p<MS>s<N>/v1), whose
-- body is SSE_FILE: every request's text must equal the content of its
-- chunks. A comma-separated list of base URLs (the jittered variants of
-- one stream) is used round robin, one client each. WARM_URL: one short
-- stream first, so that lazily loaded modules and first-call costs are not
-- counted.
--
-- Each poll(0) call (poll) or chatgpt.drive call (uv: chatgpt.drive wrapped
-- before chatgpt.uv attaches) is timed, wall (core.now) and CPU (os.clock):
-- a call the OS preempted shows a wall time far above its CPU time. So is
-- each batch of chat_async calls (async_*: the host is busy there too).
-- CPU per chunk = this process's CPU (os.clock) from the first request to
-- the last end, over N x chunks.
-- Prints one line: "ok key=value ..." or "fail <why>".

local chatgpt = require "chatgpt"
local core = require "chatgpt.core"

local now, clock, floor, log, exp = core.now, os.clock, math.floor, math.log, math.exp
local mode, base, n, sse_file, warm_url = arg[1], arg[2], tonumber(arg[3]), arg[4], arg[5]
local batch = tonumber(arg[6]) or 0
if batch <= 0 then batch = n end
local frame = (tonumber(arg[7]) or 10) / 1000
local nogc = arg[8] == "nogc"

local function fail(fmt, ...)
  io.write("fail ", string.format(fmt, ...), "\n")
  os.exit(1)
end

-- The pieces on_delta must see, in order, the text every request must
-- return, and the chunk count of the stream.
local pieces, chunks = {}, 0
do
  local f = assert(io.open(sse_file, "rb"))
  local body = f:read("*a")
  f:close()
  for data in body:gmatch("data: ([^\n]*)\n\n") do
    if data ~= "[DONE]" then
      chunks = chunks + 1
      local c = core.decode(data).choices[1].delta.content
      if type(c) == "string" and c ~= "" then pieces[#pieces + 1] = c end
    end
  end
end
local want = table.concat(pieces)

chatgpt.configure { max_host_connections = math.max(n, 16) }
local function client_for(url)
  return chatgpt.new { base_url = url, api_key = "sk-bench-000000000000000000000000",
                       max_retries = 0, idle_timeout = 30 }
end
local clients = {}
for url in base:gmatch("[^,]+") do clients[#clients + 1] = client_for(url) end
local messages = { chatgpt.user "Stream to the benchmark." }

do
  local text, err = client_for(warm_url):chat(messages, { on_delta = function() end })
  if not text then fail("warm-up: %s", tostring(err)) end
end
collectgarbage()
if nogc then collectgarbage("stop") end

-- Call timings, in two phases: the start (until every request has had its
-- first delta: connecting, sending, headers) and the steady streaming
-- after it. Per phase: calls, max wall, max CPU, calls over 5 ms (wall and
-- CPU); for the steady phase also a histogram of 1 %-wide buckets for the
-- p99 (a list of every timing would itself make the collector pause inside
-- the calls being timed).
local firsts = 0                  -- requests that have had a delta
local phase = {}
for p = 1, 2 do
  phase[p] = { calls = 0, max_us = 0, max_cpu_us = 0, over5 = 0, over5_cpu = 0 }
end
local hist = {}
local function record(us, cpu_us)
  local ph = phase[firsts < n and 1 or 2]
  ph.calls = ph.calls + 1
  if us > ph.max_us then ph.max_us = us end
  if cpu_us > ph.max_cpu_us then ph.max_cpu_us = cpu_us end
  if us > 5000 then ph.over5 = ph.over5 + 1 end
  if cpu_us > 5000 then ph.over5_cpu = ph.over5_cpu + 1 end
  if ph == phase[2] then
    local b = us <= 1 and 0 or floor(log(us) * 100) + 1
    hist[b] = (hist[b] or 0) + 1
  end
end
local function p99()
  local top, seen = 0, 0
  for b in pairs(hist) do if b > top then top = b end end
  for b = 0, top do
    seen = seen + (hist[b] or 0)
    if seen >= phase[2].calls * 0.99 then return b == 0 and 1 or exp(b / 100) end
  end
  return 0
end

-- Per request: how many deltas on_delta saw, and whether each was the
-- piece served there. A counter, not a list of the pieces: 1,000 growing
-- lists would be the bench's own load on the garbage collector.
local seen, bad = {}, {}
local function params_for(i)
  seen[i] = 0
  return { on_delta = function(s)
    local k = seen[i] + 1
    if k == 1 then firsts = firsts + 1 end
    seen[i] = k
    if s ~= pieces[k] then bad[i] = bad[i] or k end
  end }
end

-- start_more(): the next batch of chat_async calls; false once all started.
local reqs, started, t0, c0, async_us, async_cpu_us = {}, 0, nil, nil, 0, 0
local function start_more()
  if started >= n then return false end
  local a, ca = now(), clock()
  t0, c0 = t0 or a, c0 or ca
  for i = started + 1, math.min(n, started + batch) do
    reqs[i] = clients[(i - 1) % #clients + 1]:chat_async(messages, params_for(i))
    started = i
  end
  local us, cpu_us = (now() - a) * 1e6, (clock() - ca) * 1e6
  if us > async_us then async_us = us end
  if cpu_us > async_cpu_us then async_cpu_us = cpu_us end
  return true
end

local texts = {}
if mode == "chat" then
  t0, c0 = now(), clock()
  for i = 1, n do
    local text, err = clients[(i - 1) % #clients + 1]:chat(messages, params_for(i))
    if not text then fail("stream %d: %s", i, tostring(err)) end
    texts[i] = text
  end
elseif mode == "poll" then
  local ok, socket = pcall(require, "socket")
  local sleep
  if ok then
    sleep = socket.sleep
  else
    local uv = require "luv"
    sleep = function(s) uv.sleep(math.ceil(s * 1000)) end
  end
  local poll = chatgpt.poll
  local next_frame = now()
  while true do
    local more = start_more()
    local a, ca = now(), clock()
    local left = poll(0)
    record((now() - a) * 1e6, (clock() - ca) * 1e6)
    if left == 0 and not more then break end
    if now() - t0 > 60 then fail("not done after 60 s") end
    next_frame = next_frame + frame
    local d = next_frame - now()
    if d > 0 then sleep(d) else next_frame = now() end   -- late: no catching up
  end
elseif mode == "uv" then
  local uv = require "luv"
  local drive = chatgpt.drive
  chatgpt.drive = function(fd, what)      -- chatgpt.uv calls it through the module table
    local a, ca = now(), clock()
    drive(fd, what)
    record((now() - a) * 1e6, (clock() - ca) * 1e6)
  end
  require("chatgpt.uv").attach(uv)
  start_more()
  local starter = uv.new_timer()
  starter:start(math.floor(frame * 1000), math.floor(frame * 1000), function()
    if not start_more() then starter:stop() end
  end)
  if started >= n then starter:stop() end
  local guard = uv.new_timer()
  guard:start(60000, 0, function() fail("not done after 60 s") end)
  guard:unref()                           -- uv.run returns once the engine is idle
  uv.run()
  guard:close()
  starter:close()
  require("chatgpt.uv").detach()
  uv.run("nowait")
else
  fail("unknown mode %s", tostring(mode))
end
local cpu, wall = clock() - c0, now() - t0

local deltas, chars = 0, 0
for i = 1, n do
  local text, err = texts[i], nil
  if not text then text, err = reqs[i]:result() end
  if not text then fail("stream %d: %s", i, tostring(err)) end
  if text ~= want then fail("stream %d: text differs from the served one (%d vs %d chars)", i, #text, #want) end
  if bad[i] or seen[i] ~= #pieces then
    fail("stream %d: on_delta saw %d pieces, %d served%s", i, seen[i], #pieces,
      bad[i] and ", piece " .. bad[i] .. " differs" or "")
  end
  deltas, chars = deltas + seen[i], chars + #text
end

local s1, s2 = phase[1], phase[2]
print(string.format("ok requests=%d deltas=%d chars=%d chunks=%d cpu_s=%.4f wall_s=%.3f"
  .. " us_per_chunk=%.2f calls=%d p99_us=%.1f max_us=%.0f max_cpu_us=%.0f over_5ms=%d"
  .. " over_5ms_cpu=%d start_calls=%d start_max_us=%.0f start_max_cpu_us=%.0f"
  .. " start_over_5ms_cpu=%d async_us=%.0f async_cpu_us=%.0f",
  n, deltas, chars, n * chunks, cpu, wall, cpu / (n * chunks) * 1e6, s2.calls, p99(), s2.max_us,
  s2.max_cpu_us, s2.over5, s2.over5_cpu, s1.calls, s1.max_us, s1.max_cpu_us, s1.over5_cpu,
  async_us, async_cpu_us))

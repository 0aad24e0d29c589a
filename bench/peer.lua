-- The lua-chatgpt peer: the same work as raw_curl.c and peer.js, through the
-- public API (client:chat, on_delta, chat_async + chatgpt.poll).
--
--   lua5.4 bench/peer.lua MODE BASE_URL N [MAX_CONNECTIONS|default] [K]
--
-- MODE  one | seq    N chats, one after the other
--       stream       N streamed chats with on_delta
--       chunk        N streamed chats with on_chunk (each chunk's full table)
--       garbage      bytes the Lua heap grows by (collector stopped) for one
--                    streamed chat with on_delta, and for one plain chat of
--                    BASE_URL's plain answer (K: that base URL); N rounds
--                    after one to warm up, the smallest kept
--       conc         N chat_async at once, then poll until all are done
--       pollidle     N idle streams in flight (BASE_URL stalls after the
--                    headers), then K calls of chatgpt.poll(0), timed
--       drip         N streams (BASE_URL drips chunks); chatgpt.poll(0) in a
--                    busy loop until all are done, every call timed: wall
--                    (p99, max, calls over 2 ms) and CPU (os.clock: max), so
--                    that a call the OS preempted can be told from a slow one
-- Prints one result line: "ok key=value ..." or "fail <why>".

local chatgpt = require "chatgpt"
local now = require("chatgpt.core").now   -- CLOCK_MONOTONIC, for in-process timings

local mode, base, n = arg[1], arg[2], tonumber(arg[3])
local maxconn = arg[4] and arg[4] ~= "default" and tonumber(arg[4]) or nil
local K = tonumber(arg[5] or "20000")

if maxconn then chatgpt.configure { max_host_connections = maxconn } end
local client = chatgpt.new {
  base_url = base,
  api_key = "sk-bench-000000000000000000000000",
  max_retries = 0,
}
local messages = {
  chatgpt.system "You are a helpful assistant.",
  chatgpt.user "Say hello to the benchmark.",
}

local function fail(fmt, ...)
  io.write("fail ", string.format(fmt, ...), "\n")
  os.exit(1)
end

local function percentile(list, p)
  table.sort(list)
  local i = math.max(1, math.ceil(#list * p))
  return list[i]
end

if mode == "one" or mode == "seq" then
  local chars = 0
  for i = 1, n do
    local text, err = client:chat(messages)
    if not text then fail("request %d: %s", i, tostring(err)) end
    chars = chars + #text
  end
  print(string.format("ok requests=%d chars=%d", n, chars))

elseif mode == "stream" then
  local deltas, chars = 0, 0
  local function on_delta(s)
    deltas = deltas + 1
    chars = chars + #s
  end
  local params = { on_delta = on_delta }
  local joined = 0
  for i = 1, n do
    local text, err = client:chat(messages, params)
    if not text then fail("stream %d: %s", i, tostring(err)) end
    joined = joined + #text
  end
  if joined ~= chars then fail("on_delta saw %d characters, the responses hold %d", chars, joined) end
  print(string.format("ok requests=%d deltas=%d chars=%d", n, deltas, chars))

elseif mode == "chunk" then
  local chunks = 0
  local params = { on_chunk = function() chunks = chunks + 1 end }
  for i = 1, n do
    local text, err = client:chat(messages, params)
    if not text then fail("stream %d: %s", i, tostring(err)) end
  end
  print(string.format("ok requests=%d chunks=%d", n, chunks))

elseif mode == "garbage" then
  local plain = chatgpt.new { base_url = arg[5], api_key = "sk-bench-000000000000000000000000",
                              max_retries = 0 }
  local deltas = 0
  local params = { on_delta = function() deltas = deltas + 1 end }
  local function grown(c, p)
    collectgarbage()
    collectgarbage("stop")
    local k0 = collectgarbage("count")
    local text, err = c:chat(messages, p)
    local kib = collectgarbage("count") - k0
    collectgarbage("restart")
    if not text then fail("%s", tostring(err)) end
    return kib * 1024
  end
  local s_min, p_min = math.huge, math.huge
  for i = 0, n do
    deltas = 0
    local s, q = grown(client, params), grown(plain, nil)
    if i > 0 then s_min, p_min = math.min(s_min, s), math.min(p_min, q) end
  end
  print(string.format("ok deltas=%d stream_bytes=%.0f request_bytes=%.0f per_chunk=%.1f",
    deltas, s_min, p_min, (s_min - p_min) / deltas))

elseif mode == "conc" then
  local t0 = now()
  local reqs = {}
  for i = 1, n do reqs[i] = client:chat_async(messages) end
  while chatgpt.poll(1) > 0 do end
  local t1 = now()
  local chars = 0
  for i = 1, n do
    local text, err = reqs[i]:result()
    if not text then fail("request %d: %s", i, tostring(err)) end
    chars = chars + #text
  end
  print(string.format("ok requests=%d chars=%d inner_s=%.4f", n, chars, t1 - t0))

elseif mode == "pollidle" then
  -- How many of our streams the server really holds open: a stream that
  -- still waits for a connection inside curl is not "in flight".
  local function stalled()
    local ok, socket = pcall(require, "socket")
    if not ok then return -1 end
    local host, port = base:match("^http://([^:/]+):(%d+)")
    local c = socket.tcp()
    c:settimeout(2)
    if not c:connect(host, tonumber(port)) then return -1 end
    c:send("GET /stalled HTTP/1.0\r\nHost: x\r\n\r\n")
    local resp = c:receive("*a") or ""
    c:close()
    return tonumber(resp:match("\r\n\r\n(%d+)$")) or -1
  end
  local reqs = {}
  for i = 1, n do reqs[i] = client:chat_async(messages, { on_delta = function() end }) end
  -- let every stream connect and get its headers (the server then stalls)
  local settle = now() + (n > 0 and 0.5 or 0)
  while now() < settle do chatgpt.poll(0.01) end
  local connected = n > 0 and stalled() or 0
  local inflight = chatgpt.poll(0)
  local times, poll = {}, chatgpt.poll
  local t0 = now()
  for _ = 1, K do poll(0) end
  local total = now() - t0
  for i = 1, K do                          -- again, each call timed on its own
    local a = now()
    poll(0)
    times[i] = now() - a
  end
  local after = chatgpt.poll(0)
  for i = 1, n do reqs[i]:cancel() end
  if after ~= n or inflight ~= n then fail("%d then %d in flight, %d expected", inflight, after, n) end
  print(string.format("ok inflight=%d connected=%d polls=%d us_per_call=%.2f p99_us=%.1f max_us=%.1f",
    inflight, connected, K, total / K * 1e6, percentile(times, 0.99) * 1e6, percentile(times, 1) * 1e6))

elseif mode == "drip" then
  -- a histogram (1 % wide buckets), not a list: a list of a million timings
  -- would itself make the garbage collector pause inside poll()
  local deltas, chars = 0, 0
  local params = { on_delta = function(s) deltas = deltas + 1; chars = chars + #s end }
  local reqs = {}
  local hist, log, floor = {}, math.log, math.floor
  local poll, k, max, max_cpu, over, clock = chatgpt.poll, 0, 0, 0, 0, os.clock
  local t0 = now()
  for i = 1, n do reqs[i] = client:chat_async(messages, params) end
  while true do
    local a, ca = now(), clock()
    local left = poll(0)
    local us, cpu = (now() - a) * 1e6, (clock() - ca) * 1e6
    k = k + 1
    if us > max then max = us end
    if cpu > max_cpu then max_cpu = cpu end
    if us > 2000 then over = over + 1 end
    local b = us <= 1 and 0 or floor(log(us) * 100) + 1
    hist[b] = (hist[b] or 0) + 1
    if left == 0 then break end
    if now() - t0 > 30 then fail("not done after 30 s") end
  end
  local wall = now() - t0
  for i = 1, n do
    local text, err = reqs[i]:result()
    if not text then fail("stream %d: %s", i, tostring(err)) end
  end
  local seen, p99, top = 0, nil, 0
  for b in pairs(hist) do if b > top then top = b end end
  for b = 0, top do
    seen = seen + (hist[b] or 0)
    if seen >= k * 0.99 then p99 = b == 0 and 1 or math.exp(b / 100); break end
  end
  print(string.format("ok requests=%d deltas=%d chars=%d polls=%d p99_us=%.1f max_us=%.1f"
    .. " max_cpu_us=%.0f over_2ms=%d inner_s=%.4f", n, deltas, chars, k, p99, max, max_cpu, over, wall))

else
  fail("unknown mode %s", tostring(mode))
end

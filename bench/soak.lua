-- Soak: 20,000 requests in one process against the local fake server
-- (spec/support/fake_openai.py), a mix of plain, streamed, cancelled,
-- failing and retried ones, up to 16 in flight, some from chatgpt.spawn
-- coroutines. Reports the RSS after 2,000 and after 20,000 requests (after
-- a full collection) and fails when it grew by 5 % or more, or when a
-- request ended in an unexpected way.
--
--   make all && lua5.4 bench/soak.lua [N]     (from the repository root)
--   CHATGPT_BUILD=build/asan ... runs it against the ASan build (preload
--   libasan as `make check` does).

package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path
package.cpath = (os.getenv("CHATGPT_BUILD") or "build") .. "/?.so;" .. package.cpath

local chatgpt = require "chatgpt"
local core = require "chatgpt.core"
local fake = require "spec.support.fake"

local TOTAL = tonumber(arg and arg[1]) or 20000
local WARM = math.max(1, TOTAL // 10)
local INFLIGHT = 16
local HELLO = "Hello! I am the local fake OpenAI server."
local KEY = "sk-soak-0123456789abcdefWXYZ"

fake.start()

local function rss_kb()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("*a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

-- Every kind has its own base URL, so the fake's path-matched scripts pick
-- the reply whatever the order in which requests arrive.
local function base(kind) return fake.url("/v1/" .. kind) end

local function api_error(status, headers)
  return { status = status, default_headers = true, headers = headers, json = { error = {
    message = "soak " .. status, type = status >= 500 and "server_error" or "invalid_request_error",
    param = fake.null, code = fake.null } } }
end

local function with_path(kind, r)
  r.path = "/" .. kind .. "/chat/completions"
  return r
end

-- kind -> how it is run and what it must end in
local MIX = {
  "plain", "plain", "spawned", "stream", "stream",
  "cancelled", "bad", "busy", "reset", "drop", "retried", "retried",
}
local ROUND = 2400                               -- requests per round of scripts

local SSE_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 1000\r\n\r\n"
local SSE_EVENT = 'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'

-- The scripts of one round: forever replies per path, plus, for each
-- "retried" request of the round, a 503 on its own path (so that it fails
-- exactly once, whatever the order of arrival).
local function script_round(first)
  fake.reset()
  local forever = {
    with_path("bad", api_error(400)),
    with_path("busy", api_error(503, { { "retry-after-ms", "1" } })),
    with_path("cancelled", { delay = 0.05 }),
    with_path("reset", { status = 200, json = { choices = { { index = 0, message = {
      role = "assistant", content = string.rep("cut short ", 200) } } } }, drop_after = 2000 }),
    with_path("drop", { raw = SSE_HEAD .. SSE_EVENT .. "data: {",
                        drop_after = #SSE_HEAD + #SSE_EVENT + 7 }),
  }
  for _, r in ipairs(forever) do r["repeat"] = -1 end
  fake.script(forever)
  local once = {}
  for k = first, first + ROUND - 1 do
    if MIX[k % #MIX + 1] == "retried" then
      once[#once + 1] = with_path("r" .. k, api_error(503, { { "retry-after-ms", "1" } }))
    end
  end
  fake.script(once)
end

local clients = {}
local function client(kind, k)
  if kind == "retried" then       -- one client per request: clients come and go
    return chatgpt.new { base_url = base("r" .. k), api_key = KEY }
  end
  local c = clients[kind]
  if not c then
    -- a reset is retried after a 0.5 s backoff: not here, to keep it quick
    c = chatgpt.new { base_url = base(kind), api_key = KEY, max_retries = kind == "reset" and 0 or 2 }
    clients[kind] = c
  end
  return c
end

local counts, bad_ends = {}, {}
local done, started, running = 0, 0, 0

local function finish(kind, ok, detail)
  running = running - 1
  done = done + 1
  local key = kind .. (ok and "" or " UNEXPECTED")
  counts[key] = (counts[key] or 0) + 1
  if not ok and #bad_ends < 10 then bad_ends[#bad_ends + 1] = kind .. ": " .. tostring(detail) end
end

local pending = {}        -- async requests to check when done: {req, kind, polls}

local function start(kind)
  local c = client(kind, started)
  started = started + 1
  running = running + 1
  if started % 500 == 0 then clients = {} end      -- clients come and go too
  if kind == "spawned" then
    chatgpt.spawn(function()
      local text, err = c:chat("x")
      finish(kind, text == HELLO, err)
    end)
    return
  end
  local params
  if kind == "stream" or kind == "drop" then params = { on_delta = function() end } end
  pending[#pending + 1] = { req = c:chat_async("x", params), kind = kind, polls = 0 }
end

local function check(p)
  local kind, req = p.kind, p.req
  local text, r, info = req:result()
  if kind == "plain" or kind == "stream" then
    return text == HELLO, r
  elseif kind == "retried" then
    -- which request meets which scripted 503 depends on timing: count them
    return text == HELLO and info.attempts == 2, r
  elseif kind == "cancelled" then
    return req.status == "cancelled" and r.kind == "cancelled", r
  elseif kind == "bad" then
    return r and r.kind == "api" and r.status == 400 and r.attempts == 1, r
  elseif kind == "busy" then
    return r and r.status == 503 and r.attempts == 3, r
  elseif kind == "reset" then
    return r and r.kind == "network" and r.attempts == 1, r
  elseif kind == "drop" then
    return r and r.kind == "network" and r.attempts == 1 and r.partial == "Hel", r
  end
end

local function sweep()
  local keep = {}
  for _, p in ipairs(pending) do
    if p.kind == "cancelled" and not p.req:done() then
      p.polls = p.polls + 1
      if p.polls >= 2 then p.req:cancel() end
    end
    if p.req:done() then
      finish(p.kind, check(p))
    else
      keep[#keep + 1] = p
    end
  end
  pending = keep
end

local function measure()
  collectgarbage("collect")
  collectgarbage("collect")
  return rss_kb(), collectgarbage("count")
end

local t0 = core.now()
local round_at = 0
script_round(0)
local rss_warm, lua_warm
while done < TOTAL do
  while running < INFLIGHT and started < TOTAL do
    if started % ROUND == 0 and started ~= round_at then
      -- a fresh round of scripts (and an empty request log at the fake),
      -- once every request of the last round has ended
      if running > 0 then break end
      script_round(started)
      round_at = started
    end
    start(MIX[started % #MIX + 1])
  end
  chatgpt.poll(0.01)
  sweep()
  if done >= WARM and not rss_warm then
    rss_warm, lua_warm = measure()
    io.write(("after %6d requests: RSS %6d kB, Lua heap %6.0f kB (%.1f s)\n")
      :format(done, rss_warm, lua_warm, core.now() - t0))
  end
end
while chatgpt.poll(0.05) > 0 do sweep() end
sweep()
clients = {}
local rss_end, lua_end = measure()
io.write(("after %6d requests: RSS %6d kB, Lua heap %6.0f kB (%.1f s)\n")
  :format(done, rss_end, lua_end, core.now() - t0))

local kinds = {}
for k in pairs(counts) do kinds[#kinds + 1] = k end
table.sort(kinds)
for _, k in ipairs(kinds) do io.write(("  %-22s %6d\n"):format(k, counts[k])) end
for _, b in ipairs(bad_ends) do io.write("  unexpected: ", b, "\n") end
for _, e in ipairs(chatgpt.errors()) do
  io.write("  error in a spawned coroutine: ", e, "\n")
  counts["spawn error UNEXPECTED"] = (counts["spawn error UNEXPECTED"] or 0) + 1
end

local growth = (rss_end - rss_warm) / rss_warm * 100
io.write(("RSS growth from request %d to %d: %+.2f %% (limit 5 %%)\n"):format(WARM, done, growth))
local unexpected = 0
for k, n in pairs(counts) do if k:find("UNEXPECTED") then unexpected = unexpected + n end end
fake.stop()
if growth >= 5 or unexpected > 0 or done ~= TOTAL then
  io.write("soak: FAILED\n")
  os.exit(1)
end
io.write("soak: ok\n")

-- Runs inside headless Neovim for bench/idle.py: what one streaming request
-- costs an otherwise idle editor.
--
--   BENCH_MODE=idle|loaded|uv|uvfast|uvlat|uvfastlat|poll|raw|rawsched BENCH_SECONDS=5.5 BENCH_URL=...
--   BENCH_TEXT=... BENCH_RESULT=file BENCH_ROOT=repo BENCH_BUILD=build/luajit \
--     nvim --headless -u NONE -i NONE -c 'luafile bench/idle_nvim.lua'
--
-- idle    nothing: Neovim waits BENCH_SECONDS, then quits
-- loaded  require "chatgpt" and make a client, then the same wait
-- uv      the same, plus one streamed chat_async from BENCH_URL driven by
--         Neovim's loop: require("chatgpt.uv").attach(vim.loop), whose
--         turns run from the main loop (vim.schedule, the default)
-- uvfast  the same with { schedule = false }: turns inside libuv's
--         callbacks, where vim.api may not be called (before issue 20)
-- poll    the same request driven by a 10 ms vim.loop timer calling
--         chatgpt.poll(0), stopped once poll returns 0
-- raw     the floor: loaded, then the same stream read over a bare
--         vim.loop TCP socket (luv's read callback; nothing parsed): what
--         50 wake-ups of this process cost with no module in the way
-- rawsched  the same, each read also asking vim.schedule for an empty
--         function (what running a turn from the main loop costs Neovim)
-- uvlat, uvfastlat  uv and uvfast, timed from inside: the adapter gets a
--         luv whose poll handles note when they fire (a table over
--         vim.loop: the adapter's calls are the same), on_delta measures
--         the time since (lat_us_med / lat_us_p90 over the deltas), and
--         chatgpt.drive is counted. The difference between the two modes'
--         medians is what scheduling adds to a delta. uv and uvfast carry
--         none of this, so that their CPU is the module's alone.
-- Every mode quits BENCH_SECONDS after this script starts, so that the
-- process lives the same time in each (bench/measure.c measures it from
-- outside). The text must equal BENCH_TEXT's (the content of the served
-- chunks), and so must the pieces on_delta saw.
-- Writes "ok key=value ..." or "fail <why>" to BENCH_RESULT; cpu_ms is
-- this process's CPU (os.clock: all its threads) from here to the quit;
-- for uv and poll also req_ms (CPU from chat_async to the request's end),
-- first_ms (to its first delta), and the drive() and poll() calls made.

-- luacheck: read globals vim

local uv = vim.loop
local clock = os.clock
local t0, w0 = clock(), uv.hrtime()
local env = os.getenv
local mode, out = env("BENCH_MODE"), env("BENCH_RESULT")
local seconds = tonumber(env("BENCH_SECONDS") or "5.5")

local function finish(line)
  local f = io.open(out, "w")
  f:write(line, "\n")
  f:close()
  vim.cmd("qa!")
end

local result                      -- set by the request's end: a line, or an error
local function quit()
  if mode ~= "idle" and mode ~= "loaded" then
    if not result then result = "fail the request was not done after " .. seconds .. " s" end
  end
  if result and result:sub(1, 5) == "fail " then return finish(result) end
  finish(string.format("ok mode=%s cpu_ms=%.3f wall_s=%.3f %s", mode, (clock() - t0) * 1e3,
    (uv.hrtime() - w0) / 1e9, result or ""))
end

-- raw, rawsched: one POST over a luv TCP socket, its chunked answer read
-- to its last chunk; req_ms and reads as the request's modes report them
local function raw_read(sched)
  local host, port, path = env("BENCH_URL"):match("^http://([%d.]+):(%d+)(/.*)$")
  local body = '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}'
  local tcp, reads, bytes, tail, done = uv.new_tcp(), 0, 0, "", false
  local function noop() end
  local c_req = clock()
  tcp:connect(host, tonumber(port), function(cerr)
    if cerr then
      result = "fail connect: " .. cerr
      return tcp:close()
    end
    tcp:write(("POST %s/chat/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
               .. "Content-Length: %d\r\n\r\n%s"):format(path, host, #body, body))
    tcp:read_start(function(rerr, data)
      if sched then vim.schedule(noop) end
      if not data then
        result = result or ("fail the stream ended early (%s)"):format(tostring(rerr))
        return tcp:close()
      end
      reads, bytes = reads + 1, bytes + #data
      if (tail .. data):sub(-7) == "\r\n0\r\n\r\n" and not done then   -- the last chunk
        done = true
        local text = tail .. data
        result = text:find("data: [DONE]", 1, true) and ("deltas=-1 reads=%d bytes=%d req_ms=%.3f"):format(
          reads, bytes, (clock() - c_req) * 1e3) or "fail no [DONE] before the end"
        tcp:read_stop()
        tcp:close()
      end
      tail = data:sub(-32)
    end)
  end)
end

local ok, err = pcall(function()
  local modes = { idle = 1, loaded = 1, uv = 1, uvfast = 1, uvlat = 1, uvfastlat = 1, poll = 1, raw = 1,
                  rawsched = 1 }
  if not modes[mode] then
    error("BENCH_MODE: idle, loaded, uv, uvfast, uvlat, uvfastlat, poll, raw or rawsched, not "
          .. tostring(mode))
  end
  if mode == "idle" then return end
  local root, build = env("BENCH_ROOT"), env("BENCH_BUILD")
  package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
  package.cpath = build .. "/?.so;" .. package.cpath
  local chatgpt = require "chatgpt"
  local client = chatgpt.new { base_url = env("BENCH_URL"), api_key = "sk-bench-000000000000000000000000",
                               max_retries = 0 }
  if mode == "loaded" then return end
  if mode == "raw" or mode == "rawsched" then return raw_read(mode == "rawsched") end

  local function served()          -- read at the end: the check costs the window nothing
    local f = assert(io.open(env("BENCH_TEXT"), "rb"))
    local text = f:read("*a")
    f:close()
    return text
  end

  local timed = mode == "uvlat" or mode == "uvfastlat"
  local deltas, parts, c_first, lat = 0, {}, nil, {}
  local drives, timer_drives = -1, -1            -- counted when timed
  local adapter_uv, on_delta = uv, function(s)
    deltas = deltas + 1
    parts[#parts + 1] = s
    c_first = c_first or clock()
  end
  if timed then
    -- the luv the adapter gets: poll handles that note when they fire
    local fired                    -- uv.hrtime() of the last poll callback
    local function noting(new)
      return function(fd)
        local h, err = new(fd)
        if not h then return h, err end
        local proxy = {}
        function proxy.start(_, events, cb)
          return h:start(events, function(...)
            fired = uv.hrtime()
            return cb(...)
          end)
        end
        function proxy.stop() return h:stop() end
        function proxy.close() return h:close() end
        function proxy.is_closing() return h:is_closing() end
        return proxy
      end
    end
    adapter_uv = setmetatable({ new_socket_poll = noting(uv.new_socket_poll), new_poll = noting(uv.new_poll) },
                              { __index = uv })
    local plain = on_delta
    on_delta = function(s)
      plain(s)
      if fired then lat[#lat + 1] = (uv.hrtime() - fired) / 1e3 end
    end
    -- counts the engine's turns: chatgpt.uv calls chatgpt.drive through the
    -- module table (fd ready, or its one timer fired)
    local drive = chatgpt.drive
    drives, timer_drives = 0, 0
    chatgpt.drive = function(fd, what)
      drives = drives + 1
      if fd == nil then timer_drives = timer_drives + 1 end
      return drive(fd, what)
    end
  end
  local params = { on_delta = on_delta }
  if mode == "uv" or mode == "uvlat" then
    require("chatgpt.uv").attach(adapter_uv)
  elseif mode == "uvfast" or mode == "uvfastlat" then
    require("chatgpt.uv").attach(adapter_uv, { schedule = false })
  end
  local polls, poll = 0, chatgpt.poll
  local c_req = clock()
  local req = client:chat_async("Stream to the idle editor.", params)
  -- a plugin's way to hear the end: wait inside spawn yields to the engine
  chatgpt.spawn(function()
    local text, rerr = req:wait()
    local c_end = clock()
    local want = text and served()
    if not text then
      result = "fail " .. tostring(rerr)
    elseif text ~= want or table.concat(parts) ~= want then
      result = ("fail text %q differs from the served %q"):format(text, want)
    else
      -- req_ms: CPU from chat_async to the end; first_ms: to the first delta
      -- (connecting, and the modules a first request loads)
      table.sort(lat)
      local function pct(p) return lat[1] and lat[math.max(1, math.ceil(#lat * p))] or -1 end
      result = ("deltas=%d chars=%d request_s=%.3f req_ms=%.3f first_ms=%.3f drives=%d timer_drives=%d polls=%d"
                .. " lat_us_med=%.1f lat_us_p90=%.1f lat_n=%d")
        :format(deltas, #text, (uv.hrtime() - w0) / 1e9, (c_end - c_req) * 1e3,
                ((c_first or c_end) - c_req) * 1e3, drives, timer_drives, polls, pct(0.5), pct(0.9), #lat)
    end
  end)
  if mode == "poll" then
    local timer = uv.new_timer()
    timer:start(10, 10, function()
      polls = polls + 1
      if poll(0) == 0 then
        timer:stop()
        timer:close()
      end
    end)
  end                              -- uv: nothing else, Neovim's loop does it all
end)
if not ok then finish("fail " .. tostring(err)) end

local quit_timer = uv.new_timer()
quit_timer:start(math.floor(seconds * 1000 - (uv.hrtime() - w0) / 1e6), 0, vim.schedule_wrap(quit))

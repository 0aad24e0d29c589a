-- Runs inside headless Neovim (spec/hosts/run.sh): with
-- require("chatgpt.uv").attach(vim.loop) and nothing else (no vim.schedule
-- in this file), every callback of the module calls vim.api directly
-- (issue 20, item 1): on_delta with nvim_buf_set_lines, on_chunk, on_event,
-- on_tool_call, on_data, log, a conversation's tool and hooks, a spawned
-- coroutine. Also: vim.wait(ms, function() return req:done() end) from the
-- main loop; vim.wait inside a callback; one queued turn however many
-- streams fire; and schedule = false, where vim.api raises as before.
-- Writes "ok ..." or "FAILED ..." to $HOST_RESULT, then quits.
-- luacheck: globals vim
local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$")
local verdict = dofile(here .. "verdict.lua")("nvim " .. tostring(jit and jit.version))
local check = verdict.check

local ok, err = pcall(function()
  package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
  package.cpath = os.getenv("CHATGPT_BUILD") .. "/?.so;" .. package.cpath

  -- counts the turns the adapter asks Neovim for, and how many wait at once
  local queued, most, scheduled = 0, 0, 0
  local real_schedule = vim.schedule
  vim.schedule = function(fn)
    scheduled = scheduled + 1
    queued = queued + 1
    if queued > most then most = queued end
    real_schedule(function()
      queued = queued - 1
      fn()
    end)
  end

  local chatgpt = require "chatgpt"
  require("chatgpt.uv").attach(vim.loop)
  vim.schedule = real_schedule               -- the adapter took the counting one

  local buf = vim.api.nvim_create_buf(false, true)
  local ran, fast = {}, {}
  -- what every callback does: the issue's own line, directly
  local function touch(name)
    ran[name] = (ran[name] or 0) + 1
    if vim.in_fast_event() then fast[#fast + 1] = name end
    vim.api.nvim_buf_set_lines(buf, -1, -1, false, { name })
  end
  local function wait_all(list, ms)
    return vim.wait(ms or 10000, function()
      for _, r in ipairs(list) do if not r:done() then return false end end
      return true
    end, 5)
  end
  local function result_ok(name, r)
    check(name, r.status == "done", select(2, r:result()))
  end

  local base = os.getenv("OPENAI_BASE_URL")
  local client = chatgpt.new { base_url = base, auth = "none", max_retries = 0,
                               log = function() touch("log") end }

  -- chat streams: on_delta with nvim_buf_set_lines, on_chunk; four at once
  local chats = {}
  for i = 1, 4 do
    chats[i] = client:chat_async("hello " .. i, {
      on_delta = function(d)
        touch("on_delta")
        vim.api.nvim_buf_set_lines(buf, 0, 1, false, { d })
      end,
      on_chunk = function() touch("on_chunk") end,
    })
  end
  -- Responses: on_event, on_delta, and on_tool_call (tool_choice required)
  local tools = { { type = "function", name = "now", parameters = { type = "object", properties = {} } } }
  local resp = client:respond_async("hi", {
    on_event = function() touch("on_event") end,
    on_delta = function() touch("respond on_delta") end,
  })
  local called = client:respond_async("call it", {
    tools = tools, tool_choice = "required", stream = true,
    on_tool_call = function() touch("on_tool_call") end,
  })
  -- binary bytes: on_data
  local speech = client:speech_async("say it", { on_data = function() touch("on_data") end })
  -- a conversation's tool and its hooks
  local conv = client:conversation { api = "responses" }
  conv:tool("now", { parameters = { type = "object", properties = {} } }, function()
    touch("tool")
    return "noon"
  end)
  local said = conv:say_async("What time is it?", {
    tool_choice = "required",
    before_tool = function() touch("before_tool") end,
    after_tool = function() touch("after_tool") end,
  })
  -- a spawned coroutine, which blocks in its own eyes
  local co_done = false
  chatgpt.spawn(function()
    local text = client:chat("from a coroutine")
    touch("coroutine")
    co_done = text ~= nil
  end)

  -- vim.wait from the main loop, as a command would
  local all = { chats[1], chats[2], chats[3], chats[4], resp, called, speech, said }
  check("vim.wait(req:done())", wait_all(all), "still pending after 10 s")
  check("coroutine", vim.wait(5000, function() return co_done end, 5), "not resumed")
  for i, r in ipairs(all) do result_ok("request " .. i, r) end
  for _, name in ipairs { "on_delta", "on_chunk", "on_event", "respond on_delta", "on_tool_call",
                          "on_data", "tool", "before_tool", "after_tool", "coroutine", "log" } do
    check(name, (ran[name] or 0) > 0, "never ran")
  end
  check("no callback in a fast event", #fast == 0, table.concat(fast, ","))
  check(("one turn queued at a time (%d turns)"):format(scheduled), most == 1 and scheduled > 1,
        ("at most %d queued, %d turns"):format(most, scheduled))

  -- vim.wait inside a callback: the turns it lets run find the engine
  -- busy and come back later; nothing is lost
  local inner_waited = false
  local other = client:chat_async("other")
  local outer = client:chat_async("outer", { on_delta = function()
    if not inner_waited then
      inner_waited = true
      vim.wait(100, function() return false end, 5)
    end
  end })
  check("vim.wait inside on_delta", wait_all({ outer, other }, 10000), "stuck")
  result_ok("outer", outer)
  result_ok("other", other)

  -- schedule = false: callbacks run in libuv's callbacks, where vim.api raises
  require("chatgpt.uv").attach(vim.loop, { schedule = false })
  local plain = chatgpt.new { base_url = base, auth = "none", max_retries = 0 }
  local direct = plain:chat_async("direct", { on_delta = function()
    vim.api.nvim_buf_set_lines(buf, 0, 1, false, { "x" })
  end })
  wait_all({ direct })
  local _, derr = direct:result()
  check("schedule = false: E5560 as a callback error", derr and derr.kind == "callback"
        and tostring(derr.message):find("E5560", 1, true), derr)
  require("chatgpt.uv").detach()
end)
verdict.finish(ok, err)

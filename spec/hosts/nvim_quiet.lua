-- Runs inside headless Neovim (spec/hosts/run.sh), whose stderr run.sh
-- keeps: nothing from the module reaches the screen (issue 20, item 2).
-- With chatgpt.uv on Neovim's loop: the server down ($DOWN_URL: a port
-- bound and never listened on), a reset mid-stream, a cancel and a detach
-- mid-stream, a retry; then :messages must be empty (run.sh checks that
-- stderr is). Writes "ok ..." or "FAILED ..." to $HOST_RESULT, then quits.
-- luacheck: read globals vim
local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$")
local verdict = dofile(here .. "verdict.lua")("nvim")
local check = verdict.check

local ok, err = pcall(function()
  package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
  package.cpath = os.getenv("CHATGPT_BUILD") .. "/?.so;" .. package.cpath
  local chatgpt = require "chatgpt"
  local cuv = require "chatgpt.uv"
  cuv.attach(vim.loop)
  local function settle(list)
    return vim.wait(10000, function()
      for _, r in ipairs(list) do if not r:done() then return false end end
      return true
    end, 5)
  end
  local function failed_as(name, r, kinds)
    local _, e = r:result()
    check(name, r.status ~= "pending" and e and kinds[e.kind], e or r.status)
  end
  local network = { network = true }

  -- the server down: each attempt refused, retried once on the timer
  local down = chatgpt.new { base_url = os.getenv("DOWN_URL"), auth = "none", max_retries = 1 }
  local refused = {}
  for i = 1, 3 do refused[i] = down:chat_async("down " .. i) end
  settle(refused)
  for i = 1, 3 do failed_as("server down " .. i, refused[i], network) end

  -- scripted by run.sh, told apart by the prompt
  local up = chatgpt.new { base_url = os.getenv("OPENAI_BASE_URL"), auth = "none", max_retries = 0 }
  local reset = up:chat_async("reset-me", { stream = true })
  settle({ reset })
  failed_as("reset mid-stream", reset, network)

  local cancelled
  cancelled = up:chat_async("cancel-me", { on_delta = function() cancelled:cancel() end })
  settle({ cancelled })
  failed_as("cancel mid-stream", cancelled, { cancelled = true })

  local seen = false
  local detached = up:chat_async("detach-me", { on_delta = function() seen = true end })
  vim.wait(10000, function() return seen end, 5)
  cuv.detach()                                   -- mid-stream, from the main loop
  vim.wait(50, function() return false end)      -- the handles close
  detached:cancel()
  check("detach mid-stream", seen and detached.status == "cancelled", detached.status)

  -- attached again, a whole answer still comes
  cuv.attach(vim.loop)
  local fine = up:chat_async("fine")
  settle({ fine })
  check("attached again", fine.status == "done", select(2, fine:result()))
  cuv.detach()
  vim.wait(50, function() return false end)

  check("chatgpt.errors() empty", #chatgpt.errors() == 0, "errors")
  local messages = vim.api.nvim_exec("messages", true)
  check(":messages empty", messages == "", messages)
end)
verdict.finish(ok, err)

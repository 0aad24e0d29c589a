-- Runs inside headless Neovim started by spec/hosts/run.sh with a
-- temporary HOME whose ~/.local/share/nvim/site/pack/test/start/ holds a
-- copy of the repository built with `make nvim`, and `-u NORC` (no config,
-- plugins and packages loaded): as a user installs it (issue 20, item 3).
-- No package.path or package.cpath is set here. Checks: require "chatgpt"
-- loads the core from the package and streams a chat; :help chatgpt after
-- :helptags ALL; :checkhealth chatgpt without ERROR; no command or
-- mapping comes from the package. Writes "ok ..." or "FAILED ..." to
-- $HOST_RESULT, then quits.
-- luacheck: read globals vim
local pack = assert(os.getenv("PACK_DIR"))
local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$")
local verdict = dofile(here .. "verdict.lua")("nvim")
local check = verdict.check

local ok, err = pcall(function()
  local core_file = vim.api.nvim_get_runtime_file("lua/chatgpt/core.so", false)[1]
  check("core from the package", core_file == pack .. "/lua/chatgpt/core.so", core_file)
  local chatgpt = require "chatgpt"
  require("chatgpt.uv").attach(vim.uv or vim.loop)
  local buf = vim.api.nvim_get_current_buf()
  local req = chatgpt.new { base_url = os.getenv("OPENAI_BASE_URL"), auth = "none" }:chat_async("hi", {
    on_delta = function(d)
      local line = vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1]
      vim.api.nvim_buf_set_lines(buf, 0, 1, false, { line .. d })
    end,
  })
  vim.wait(10000, function() return req:done() end, 5)
  local text = req:result()
  check("a chat streamed into a buffer", text and vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] == text,
        select(2, req:result()))
  require("chatgpt.uv").detach()

  vim.cmd("helptags ALL")
  vim.cmd("help chatgpt")
  check(":help chatgpt", vim.fn.expand("%:p") == pack .. "/doc/chatgpt.txt", vim.fn.expand("%:p"))
  vim.cmd("helpclose")

  vim.cmd("checkhealth chatgpt")
  local report = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
  check(":checkhealth chatgpt without ERROR", not report:find("ERROR") and report:find("OK: chatgpt.core", 1, true),
        report)

  local defined = vim.api.nvim_exec("verbose command", true) .. vim.api.nvim_exec("verbose map", true)
                  .. vim.api.nvim_exec("verbose map!", true)
  -- (Neovim writes the paths with ~ for HOME)
  check("no command or mapping from the package", not defined:find("pack/test/start/lua-chatgpt", 1, true),
        defined)
end)
verdict.finish(ok, err)

-- Runs inside headless Neovim (spec/hosts/run.sh): the examples/nvim plugin
-- (:LuaChatGPT) streams a chat from the fake server into a buffer on
-- Neovim's own loop (chatgpt.uv), and the buffer's text is checked; with
-- $DOWN_URL as the server, the buffer shows the error instead. Writes
-- "ok ..." or "FAILED ..." to $HOST_RESULT, then quits.
local out = assert(os.getenv("HOST_RESULT"))
local function finish(line)
  local f = assert(io.open(out, "w"))
  f:write(line, "\n")
  f:close()
  vim.cmd("qa!")
end

local ok, err = pcall(function()
  package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
  package.cpath = os.getenv("CHATGPT_BUILD") .. "/?.so;" .. package.cpath
  vim.opt.runtimepath:append("examples/nvim")
  vim.cmd("runtime plugin/chatgpt_nvim.lua")
  vim.cmd("LuaChatGPT hello from neovim")
  local buf = vim.api.nvim_get_current_buf()
  local done = vim.wait(10000, function() return vim.b[buf].chatgpt_status ~= nil end, 20)
  local text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
  local status = vim.b[buf].chatgpt_status
  if os.getenv("HOST_WANT_ERROR") then
    if done and status == "failed" and text:find("[error]", 1, true) and text:find("COULDNT_CONNECT", 1, true) then
      finish("ok nvim, server down: " .. text:gsub("\n", " "))
    else
      finish(("FAILED nvim, server down: status %s, buffer %q"):format(tostring(status), text))
    end
  elseif done and status == "done" and text == os.getenv("HOST_WANT") then
    finish("ok nvim " .. tostring(jit and jit.version) .. ": " .. text)
  else
    finish(("FAILED nvim: status %s, buffer %q"):format(tostring(status), text))
  end
end)
if not ok then finish("FAILED nvim: " .. tostring(err)) end

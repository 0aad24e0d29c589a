-- A minimal Neovim plugin on lua-chatgpt: :ChatGPT {prompt} streams the
-- answer into a scratch buffer; <C-c> in that buffer cancels it. The key
-- comes from OPENAI_API_KEY (or set vim.g.chatgpt_api_key_cmd to a command
-- list, e.g. {"pass", "show", "openai"}); OPENAI_BASE_URL picks the server.
--
-- Neovim runs LuaJIT: build the module with `make LUA=luajit` and put
-- build/luajit (chatgpt/core.so) on package.cpath and lua/ on package.path.
local chatgpt = require "chatgpt"

local M = {}

local client, attached

local function get_client()
  if not client then
    local opts = { base_url = os.getenv("OPENAI_BASE_URL") }
    if vim.g.chatgpt_api_key_cmd then opts.api_key_cmd = vim.g.chatgpt_api_key_cmd end
    client = chatgpt.new(opts)
  end
  if not attached then   -- the engine runs on Neovim's own loop: no polling timer
    require("chatgpt.uv").attach(vim.uv or vim.loop)
    attached = true
  end
  return client
end

-- Appends text to the buffer's last line (newlines start new lines).
local function append(buf, text)
  if not vim.api.nvim_buf_is_valid(buf) then return end
  local last = vim.api.nvim_buf_line_count(buf)
  local line = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ""
  local parts = vim.split(line .. text, "\n", { plain = true })
  vim.api.nvim_buf_set_lines(buf, last - 1, last, false, parts)
end

-- M.ask(prompt) -> buffer, request
function M.ask(prompt)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(buf, "chatgpt://" .. buf)
  vim.api.nvim_set_current_buf(buf)
  local req = get_client():chat_async(prompt, {
    -- callbacks run from libuv's callbacks (a "fast event"): the buffer is
    -- touched from vim.schedule
    on_delta = function(d) vim.schedule(function() append(buf, d) end) end,
  })
  vim.keymap.set("n", "<C-c>", function() req:cancel() end, { buffer = buf })
  -- the end, heard without a timer: wait() in a spawned coroutine yields to
  -- the engine, which resumes it when the request settles
  chatgpt.spawn(function()
    local text, err = req:wait()
    vim.schedule(function()
      if not text and err.kind ~= "cancelled" then append(buf, "\n[error] " .. tostring(err)) end
      if vim.api.nvim_buf_is_valid(buf) then vim.b[buf].chatgpt_status = req.status end
    end)
  end)
  return buf, req
end

function M.setup()
  vim.api.nvim_create_user_command("ChatGPT", function(o) M.ask(o.args) end, { nargs = "+" })
end

return M

-- A minimal Neovim plugin on lua-chatgpt: :LuaChatGPT {prompt} streams the
-- answer into a scratch buffer; <C-c> in that buffer cancels it. The key
-- comes from OPENAI_API_KEY (or set vim.g.chatgpt_api_key_cmd to a command
-- list, e.g. {"pass", "show", "openai"}); OPENAI_BASE_URL picks the server.
--
-- Try it with no key and no network, against the fake OpenAI server that
-- the tests use (it builds the module first when needed):
--
--   sh examples/nvim/try.sh
--
-- To use it for real: the repository on the runtimepath (a pack/*/start/
-- folder, or a plugin manager with build = "make nvim": `:help
-- chatgpt-install`), and this folder too (`set rtp+=.../examples/nvim`).
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
  local ok, c = pcall(get_client)
  if not ok then                         -- no key, a bad OPENAI_BASE_URL ...
    append(buf, "[error] " .. tostring(c))
    vim.b[buf].chatgpt_status = "failed"
    return buf
  end
  -- callbacks run on Neovim's main loop (chatgpt.uv): vim.api is allowed
  local req = c:chat_async(prompt, { on_delta = function(d) append(buf, d) end })
  vim.keymap.set("n", "<C-c>", function() req:cancel() end, { buffer = buf })
  -- the end, heard without a timer: wait() in a spawned coroutine yields to
  -- the engine, which resumes it when the request settles
  chatgpt.spawn(function()
    local text, err = req:wait()
    if not text and err.kind ~= "cancelled" then append(buf, "\n[error] " .. tostring(err)) end
    if vim.api.nvim_buf_is_valid(buf) then vim.b[buf].chatgpt_status = req.status end
  end)
  return buf, req
end

function M.setup()
  vim.api.nvim_create_user_command("LuaChatGPT", function(o) M.ask(o.args) end,
                                   { nargs = "+", desc = "lua-chatgpt's example: stream an answer" })
end

return M

-- Loaded by Neovim from the plugin folder: defines :LuaChatGPT {prompt}
-- (a name no well-known plugin uses; the library itself defines none).
require("chatgpt_nvim").setup()

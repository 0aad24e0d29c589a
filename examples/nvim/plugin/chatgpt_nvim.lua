-- Loaded by Neovim from the plugin folder: defines :ChatGPT {prompt}.
require("chatgpt_nvim").setup()

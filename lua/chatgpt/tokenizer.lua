-- Exact token counts: the tokenizers of OpenAI's models, in C (tokenizer.c),
-- found by encoding name or by model name as tiktoken maps models to
-- encodings. The vocabularies ship beside this file, in vocab/
-- (vocab/SOURCES.md), and load on the first tokenizer of their encoding.

local core = require "chatgpt.core"
local searchpath = require("chatgpt.compat").searchpath

local debug, os, package, type = debug, os, package, type
local ipairs = ipairs

local M = {}

-- tiktoken's model table (tiktoken/model.py): exact names first, then
-- prefixes in this order. Encodings that are not shipped (p50k_base,
-- r50k_base, gpt2: models retired before 2024) are named, so that their
-- error says so.
local MODEL = {
  ["o1"] = "o200k_base", ["o3"] = "o200k_base", ["o4-mini"] = "o200k_base",
  ["gpt-5"] = "o200k_base", ["gpt-4.1"] = "o200k_base", ["gpt-4o"] = "o200k_base",
  ["gpt-4o-mini"] = "o200k_base", ["gpt-4.1-mini"] = "o200k_base", ["gpt-4.1-nano"] = "o200k_base",
  ["gpt-oss-120b"] = "o200k_harmony", ["gpt-oss-20b"] = "o200k_harmony",
  ["gpt-4"] = "cl100k_base", ["gpt-3.5-turbo"] = "cl100k_base", ["gpt-3.5"] = "cl100k_base",
  ["gpt-35-turbo"] = "cl100k_base",
  ["davinci-002"] = "cl100k_base", ["babbage-002"] = "cl100k_base",
  ["text-embedding-ada-002"] = "cl100k_base", ["text-embedding-3-small"] = "cl100k_base",
  ["text-embedding-3-large"] = "cl100k_base",
  ["text-davinci-003"] = "p50k_base", ["text-davinci-002"] = "p50k_base",
  ["text-davinci-001"] = "r50k_base", ["text-curie-001"] = "r50k_base",
  ["text-babbage-001"] = "r50k_base", ["text-ada-001"] = "r50k_base",
  ["davinci"] = "r50k_base", ["curie"] = "r50k_base", ["babbage"] = "r50k_base", ["ada"] = "r50k_base",
  ["code-davinci-002"] = "p50k_base", ["code-davinci-001"] = "p50k_base",
  ["code-cushman-002"] = "p50k_base", ["code-cushman-001"] = "p50k_base",
  ["davinci-codex"] = "p50k_base", ["cushman-codex"] = "p50k_base",
  ["text-davinci-edit-001"] = "p50k_edit", ["code-davinci-edit-001"] = "p50k_edit",
  ["text-similarity-davinci-001"] = "r50k_base", ["text-similarity-curie-001"] = "r50k_base",
  ["text-similarity-babbage-001"] = "r50k_base", ["text-similarity-ada-001"] = "r50k_base",
  ["text-search-davinci-doc-001"] = "r50k_base", ["text-search-curie-doc-001"] = "r50k_base",
  ["text-search-babbage-doc-001"] = "r50k_base", ["text-search-ada-doc-001"] = "r50k_base",
  ["code-search-babbage-code-001"] = "r50k_base", ["code-search-ada-code-001"] = "r50k_base",
  ["gpt2"] = "gpt2",
}

local PREFIX = {
  { "o1-", "o200k_base" }, { "o3-", "o200k_base" }, { "o4-mini-", "o200k_base" },
  { "gpt-5", "o200k_base" }, { "gpt-4.5-", "o200k_base" }, { "gpt-4.1-", "o200k_base" },
  { "chatgpt-4o-", "o200k_base" }, { "gpt-4o-", "o200k_base" },
  { "gpt-4-", "cl100k_base" }, { "gpt-3.5-turbo-", "cl100k_base" }, { "gpt-35-turbo-", "cl100k_base" },
  { "gpt-oss-", "o200k_harmony" },
  { "ft:gpt-4o", "o200k_base" }, { "ft:gpt-4", "cl100k_base" }, { "ft:gpt-3.5-turbo", "cl100k_base" },
  { "ft:davinci-002", "cl100k_base" }, { "ft:babbage-002", "cl100k_base" },
}

local SHIPPED = { o200k_base = true, o200k_harmony = true, cl100k_base = true }

-- encoding(name_or_model) -> encoding name | nil, err: an encoding's own
-- name, or the encoding of a model.
function M.encoding(name)
  if SHIPPED[name] then return name end
  local enc = MODEL[name]
  if not enc then
    for _, p in ipairs(PREFIX) do
      if name:sub(1, #p[1]) == p[1] then enc = p[2]; break end
    end
  end
  if not enc then return nil, "no known encoding for '" .. name .. "'" end
  if not SHIPPED[enc] then
    return nil, "the encoding of '" .. name .. "' (" .. enc .. ") is not shipped (only o200k_base, "
      .. "o200k_harmony and cl100k_base are)"
  end
  return enc
end

-- The folder of the vocabularies: $CHATGPT_VOCAB_DIR, else vocab/ beside
-- this file (found from its own chunk name, else through package.path).
local function here()
  local src = debug.getinfo(1, "S").source
  local path = type(src) == "string" and src:sub(1, 1) == "@" and src:sub(2)
  if not path and searchpath then path = searchpath("chatgpt.tokenizer", package.path) end
  return path and (path:match("^(.*)[/\\]") or ".")
end

function M.vocab_dir()
  local env = os.getenv("CHATGPT_VOCAB_DIR")
  if env and env ~= "" then return env end
  local dir = here()
  return dir and dir .. "/vocab"
end

-- One tokenizer per encoding and folder in this Lua state (the vocabulary
-- itself is shared by the whole process).
local cache = {}

-- get(name_or_model [, vocab_dir]) -> tokenizer | nil, err
function M.get(name, dir)
  local enc, err = M.encoding(name)
  if not enc then return nil, err end
  dir = dir or M.vocab_dir()
  if not dir then return nil, "cannot find the vocabularies: set CHATGPT_VOCAB_DIR" end
  local key = enc .. "\0" .. dir
  local tok = cache[key]
  if tok then return tok end
  tok, err = core.tokenizer(enc, dir)
  if not tok then return nil, err end
  cache[key] = tok
  return tok
end

return M

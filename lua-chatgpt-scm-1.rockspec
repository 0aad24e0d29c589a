rockspec_format = "3.0"
package = "lua-chatgpt"
version = "scm-1"

source = {
  url = "git+https://github.com/lua-chatgpt/lua-chatgpt.git",
}

description = {
  summary = "The OpenAI API (Chat Completions, Responses, every endpoint) from Lua",
  detailed = [[
A C core on libcurl (key storage, exact JSON, a non-blocking engine, an SSE
parser) under a pure-Lua layer: clients, streaming callbacks, async
requests for game and editor loops, coroutines, retries and clear errors.
Works with OpenAI, Azure OpenAI, Ollama, llama.cpp, vLLM, OpenRouter, Groq.]],
  license = "MIT",
  labels = { "openai", "chatgpt", "llm", "curl", "http" },
}

dependencies = {
  "lua >= 5.1",   -- 5.1, LuaJIT 2.1, 5.2, 5.3, 5.4 (src/compat.h, lua/chatgpt/compat.lua)
}

-- Only the library is looked for: Debian keeps curl/curl.h in a multiarch
-- folder (/usr/include/<triplet>/curl) that LuaRocks does not search, while
-- the compiler finds it by itself.
external_dependencies = {
  CURL = { library = "curl" },
}

build = {
  type = "builtin",
  modules = {
    ["chatgpt.core"] = {
      sources = {
        "src/base64.c", "src/context.c", "src/core.c", "src/curl_errors.c", "src/endpoint.c",
        "src/engine.c", "src/form.c", "src/headers.c", "src/json_decode.c", "src/json_delta.c", "src/json_escapes.c", "src/json_marks.c",
        "src/json_encode.c", "src/json_path.c", "src/key.c", "src/message.c", "src/origin.c", "src/process.c",
        "src/protect.c", "src/bpe.c", "src/pretokenize.c", "src/regular.c", "src/sockets.c",
        "src/sse.c", "src/terminal.c", "src/tokenizer.c", "src/transfer.c", "src/unicode_class.c",
        "src/vocab.c",
      },
      defines = { "_GNU_SOURCE", 'CHATGPT_VERSION="scm"' }, -- --version says scm; make dist drops it
      incdirs = { "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
      libraries = { "curl" },
    },
    ["chatgpt"]              = "lua/chatgpt/init.lua",
    ["chatgpt.args"]         = "lua/chatgpt/args.lua",
    ["chatgpt.auth"]         = "lua/chatgpt/auth.lua",
    ["chatgpt.budget"]       = "lua/chatgpt/budget.lua",
    ["chatgpt.call"]         = "lua/chatgpt/call.lua",
    ["chatgpt.cli"]          = "lua/chatgpt/cli.lua",
    ["chatgpt.cli_args"]     = "lua/chatgpt/cli_args.lua",
    ["chatgpt.cli_attach"]   = "lua/chatgpt/cli_attach.lua",
    ["chatgpt.cli_client"]   = "lua/chatgpt/cli_client.lua",
    ["chatgpt.cli_config"]   = "lua/chatgpt/cli_config.lua",
    ["chatgpt.cli_state"]    = "lua/chatgpt/cli_state.lua",
    ["chatgpt.cli_term"]     = "lua/chatgpt/cli_term.lua",
    ["chatgpt.cli_words"]    = "lua/chatgpt/cli_words.lua",
    ["chatgpt.client"]       = "lua/chatgpt/client.lua",
    ["chatgpt.compat"]       = "lua/chatgpt/compat.lua",
    ["chatgpt.conversation"] = "lua/chatgpt/conversation.lua",
    ["chatgpt.kept_message"] = "lua/chatgpt/kept_message.lua",
    ["chatgpt.endpoints"]    = "lua/chatgpt/endpoints.lua",
    ["chatgpt.error"]        = "lua/chatgpt/error.lua",
    ["chatgpt.form"]         = "lua/chatgpt/form.lua",
    ["chatgpt.health"]       = "lua/chatgpt/health.lua",
    ["chatgpt.lazy"]         = "lua/chatgpt/lazy.lua",
    ["chatgpt.line_editor"]  = "lua/chatgpt/line_editor.lua",
    ["chatgpt.log"]          = "lua/chatgpt/log.lua",
    ["chatgpt.loop"]         = "lua/chatgpt/loop.lua",
    ["chatgpt.parts"]        = "lua/chatgpt/parts.lua",
    ["chatgpt.pending"]      = "lua/chatgpt/pending.lua",
    ["chatgpt.repl"]         = "lua/chatgpt/repl.lua",
    ["chatgpt.request"]      = "lua/chatgpt/request.lua",
    ["chatgpt.response_items"] = "lua/chatgpt/response_items.lua",
    ["chatgpt.response_stream"] = "lua/chatgpt/response_stream.lua",
    ["chatgpt.responses"]    = "lua/chatgpt/responses.lua",
    ["chatgpt.responses_conversation"] = "lua/chatgpt/responses_conversation.lua",
    ["chatgpt.retry"]        = "lua/chatgpt/retry.lua",
    ["chatgpt.savefile"]     = "lua/chatgpt/savefile.lua",
    ["chatgpt.stream"]       = "lua/chatgpt/stream.lua",
    ["chatgpt.tables"]       = "lua/chatgpt/tables.lua",
    ["chatgpt.tokenizer"]    = "lua/chatgpt/tokenizer.lua",
    ["chatgpt.tools"]        = "lua/chatgpt/tools.lua",
    ["chatgpt.uv"]           = "lua/chatgpt/uv.lua",
  },
  -- LuaRocks wraps it in a script that sets the paths and runs the Lua
  -- this rock is installed for
  install = {
    bin = { chatgpt = "bin/chatgpt" },
    -- the tokenizer's vocabularies, beside tokenizer.lua in chatgpt/vocab/
    -- (a file that is not .lua keeps its name there)
    lua = {
      ["chatgpt.vocab.o200k_base"] = "lua/chatgpt/vocab/o200k_base.bpe",
      ["chatgpt.vocab.cl100k_base"] = "lua/chatgpt/vocab/cl100k_base.bpe",
    },
  },
}

-- What the specs load besides the module: busted runs them, luasocket
-- drives the fake server (spec/support/fake.lua), lua-cjson checks the
-- core's JSON against a second codec. The fake server itself needs python3.
test_dependencies = {
  "busted",
  "luasocket",
  "lua-cjson",
}

test = {
  type = "busted",
}

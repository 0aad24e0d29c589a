-- A chat, blocking then streamed. `make demo` runs it:
--   against the API when OPENAI_API_KEY is set, else the bundled local server.
local server = dofile((debug.getinfo(1, "S").source:match("^@(.*)[/\\]") or ".") .. "/server.lua")
local chatgpt = require "chatgpt"

local client = chatgpt.new { base_url = server.base_url(), model = "gpt-4o-mini" }

local text, response, info = client:chat {
  chatgpt.system "You are a helpful assistant.",
  chatgpt.user "Who won the world series in 2020?",
}
if not text then error(tostring(response)) end
print(text)
print(("(%d tokens, request %s, %.2f s)"):format(response.usage.total_tokens,
      tostring(info.request_id), info.elapsed))

io.write("\nstreamed: ")
local story, err = client:chat("Tell me a very short story.", {
  on_delta = function(piece) io.write(piece); io.flush() end,
})
print()
if not story then error(tostring(err)) end

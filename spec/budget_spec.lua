-- chatgpt.count_tokens(messages, model): the prompt tokens of a chat
-- request, checked against what the real captures were billed
-- (usage.prompt_tokens of spec/fixtures/wire).
local cjson = require("cjson.safe").new()
local chatgpt = require "chatgpt"
local wire = require "spec.support.wire"

-- the usage a capture reports: its JSON body's, or the last SSE chunk's
local function usage_of(base)
  local ok, body = pcall(wire.read, base .. ".json")
  if ok then return (cjson.decode(body) or {}).usage end
  ok, body = pcall(wire.read, base .. ".sse")
  if not ok then return nil end
  local usage
  for line in body:gmatch("[^\n]+") do
    local chunk = line:match("^data: ?(.*)") and cjson.decode(line:match("^data: ?(.*)"))
    if type(chunk) == "table" and type(chunk.usage) == "table" then usage = chunk.usage end
  end
  return usage
end

-- requests whose prompt is messages alone: no tools, functions, schema or
-- image, which the documented framing does not cover
local OTHER = { tools = true, functions = true, response_format = true }
local function plain(req)
  for k in pairs(req) do if OTHER[k] then return false end end
  for _, m in ipairs(req.messages or {}) do
    if type(m.content) ~= "string" then return false end
  end
  return req.messages ~= nil
end

describe("chatgpt.count_tokens", function()
  local checked, fives = 0, 0
  for _, name in ipairs(wire.list("^chat_.*%.request%.json$")) do
    local base = name:gsub("%.request%.json$", "")
    local req = cjson.decode(wire.read(name))
    local usage = usage_of(base)
    if usage and plain(req) then
      checked = checked + 1
      if req.model:find("^gpt%-5") then fives = fives + 1 end
      it("gives the prompt tokens " .. base .. " was billed", function()
        assert.equal(usage.prompt_tokens, chatgpt.count_tokens(req.messages, req.model))
      end)
    end
  end

  it("is checked against captures of the gpt-4o era and of the gpt-5 family", function()
    assert.is_true(checked >= 8, "only " .. checked .. " captures")
    assert.is_true(fives >= 2)
  end)

  it("counts OpenAI's framing: 3 per message, its role and name (+1), 3 for the reply", function()
    local tok = assert(chatgpt.tokenizer("gpt-4o"))
    local m = { { role = "system", content = "Be brief." },
                { role = "user", name = "ann", content = "Hello there" } }
    local texts = tok:count("system") + tok:count("Be brief.") + tok:count("user") + tok:count("ann")
      + tok:count("Hello there")
    assert.equal(3 + 3 + 1 + 3 + texts, chatgpt.count_tokens(m, "gpt-4o"))
    -- the gpt-5 family: the reply is primed with 2
    assert.equal(3 + 3 + 1 + 2 + texts, chatgpt.count_tokens(m, "gpt-5-mini"))
    -- gpt-3.5-turbo-0301: 4 a message, a name -1
    local old = assert(chatgpt.tokenizer("gpt-3.5-turbo-0301"))
    texts = old:count("system") + old:count("Be brief.") + old:count("user") + old:count("ann")
      + old:count("Hello there")
    assert.equal(4 + 4 - 1 + 3 + texts, chatgpt.count_tokens(m, "gpt-3.5-turbo-0301"))
  end)

  it("takes a string as one user message", function()
    assert.equal(chatgpt.count_tokens({ { role = "user", content = "hi" } }, "gpt-4o"),
                 chatgpt.count_tokens("hi", "gpt-4o"))
  end)

  it("counts text parts, tool calls and tool results", function()
    local tok = assert(chatgpt.tokenizer("gpt-4.1"))
    local m = {
      { role = "user", content = { { type = "text", text = "What is in" }, { type = "text", text = " Paris?" } } },
      { role = "assistant", tool_calls = { { id = "c1", type = "function",
        ["function"] = { name = "weather", arguments = '{"city":"Paris"}' } } } },
      { role = "tool", tool_call_id = "c1", content = "sunny" },
    }
    local n = 3 + 3 * 3 + tok:count("user") + tok:count("What is in") + tok:count(" Paris?")
      + tok:count("assistant") + tok:count("weather") + tok:count('{"city":"Paris"}')
      + tok:count("tool") + tok:count("c1") + tok:count("sunny")
    assert.equal(n, chatgpt.count_tokens(m, "gpt-4.1"))
  end)

  it("returns nil, err for a model whose encoding is not known, never a guess", function()
    local n, err = chatgpt.count_tokens("hi", "llama-3-70b")
    assert.is_nil(n)
    assert.matches("no known encoding for 'llama%-3%-70b'", err)
  end)

  it("raises for arguments of the wrong type", function()
    assert.has_error(function() chatgpt.count_tokens(42, "gpt-4o") end,
      "bad argument #1 to 'count_tokens' (string or list of messages expected, got number)")
    assert.has_error(function() chatgpt.count_tokens("hi") end,
      "bad argument #2 to 'count_tokens' (string expected, got nil)")
  end)
end)

-- What a client sends: method, path, query, headers and JSON body, byte for
-- byte where it matters; and what chat, complete and models give back.
local chatgpt = require "chatgpt"
local fake = require "spec.support.fake"
local T = require "spec.support.client"
local math_type = require("chatgpt.compat").math_type
local versions = require "spec.support.versions"
local it_ints = versions.gate(versions.INTS, versions.INTS_WHY, it, pending)

local function header(rec, name) return rec.header[name:lower()] end

describe("client:chat", function()
  before_each(function() T.drain(); fake.reset() end)

  it("returns the text, the decoded response and info", function()
    local c = T.new()
    local text, response, info = c:chat { chatgpt.system "Be brief.", chatgpt.user "Hi" }
    assert.equal(T.HELLO, text)
    assert.equal("chat.completion", response.object)
    assert.equal(200, info.status)
    assert.truthy(info.request_id:match("^req_"))
    assert.equal(1, info.attempts)
    assert.is_number(info.elapsed)
  end)

  it("sends POST /v1/chat/completions with the messages and the default model", function()
    T.new():chat { chatgpt.system "S", chatgpt.user "U" }
    local rec = fake.last()
    assert.equal("POST", rec.method)
    assert.equal("/v1/chat/completions", rec.path)
    assert.equal("", rec.query)
    assert.equal("gpt-4o-mini", rec.json.model)
    assert.same({ { role = "system", content = "S" }, { role = "user", content = "U" } },
                rec.json.messages)
  end)

  it("takes a plain string as one user message", function()
    T.new():chat("Just this")
    assert.same({ { role = "user", content = "Just this" } }, fake.last().json.messages)
  end)

  it("uses the client's model, and params.model over it", function()
    local c = T.new { model = "gpt-4.1" }
    c:chat("a")
    assert.equal("gpt-4.1", fake.last().json.model)
    c:chat("a", { model = "o3-mini" })
    assert.equal("o3-mini", fake.last().json.model)
  end)

  it("passes every API param through untouched", function()
    T.new():chat("a", {
      temperature = 0.25, max_tokens = 100, n = 1, top_p = 0.5,
      response_format = { type = "json_object" }, user = "u-1",
      tools = { { type = "function", ["function"] = { name = "f", parameters = { type = "object" } } } },
      tool_choice = "auto", reasoning_effort = "low",
    })
    local j = fake.last().json
    assert.equal(0.25, j.temperature)
    assert.equal(100, j.max_tokens)
    assert.equal(0.5, j.top_p)
    assert.same({ type = "json_object" }, j.response_format)
    assert.equal("u-1", j.user)
    assert.equal("f", j.tools[1]["function"].name)
    assert.equal("auto", j.tool_choice)
    assert.equal("low", j.reasoning_effort)
  end)

  it("does not send its own params (callbacks, max_retries, timeout)", function()
    T.new():chat("a", { max_retries = 0, timeout = 30, idle_timeout = 20 })
    local j = fake.last().json
    assert.is_nil(j.max_retries)
    assert.is_nil(j.timeout)
    assert.is_nil(j.idle_timeout)
    assert.is_nil(j.stream)
  end)

  it_ints("sends seed = 9007199254740993 exactly", function()
    T.new():chat("a", { seed = 9007199254740993 })
    assert.truthy(fake.last().body:find('"seed":9007199254740993', 1, true))
  end)

  it_ints("sends math.maxinteger exactly", function()
    T.new():chat("a", { seed = math.maxinteger })
    assert.truthy(fake.last().body:find('"seed":9223372036854775807', 1, true))
  end)

  it("sends integral numbers as integers on every Lua: seed = 2^53, n = 2.0", function()
    T.new():chat("a", { seed = 2 ^ 53, n = 2.0 })
    local body = fake.last().body
    assert.truthy(body:find('"seed":9007199254740992', 1, true), body)
    assert.truthy(body:find('"n":2[,}]'), body)
  end)

  it("sends an empty stop list as []", function()
    T.new():chat("a", { stop = {} })
    assert.truthy(fake.last().body:find('"stop":[]', 1, true))
  end)

  it("sends an empty tools list as []", function()
    T.new():chat("a", { tools = {} })
    assert.truthy(fake.last().body:find('"tools":[]', 1, true))
  end)

  it("sends an empty table as [] under each list field of the API, and as {} elsewhere", function()
    local lists = { "functions", "tool_calls", "content", "required", "enum", "anyOf", "allOf",
                    "oneOf", "prefixItems", "input", "prompt", "modalities", "annotations" }
    local params = { metadata = {} }
    for _, k in ipairs(lists) do params[k] = {} end
    T.new():chat("a", params)
    local body = fake.last().body
    for _, k in ipairs(lists) do
      assert.truthy(body:find('"' .. k .. '":[]', 1, true), k)
    end
    assert.truthy(body:find('"metadata":{}', 1, true))
  end)

  it("sends logit_bias with integer token ids as an object", function()
    T.new():chat("a", { logit_bias = { [50256] = -100 } })
    assert.truthy(fake.last().body:find('"logit_bias":{"50256":-100}', 1, true))
  end)

  it("sends chatgpt.null as JSON null", function()
    T.new():chat("a", { stop = chatgpt.null })
    assert.truthy(fake.last().body:find('"stop":null', 1, true))
  end)

  it("sends multi-byte UTF-8 content intact", function()
    T.new():chat("héllo wörld ✓ 日本語 🎉")
    assert.equal("héllo wörld ✓ 日本語 🎉", fake.last().json.messages[1].content)
  end)

  it("sends content parts (vision) as given", function()
    T.new():chat { chatgpt.user { { type = "text", text = "What is this?" },
      { type = "image_url", image_url = { url = "data:image/png;base64,AAAA" } } } }
    local m = fake.last().json.messages[1]
    assert.equal("text", m.content[1].type)
    assert.equal("data:image/png;base64,AAAA", m.content[2].image_url.url)
  end)

  it("sends an assistant message with tool_calls and no content, and the tool reply", function()
    T.new():chat {
      chatgpt.user "weather?",
      chatgpt.message("assistant", nil, { tool_calls = { { id = "call_1", type = "function",
        ["function"] = { name = "w", arguments = "{}" } } } }),
      chatgpt.message("tool", "sunny", { tool_call_id = "call_1" }),
    }
    local m = fake.last().json.messages
    assert.equal("call_1", m[2].tool_calls[1].id)
    assert.equal("call_1", m[3].tool_call_id)
  end)

  it("raises on invalid UTF-8 in a message before sending anything", function()
    local c = T.new()
    local n = #fake.requests()
    assert.has_error(function() c:chat("bad \255 byte") end)
    local ok, err = pcall(c.chat, c, "bad \255 byte")
    assert.is_false(ok)
    assert.truthy(err:find("UTF%-8"))
    assert.truthy(err:find("messages"))
    assert.equal(n, #fake.requests())
  end)

  it("raises on an unknown role, naming the message", function()
    local ok, err = pcall(T.new().chat, T.new(), { { role = "bot", content = "x" } })
    assert.is_false(ok)
    assert.truthy(err:find("bad message #1"))
    assert.truthy(err:find("unknown role 'bot'"))
  end)

  it("chatgpt.message and the role helpers raise at the caller's line, in their own name", function()
    local function err_of(f)
      local ok, err = pcall(f)
      assert.is_false(ok)
      assert.truthy(err:find("^[^:]*client_spec.lua:%d+: "), err)
      return err:gsub("^[^:]*client_spec.lua:%d+: ", "")
    end
    assert.equal("bad argument #1 to 'message' (unknown role 'bot' (system, developer, user, "
                 .. "assistant or tool))", err_of(function() chatgpt.message("bot", "x") end))
    assert.equal("bad argument #1 to 'message' (string expected, got nil)",
                 err_of(function() chatgpt.message(nil, "x") end))
    assert.equal("bad argument #2 to 'message' (user message without content)",
                 err_of(function() chatgpt.message("user") end))
    assert.equal("bad argument #3 to 'message' (table expected, got number)",
                 err_of(function() chatgpt.message("user", "x", 5) end))
    assert.equal("bad argument #2 to 'user' (table expected, got number)",
                 err_of(function() chatgpt.user("x", 5) end))
  end)

  it("core.message returns nil, why and the argument at fault, and raises nothing", function()
    local core = require "chatgpt.core"
    local cases = {
      { { "bot", "x" }, 1, "unknown role 'bot'" },
      { { 5, "x" }, 1, "string expected, got number" },
      { { "user", nil }, 2, "user message without content" },
      { { "user", 5 }, 2, "content must be a string or a list of parts, got number" },
      { { "user", "x", "f" }, 3, "table expected, got string" },
      { { "tool", "x" }, 3, "tool message without tool_call_id" },
    }
    for _, c in ipairs(cases) do
      local ok, m, why, n = pcall(core.message, c[1][1], c[1][2], c[1][3])
      assert.is_true(ok, tostring(m))
      assert.is_nil(m)
      assert.truthy(why:find(c[3], 1, true), why)
      assert.equal(c[2], n, why)
    end
    assert.same({ role = "tool", content = "x", tool_call_id = "1" },
                core.message("tool", "x", { tool_call_id = "1", role = "user" }))
  end)

  it("raises at the caller's line from every method, first call or not", function()
    -- a level passed through a tail call, or a stand-in frame, would name
    -- another line (or none) on one Lua version or another
    for _ = 1, 2 do
      local c = T.new()
      for i, call in ipairs {
        function() c:chat_async(42) end, function() c:complete_async(42) end,
        function() c:embed_async(42) end, function() c:models_async(42) end,
        function() c:chat("x", "nt") end, function() c:chat_async("x", "nt") end,
        function() c:chat("x", { timeout = -1 }) end, function() c:complete("x", "nt") end,
        function() c:chat("x", { f = function() end }) end,
        function() c:respond("x", "nt") end, function() c:respond_async(42) end,
        function() c:request("GET", "/x", nil, "nt") end, function() c:moderate(42) end,
        function() c:conversation { bad = 1 } end,
        function() c:conversation { api = "responses", bad = 1 } end,
        function() c:conversation():say(42) end,
      } do
        local ok, err = pcall(call)
        assert.is_false(ok, i)
        assert.truthy(err:find("^spec/client_spec.lua:%d+: bad argument"), i .. ": " .. err)
      end
    end
  end)

  it("raises at the caller's line on bad arguments", function()
    local c = T.new()
    local ok, err = pcall(function() c:chat(42) end)
    assert.is_false(ok)
    assert.truthy(err:find("client_spec.lua:%d+:"))
    ok, err = pcall(function() c:chat("x", "not a table") end)
    assert.is_false(ok)
    assert.truthy(err:find("bad argument #2 to 'chat' (params: table expected, got string)", 1, true))
    ok, err = pcall(function() c:chat("x", { tools = { { handler = print } } }) end)
    assert.is_false(ok)
    assert.truthy(err:find("^[^:]*client_spec.lua:%d+: bad argument #2 to 'chat' %(cannot encode: "
                           .. "a function at tools%[1%]%.handler%)$"), err)
  end)

  it("raises on an empty message list", function()
    assert.has_error(function() T.new():chat({}) end)
  end)

  it("raises on a message without content", function()
    assert.has_error(function() T.new():chat { { role = "user" } } end)
  end)

  it("raises on a tool message without tool_call_id", function()
    assert.has_error(function() T.new():chat { { role = "tool", content = "x" } } end)
  end)

  it("raises when a param has the wrong type (on_delta not a function)", function()
    assert.has_error(function() T.new():chat("a", { on_delta = "nope" }) end)
  end)

  it("raises on a value JSON cannot hold (a function in params)", function()
    local ok, err = pcall(function() T.new():chat("a", { user = print }) end)
    assert.is_false(ok)
    assert.truthy(err:find("function"))
  end)
end)

-- What the bundled server answers by itself (spec/support/fakeapi/model.py),
-- so that every documented example runs against it without a key.
describe("the bundled server's chat answers", function()
  before_each(function() T.drain(); fake.reset() end)

  local WEATHER = { { type = "function", ["function"] = { name = "get_weather",
    parameters = { type = "object", properties = { city = { type = "string" } }, required = { "city" } } } } }

  it("fill a json_schema response_format with an object that fits the schema", function()
    local schema = { type = "object", additionalProperties = false, required = { "colours", "n" },
      properties = { colours = { type = "array", items = { type = "string" } }, n = { type = "integer" } } }
    local text = assert(T.new():chat("Three colours", { response_format = { type = "json_schema",
      json_schema = { name = "colours", schema = schema, strict = true } } }))
    assert.same({ colours = { "x" }, n = 1 }, require("chatgpt.core").decode(text))
  end)

  it("call the first tool when tools are given, streamed or not, and answer its result", function()
    for _, stream in ipairs { false, true } do
      local got
      local text, r = T.new():chat("Is it warm in Paris?", { tools = WEATHER, stream = stream,
        on_tool_call = stream and function(call) got = call end or nil })
      assert.is_nil(text)
      local call = r.choices[1].message.tool_calls[1]
      assert.equal("tool_calls", r.choices[1].finish_reason)
      assert.equal("get_weather", call["function"].name)
      assert.equal('{"city":"x"}', call["function"].arguments)
      if stream then assert.same(call, got) end
      text = assert(T.new():chat({ chatgpt.user "Is it warm in Paris?",
        chatgpt.message("assistant", nil, { tool_calls = { call } }),
        chatgpt.message("tool", '{"temp_c":21}', { tool_call_id = call.id }) }, { tools = WEATHER, stream = stream }))
      assert.equal('Tool said: {"temp_c":21}', text)
    end
  end)

  it("answer with text when tool_choice is none", function()
    assert.equal(T.HELLO, (T.new():chat("Hi", { tools = WEATHER, tool_choice = "none" })))
  end)
end)

describe("client:chat's text", function()
  before_each(function() T.drain(); fake.reset() end)

  local function answer(message)
    local body = '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
      .. '"message":' .. message .. ',"finish_reason":"stop"}]}'
    fake.script { path = "/chat/completions", body = body, headers = { { "Content-Type", "application/json" } } }
  end
  local function chunks(delta)
    local c = '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
    fake.script { path = "/chat/completions", sse = { c .. '"delta":' .. delta .. ',"finish_reason":null}]}',
                                                      c .. '"delta":{},"finish_reason":"stop"}]}', "[DONE]" } }
  end

  it("is the content of an answer whose tool_calls is [], streamed or not", function()
    answer('{"role":"assistant","content":"hi","tool_calls":[]}')
    assert.equal("hi", (T.new():chat("x")))
    chunks('{"role":"assistant","content":"hi","tool_calls":[]}')
    assert.equal("hi", (T.new():chat("x", { stream = true })))
  end)

  it("is the content of an answer with both content and a refusal; the refusal stays in the message", function()
    answer('{"role":"assistant","content":"partial","refusal":"I cannot finish that."}')
    local text, response = T.new():chat("x")
    assert.equal("partial", text)
    assert.equal("I cannot finish that.", response.choices[1].message.refusal)
    chunks('{"role":"assistant","content":"partial","refusal":"No."}')
    text, response = T.new():chat("x", { stream = true })
    assert.equal("partial", text)
    assert.equal("No.", response.choices[1].message.refusal)
  end)
end)

describe("request headers", function()
  before_each(function() T.drain(); fake.reset() end)

  it("sends Authorization: Bearer with the key", function()
    T.new():chat("a")
    assert.equal("Bearer " .. T.KEY, header(fake.last(), "authorization"))
  end)

  it("sends Content-Type and Accept for JSON", function()
    T.new():chat("a")
    local rec = fake.last()
    assert.equal("application/json", header(rec, "content-type"))
    assert.equal("application/json", header(rec, "accept"))
  end)

  it("sends a User-Agent naming lua-chatgpt and its version", function()
    T.new():chat("a")
    local ua = header(fake.last(), "user-agent")
    assert.equal("lua-chatgpt/" .. chatgpt._VERSION:match("%d+%.%d+%.%d+$"), ua)
  end)

  it("sends OpenAI-Organization and OpenAI-Project when set", function()
    T.new { organization = "org-1", project = "proj_2" }:chat("a")
    local rec = fake.last()
    assert.equal("org-1", header(rec, "openai-organization"))
    assert.equal("proj_2", header(rec, "openai-project"))
  end)

  it("sends no organization or project header by default", function()
    T.new():chat("a")
    local rec = fake.last()
    assert.is_nil(header(rec, "openai-organization"))
    assert.is_nil(header(rec, "openai-project"))
  end)

  it("sends extra headers", function()
    T.new { headers = { ["X-Trace"] = "abc", ["HTTP-Referer"] = "https://x.example" } }:chat("a")
    local rec = fake.last()
    assert.equal("abc", header(rec, "x-trace"))
    assert.equal("https://x.example", header(rec, "http-referer"))
  end)

  it("sends no Expect: 100-continue even for big bodies", function()
    T.new():chat(string.rep("x", 200000))
    assert.is_nil(header(fake.last(), "expect"))
  end)

  it("uses api-key auth for Azure", function()
    T.new { auth = "api-key" }:chat("a")
    local rec = fake.last()
    assert.equal(T.KEY, header(rec, "api-key"))
    assert.is_nil(header(rec, "authorization"))
  end)

  it("sends no credentials with auth = none", function()
    T.new { auth = "none" }:chat("a")
    local rec = fake.last()
    assert.is_nil(header(rec, "authorization"))
    assert.is_nil(header(rec, "api-key"))
  end)

  it("adds query parameters (Azure api-version) to every request", function()
    local c = T.new { query = { ["api-version"] = "2024-10-21" } }
    c:chat("a")
    local rec = fake.last()
    assert.equal("api-version=2024-10-21", rec.query)
    c:models()
    assert.equal("api-version=2024-10-21", fake.last().query)
  end)

  it("refuses a client query whose value is not a string or a number (it would go out as 'table: 0x...')", function()
    for _, v in ipairs { { "a" }, { k = "v" }, true } do
      assert.has_error(function() T.new { query = { include = v } } end,
        "bad argument #1 to 'new' (option 'query': names and values are strings or numbers, got string = "
        .. type(v) .. ")")
    end
  end)

  it("percent-encodes query parameters", function()
    T.new { query = { q = "a b&c" } }:chat("a")
    assert.equal("q=a%20b%26c", fake.last().query)
  end)

  it("keeps a base_url path prefix (Azure deployments)", function()
    local c = T.new { base_url = fake.url("/openai/deployments/my-gpt"), auth = "api-key" }
    assert.equal(T.HELLO, (c:chat("a")))
    assert.equal("/openai/deployments/my-gpt/chat/completions", fake.last().path)
  end)

  it("ignores a trailing slash in base_url", function()
    T.new { base_url = fake.base_url() .. "/" }:chat("a")
    assert.equal("/v1/chat/completions", fake.last().path)
  end)
end)

describe("client:complete", function()
  before_each(function() T.drain(); fake.reset() end)

  it("returns the text of the legacy completion", function()
    local text, response, info = T.new():complete("Once upon a time",
      { model = "gpt-3.5-turbo-instruct", max_tokens = 100 })
    assert.equal("Once upon a time there was a fake server.", text)
    assert.equal("text_completion", response.object)
    assert.equal(200, info.status)
  end)

  it("sends POST /v1/completions with prompt, model and params", function()
    T.new():complete("Once upon a time", { model = "gpt-3.5-turbo-instruct", max_tokens = 100 })
    local rec = fake.last()
    assert.equal("POST", rec.method)
    assert.equal("/v1/completions", rec.path)
    assert.equal("Once upon a time", rec.json.prompt)
    assert.equal("gpt-3.5-turbo-instruct", rec.json.model)
    assert.equal(100, rec.json.max_tokens)
    assert.truthy(rec.body:find('"max_tokens":100', 1, true))
  end)

  it("raises when the prompt is not a string or list", function()
    assert.has_error(function() T.new():complete(12) end)
  end)
end)

describe("client:models", function()
  before_each(function() T.drain(); fake.reset() end)

  it("returns the list of models", function()
    local list, response = T.new():models()
    assert.equal("list", response.object)
    local ids = {}
    for _, m in ipairs(list) do ids[m.id] = true end
    assert.truthy(ids["gpt-4o-mini"])
  end)

  it("sends GET /v1/models with no body", function()
    T.new():models()
    local rec = fake.last()
    assert.equal("GET", rec.method)
    assert.equal("/v1/models", rec.path)
    assert.equal("", rec.body)
    assert.is_nil(header(rec, "content-type"))
  end)
end)

describe("client:embed", function()
  before_each(function() T.drain(); fake.reset() end)

  it("returns one vector of floats per input", function()
    local vectors = T.new():embed { "a", "b" }
    assert.equal(2, #vectors)
    assert.equal(8, #vectors[1])
    assert.equal("float", math_type(vectors[1][1]))
  end)

  it("decodes base64 embeddings to the same floats", function()
    local c = T.new()
    local plain = c:embed("same text")
    local b64 = c:embed("same text", { encoding_format = "base64" })
    assert.equal(#plain[1], #b64[1])
    for i = 1, #plain[1] do assert.near(plain[1][i], b64[1][i], 1e-6) end
  end)
end)

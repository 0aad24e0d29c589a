-- Every kind of request the module makes, built through its public API
-- against the fake server, then checked against the official OpenAPI
-- description of the API (spec/fixtures/openapi.yaml, a copy of
-- ../shared/wire/openapi.yaml) by spec/support/openapi_check.py: JSON
-- bodies, multipart fields and query strings, each against the schema of
-- its operation. openapi_check.py says how the description's quirks are
-- read; the last blocks show that wrong requests still fail.
local chatgpt = require "chatgpt"
local cjson = require("cjson").new()
local fake = require "spec.support.fake"
local openapi = require "spec.support.openapi"
local wire = require "spec.support.wire"
local T = require "spec.support.client"

local PNG = "\137PNG\r\n\26\n" .. ("\0"):rep(32)

-- The requests since the last reset: their operations, in order, and what
-- the description finds wrong with each ("METHOD PATH: error").
local function checked()
  local ops, problems = {}, {}
  for i, rec in ipairs(fake.requests()) do
    local errors, op = openapi.check(rec)
    ops[i] = op or (rec.method .. " " .. rec.path)
    for _, e in ipairs(errors) do
      problems[#problems + 1] = "#" .. i .. " " .. rec.method .. " " .. rec.path .. " " .. e
    end
  end
  return ops, problems
end

-- Asserts the requests since the last reset were these operations, each
-- valid.
local function valid(operations)
  local ops, problems = checked()
  assert.same({}, problems)
  assert.same(operations, ops)
end

-- A capture as the next reply of path.
local function replay(name, path)
  local status, headers = wire.headers(name)
  fake.script { status = status, headers = headers, body = wire.read(name), path = path }
end

-- Asserts a call gave no error (a pure tool call gives no text): its response.
local function answered(text, response)
  assert(text ~= nil or not chatgpt.is_error(response), tostring(response))
  return response
end

-- A chat.completion whose message (JSON text) asks for tools.
local function tool_call_reply(message)
  return { path = "/chat/completions", body = '{"id":"chatcmpl-1","object":"chat.completion","created":1,'
    .. '"model":"gpt-4o-mini","choices":[{"index":0,"message":' .. message .. ',"logprobs":null,'
    .. '"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}' }
end

local WEATHER = { description = "Weather in a city", strict = true,
  parameters = { type = "object", properties = { city = { type = "string" } },
                 required = { "city" }, additionalProperties = false } }

describe("requests, checked against the official OpenAPI description", function()
  before_each(function() T.drain(); fake.reset() end)
  after_each(T.drain)
  setup(openapi.start)
  teardown(openapi.stop)

  it("reads the copy of ../shared/wire/openapi.yaml in spec/fixtures (else: make fixtures)", function()
    local copy = T.read(openapi.DESCRIPTION)
    assert.truthy(copy and #copy > 1000000, "no " .. openapi.DESCRIPTION)
    local shared = T.read((os.getenv("SHARED_WIRE") or "../shared/wire") .. "/openapi.yaml")
    if shared == nil then
      pending("no ../shared/wire beside the repository: nothing to compare the copy with")
      return
    end
    assert.is_true(copy == shared, openapi.DESCRIPTION .. " differs from ../shared/wire/openapi.yaml")
  end)

  describe("chat", function()
    it("a message of each role, and an assistant's function tool calls with their results", function()
      local c = T.new()
      assert(c:chat("Hi"))
      assert(c:chat({
        chatgpt.system("Be terse."),
        chatgpt.developer("Answer in English."),
        chatgpt.user("Weather in Paris?", { name = "ada" }),
        { role = "assistant", content = chatgpt.null, tool_calls = {
          { id = "call_1", type = "function", ["function"] = { name = "weather", arguments = '{"city":"Paris"}' } },
        } },
        { role = "tool", tool_call_id = "call_1", content = "sunny" },
        chatgpt.assistant("Sunny.", { refusal = chatgpt.null }),
        chatgpt.user("Thanks"),
      }, { model = "gpt-4o" }))
      valid { "createChatCompletion", "createChatCompletion" }
    end)

    it("user content parts of each kind: text, image_url, input_audio, file", function()
      assert(T.new():chat({ chatgpt.user {
        { type = "text", text = "What is in these?" },
        { type = "image_url", image_url = { url = "https://example.com/cat.png", detail = "low" } },
        { type = "image_url", image_url = { url = "data:image/png;base64,iVBORw0KGgo=" } },
        { type = "input_audio", input_audio = { data = "UklGRg==", format = "wav" } },
        { type = "file", file = { file_id = "file-abc" } },
        { type = "file", file = { filename = "a.pdf", file_data = "data:application/pdf;base64,JVBERi0=" } },
      } }))
      assert(T.new():chat({ chatgpt.system { { type = "text", text = "parts" } },
                            chatgpt.assistant { { type = "text", text = "and parts" } },
                            chatgpt.user "ok" }))
      valid { "createChatCompletion", "createChatCompletion" }
    end)

    it("tools of each type (function, custom) and each tool_choice", function()
      local tools = {
        { type = "function", ["function"] = { name = "weather", description = WEATHER.description,
                                              parameters = WEATHER.parameters, strict = true } },
        { type = "custom", custom = { name = "grep", description = "Runs grep" } },
        { type = "custom", custom = { name = "sql", format = { type = "grammar",
          grammar = { syntax = "lark", definition = "start: \"SELECT\"" } } } },
        { type = "custom", custom = { name = "free", format = { type = "text" } } },
      }
      local c = T.new()
      for _, choice in ipairs {
        "auto", "none", "required",
        { type = "function", ["function"] = { name = "weather" } },
        { type = "custom", custom = { name = "grep" } },
        { type = "allowed_tools", allowed_tools = { mode = "auto",
          tools = { { type = "function", ["function"] = { name = "weather" } } } } },
      } do
        -- the bundled server may answer with a tool call: no text, but a response
        local _, response = c:chat("Weather?", { tools = tools, tool_choice = choice, parallel_tool_calls = false })
        assert(response and response.choices, tostring(response))
      end
      valid { "createChatCompletion", "createChatCompletion", "createChatCompletion",
              "createChatCompletion", "createChatCompletion", "createChatCompletion" }
    end)

    it("response_format json_object and json_schema, given or made by a conversation's say", function()
      local c = T.new()
      assert(c:chat("JSON please", { response_format = { type = "json_object" } }))
      assert(c:chat("JSON please", { response_format = { type = "json_schema", json_schema = {
        name = "answer", strict = true, schema = WEATHER.parameters } } }))
      fake.config { chat_text = '{"city":"Paris"}' }
      local conv = c:conversation { system = "JSON only" }
      assert(conv:say("A city?", { json = true }))
      assert(conv:say("Another?", { schema = { name = "city", schema = WEATHER.parameters } }))
      fake.config { chat_text = fake.null }
      valid { "createChatCompletion", "createChatCompletion", "createChatCompletion", "createChatCompletion" }
    end)

    it("a stream with include_usage, and the common parameters", function()
      local c = T.new()
      assert(c:chat("Hi", { on_delta = function() end, stream_options = { include_usage = true } }))
      assert(c:chat("Hi", { max_completion_tokens = 50, temperature = 0.5, top_p = 0.9, n = 2,
        stop = { "\n\n", "END" }, seed = 42, logprobs = true, top_logprobs = 2,
        presence_penalty = 0.1, frequency_penalty = -0.1, logit_bias = { ["50256"] = -100 },
        user = "u-1", store = false, metadata = { topic = "test" }, reasoning_effort = "low",
        service_tier = "auto", modalities = { "text" }, verbosity = "low", prompt_cache_key = "k" }))
      local conv = c:conversation {}
      assert(conv:say("Streamed", { stream = true }))
      valid { "createChatCompletion", "createChatCompletion", "createChatCompletion" }
    end)

    it("a conversation over several turns with a function tool (a real parallel tool call)", function()
      local conv = T.new():conversation { system = "Be terse." }
      conv:tool("get_current_weather", WEATHER, function(a) return { city = a.location, sky = "sunny" } end)
      replay("chat_tool_calls_parallel_gpt-3.5-turbo-0125_2024-07.json", "/chat/completions")
      assert(conv:say("Weather in San Francisco and Boston?"))
      assert(conv:say("And tomorrow?"))    -- the bundled server calls the tool again, then answers
      valid { "createChatCompletion", "createChatCompletion", "createChatCompletion", "createChatCompletion" }
    end)

    it("stored completions listed: metadata[key] in the query (deepObject)", function()
      fake.script { path = "/chat/completions", method = "GET",
                    json = { object = "list", data = {}, has_more = false } }
      assert(T.new():request("GET", "/chat/completions", nil, { query = {
        model = "gpt-4o-mini", metadata = { topic = "test", user = "ada" }, limit = 2, order = "desc" } }))
      assert.equal("limit=2&metadata%5Btopic%5D=test&metadata%5Buser%5D=ada&model=gpt-4o-mini&order=desc",
                   fake.last().query)
      valid { "listChatCompletions" }
    end)

    it("a conversation whose assistant asked for a custom tool sends the call back as received", function()
      local conv = T.new():conversation {}
      fake.script(tool_call_reply('{"role":"assistant","content":null,"refusal":null,"annotations":[],'
        .. '"tool_calls":[{"id":"call_c1","type":"custom","custom":{"name":"grep","input":"TODO src/"}}]}'))
      assert(conv:say("Find the TODOs", { tools = { { type = "custom", custom = { name = "grep" } } } }))
      valid { "createChatCompletion", "createChatCompletion" }
    end)
  end)

  describe("completions and embeddings", function()
    it("a prompt, a list of prompts, a stream", function()
      local c = T.new()
      assert(c:complete("Once", { model = "gpt-3.5-turbo-instruct", max_tokens = 5 }))
      assert(c:complete({ "One", "Two" }, { model = "gpt-3.5-turbo-instruct", echo = true,
                                            logprobs = 1, suffix = "." }))
      assert(c:complete("Once", { model = "gpt-3.5-turbo-instruct", on_delta = function() end,
                                  stream_options = { include_usage = true } }))
      valid { "createCompletion", "createCompletion", "createCompletion" }
    end)

    it("a text, a list, dimensions and base64", function()
      local c = T.new()
      assert(c:embed("Hello"))
      assert(c:embed({ "a", "b" }, { dimensions = 8, encoding_format = "base64", user = "u" }))
      assert(c:embed({ 1, 2, 3 }, { model = "text-embedding-3-small" }))
      valid { "createEmbedding", "createEmbedding", "createEmbedding" }
    end)
  end)

  describe("Responses", function()
    it("a text with the common fields, and a stream", function()
      local c = T.new()
      assert(c:respond("Hi", { instructions = "Be terse.", max_output_tokens = 64, temperature = 0.2,
        store = true, metadata = { k = "v" }, reasoning = { effort = "low", summary = "auto" },
        include = { "reasoning.encrypted_content", "message.output_text.logprobs" },
        text = { verbosity = "low" }, truncation = "auto", user = "u", service_tier = "auto",
        top_logprobs = 2, parallel_tool_calls = true, background = false }))
      assert(c:respond("Hi", { on_delta = function() end, stream_options = { include_obfuscation = false } }))
      valid { "createResponse", "createResponse" }
    end)

    it("input items of each kind", function()
      local items = {
        { role = "system", content = "Be terse." },
        { role = "developer", content = "Plain text." },
        { role = "user", content = "Hi" },
        { type = "message", role = "user", content = {
          { type = "input_text", text = "Look:" },
          { type = "input_image", image_url = "https://example.com/cat.png", detail = "auto" },
          { type = "input_image", file_id = "file-img", detail = "low" },
          { type = "input_file", file_id = "file-pdf" },
          { type = "input_file", filename = "a.pdf", file_data = "data:application/pdf;base64,JVBERi0=" },
          { type = "input_file", file_url = "https://example.com/a.pdf" },
        } },
        { type = "message", role = "assistant", id = "msg_1", status = "completed", content = {
          { type = "output_text", text = "Hello", annotations = chatgpt.array(), logprobs = chatgpt.array() } } },
        { type = "reasoning", id = "rs_1", encrypted_content = "gAAAA", summary = chatgpt.array() },
        { type = "reasoning", id = "rs_2", summary = { { type = "summary_text", text = "Thought" } } },
        { type = "function_call", call_id = "call_1", name = "weather", arguments = '{"city":"Paris"}' },
        { type = "function_call_output", call_id = "call_1", output = '{"sky":"sunny"}' },
        { type = "custom_tool_call", call_id = "call_2", name = "grep", input = "TODO" },
        { type = "custom_tool_call_output", call_id = "call_2", output = "src/a.lua:1: TODO" },
        { type = "web_search_call", id = "ws_1", status = "completed",
          action = { type = "search", query = "lua" } },
        { type = "file_search_call", id = "fs_1", status = "completed", queries = { "lua" } },
        { type = "image_generation_call", id = "ig_1", status = "completed", result = "iVBORw0KGgo=" },
        { type = "code_interpreter_call", id = "ci_1", status = "completed", container_id = "cntr_1",
          code = "print(1)", outputs = { { type = "logs", logs = "1" } } },
        { type = "local_shell_call", id = "ls_1", call_id = "call_3", status = "completed",
          action = { type = "exec", command = { "ls" }, env = chatgpt.object() } },
        { type = "local_shell_call_output", id = "lso_1", output = "a.lua" },
        { type = "shell_call", call_id = "call_4", action = { commands = { "ls" }, timeout_ms = 1000,
                                                              max_output_length = chatgpt.null } },
        { type = "shell_call_output", call_id = "call_4", max_output_length = chatgpt.null, output = {
          { stdout = "a.lua\n", stderr = "", outcome = { type = "exit", exit_code = 0 } } } },
        { type = "apply_patch_call", call_id = "call_5", status = "completed",
          operation = { type = "create_file", path = "a.lua", diff = "+print(1)\n" } },
        { type = "apply_patch_call_output", call_id = "call_5", status = "completed", output = "done" },
        { type = "computer_call", id = "cu_1", call_id = "call_6", status = "completed",
          pending_safety_checks = chatgpt.array(), action = { type = "click", button = "left", x = 1, y = 2 } },
        { type = "computer_call_output", call_id = "call_6",
          output = { type = "computer_screenshot", image_url = "data:image/png;base64,iVBORw0KGgo=" } },
        { type = "tool_search_call", call_id = "call_7", arguments = chatgpt.object() },
        { type = "tool_search_output", call_id = "call_7", tools = { { type = "web_search" } } },
        { type = "additional_tools", role = "developer", tools = { { type = "web_search" } } },
        { type = "mcp_list_tools", id = "mcpl_1", server_label = "docs", tools = {
          { name = "search", input_schema = { type = "object" } } } },
        { type = "mcp_approval_request", id = "mcpr_1", server_label = "docs", name = "search", arguments = "{}" },
        { type = "mcp_approval_response", approval_request_id = "mcpr_1", approve = true },
        { type = "mcp_call", id = "mcp_1", server_label = "docs", name = "search", arguments = "{}",
          output = "found", error = chatgpt.null },
        { type = "compaction", encrypted_content = "gAAAA" },
        { type = "compaction_trigger" },
        { type = "item_reference", id = "msg_0" },
      }
      assert(T.new():respond(items, { model = "gpt-4.1" }))
      valid { "createResponse" }
    end)

    it("tools of each type and each tool_choice, text.format json_object and json_schema", function()
      local tools = {
        { type = "function", name = "weather", description = "Weather", parameters = WEATHER.parameters,
          strict = true },
        { type = "custom", name = "grep", description = "Runs grep" },
        { type = "custom", name = "sql", format = { type = "grammar", syntax = "lark", definition = "start: \"S\"" } },
        { type = "web_search" },
        { type = "file_search", vector_store_ids = { "vs_1" }, max_num_results = 3 },
        { type = "code_interpreter", container = { type = "auto" } },
        { type = "image_generation" },
      }
      local c = T.new()
      for _, choice in ipairs { "auto", "none", "required", { type = "function", name = "weather" },
                                { type = "custom", name = "grep" }, { type = "file_search" } } do
        answered(c:respond("Weather?", { tools = tools, tool_choice = choice }))
      end
      assert(c:respond("JSON", { text = { format = { type = "json_object" } } }))
      assert(c:respond("JSON", { text = { format = { type = "json_schema", name = "w", strict = true,
                                                     schema = WEATHER.parameters } } }))
      valid { "createResponse", "createResponse", "createResponse", "createResponse", "createResponse",
              "createResponse", "createResponse", "createResponse" }
    end)

    it("a stored response retrieved (include[] in the query), cancelled and deleted", function()
      local c = T.new()
      local _, r = assert(c:respond("Hi"))
      assert(c:response(r.id, { include = { "reasoning.encrypted_content", "message.output_text.logprobs" } }))
      assert(c:response(r.id, { include_obfuscation = false }))
      c:response(r.id, { stream = true, starting_after = 3 })
      c:cancel_response(r.id)
      assert(c:delete_response(r.id))
      fake.script { path = "/input_items", json = { object = "list", data = {}, has_more = false } }
      assert(c:request("GET", "/responses/" .. r.id .. "/input_items",
        nil, { query = { limit = 5, order = "asc", include = { "message.input_image.image_url" } } }))
      valid { "createResponse", "getResponse", "getResponse", "getResponse", "cancelResponse",
              "deleteResponse", "listInputItems" }
    end)
  end)

  describe("Responses conversations", function()
    local function conv_of(opts)
      opts.api = "responses"
      return T.new():conversation(opts)
    end

    it("store on: several turns with a function tool go by previous_response_id", function()
      local conv = conv_of { instructions = "Be terse." }
      conv:tool("get_user_profile", WEATHER, function() return { name = "Ada" } end)
      replay("responses_function_call_gpt-4o-mini_2026-04.json", "/responses")
      replay("responses_previous_response_id_function_call_output_gpt-4o-mini_2026-04.json", "/responses")
      replay("responses_json_schema_gpt-4o-2024-08-06_2025-10.json", "/responses")
      replay("responses_json_schema_gpt-5-nano_2026-08.json", "/responses")
      assert(conv:say("Who is user123?"))
      assert(conv:say("And again?", { schema = { name = "w", schema = WEATHER.parameters } }))
      assert(conv:say("JSON?", { json = true }))
      valid { "createResponse", "createResponse", "createResponse", "createResponse" }
    end)

    it("store off: a function call and its output go back whole", function()
      local conv = conv_of { store = false }
      conv:tool("get_user_profile", WEATHER, function() return { name = "Ada" } end)
      replay("responses_function_call_gpt-4o-mini_2026-04.json", "/responses")
      replay("responses_basic_gpt-4o_2025-03.json", "/responses")
      assert(conv:say("Who is user123?"))
      valid { "createResponse", "createResponse" }
    end)

    -- Each output item goes back as received: its empty arrays as [],
    -- and the `id` that the description's OutputMessage requires.
    for _, name in ipairs {
      "responses_reasoning_encrypted_gpt-5-nano_2026-08.json",
      "responses_reasoning_summary_gpt-5.6-sol_2026-08.json",
      "responses_reasoning_phase_gpt-5.4_2026-08.json",
      "responses_web_search_gpt-5.2_2026-08.json",
      "responses_basic_gpt-4.1-nano_2026-03.json",
    } do
      it("store off: the items of " .. name .. " go back as received on the next turn", function()
          local conv = conv_of { store = false, params = { include = { "reasoning.encrypted_content" } } }
        replay(name, "/responses")
        assert(conv:say("First"))
        assert(conv:say("Second"))
        valid { "createResponse", "createResponse" }
      end)
    end
  end)

  describe("the other endpoints", function()
    it("moderations: a text, and parts with an image", function()
      local c = T.new()
      assert(c:moderate("I want to hug everyone"))
      assert(c:moderate({ { type = "text", text = "hi" },
                          { type = "image_url", image_url = { url = "https://example.com/a.png" } } },
                        { model = "omni-moderation-latest" }))
      assert(c:moderate({ "one", "two" }))
      valid { "createModeration", "createModeration", "createModeration" }
    end)

    it("images: generations, and edits and variations in multipart", function()
      local c = T.new()
      assert(c:image("a cat", { model = "gpt-image-1", size = "1024x1024", n = 1, quality = "low",
                                background = "transparent", output_format = "png", moderation = "low" }))
      assert(c:image("a cat", { model = "dall-e-3", response_format = "url", style = "vivid" }))
      local png, mask = T.tmpfile(PNG, ".png"), T.tmpfile(PNG, ".png")
      local reply = { json = { created = 1, data = { { b64_json = "iVBORw0KGgo=" } } } }
      for _, path in ipairs { "/images/edits", "/images/edits", "/images/variations" } do
        local r = { path = path }
        for k, v in pairs(reply) do r[k] = v end
        fake.script(r)
      end
      assert(c:request("POST", "/images/edits", chatgpt.form {
        model = "dall-e-2", image = chatgpt.file(png), mask = chatgpt.file(mask), prompt = "a hat",
        n = 2, size = "256x256", response_format = "b64_json" }))
      assert(c:request("POST", "/images/edits", chatgpt.form {
        model = "gpt-image-1", image = { chatgpt.file(png), chatgpt.file(mask) }, prompt = "together",
        quality = "high", input_fidelity = "high", output_compression = 80, stream = false }))
      assert(c:request("POST", "/images/variations", chatgpt.form {
        image = chatgpt.file(png), n = 1, size = "256x256" }))
      os.remove(png); os.remove(mask)
      valid { "createImage", "createImage", "createImageEdit", "createImageEdit", "createImageVariation" }
    end)

    it("audio: speech, transcriptions (arrays as name[]), a streamed one, translations", function()
      local c = T.new()
      local wav = T.tmpfile("RIFF....WAVEfmt ", ".wav")
      assert(c:speech("Hello", { voice = "coral", response_format = "mp3", speed = 1.25,
                                 instructions = "Cheerful", stream_format = "audio" }))
      assert(c:transcribe(wav, { model = "whisper-1", language = "en", prompt = "Lua",
        response_format = "verbose_json", temperature = 0.2,
        timestamp_granularities = { "word", "segment" } }))
      assert(c:transcribe(chatgpt.file(wav, "audio/wav", "talk.wav"), { model = "gpt-4o-transcribe",
        include = { "logprobs" }, chunking_strategy = { type = "server_vad", threshold = 0.5,
        prefix_padding_ms = 300 }, on_delta = function() end }))
      assert(c:transcribe(wav, { model = "gpt-4o-transcribe", chunking_strategy = "auto" }))
      fake.script { path = "/audio/translations", json = { text = "Hello" } }
      assert(c:request("POST", "/audio/translations", chatgpt.form {
        file = chatgpt.file(wav), model = "whisper-1", prompt = "Lua", response_format = "json",
        temperature = 0 }))
      os.remove(wav)
      valid { "createSpeech", "createTranscription", "createTranscription", "createTranscription",
              "createTranslation" }
    end)

    it("files: upload, list, retrieve, content, delete", function()
      local c = T.new()
      local path = T.tmpfile('{"a":1}\n', ".jsonl")
      local file = assert(c:upload(path, "batch"))
      assert(c:upload(chatgpt.file(path, "application/jsonl", "b.jsonl"), "user_data",
                      { expires_after = { anchor = "created_at", seconds = 3600 } }))
      assert(c:files { purpose = "batch", limit = 10, order = "asc", after = "file-0" })
      assert(c:request("GET", "/files/" .. file.id))
      assert(c:request("GET", "/files/" .. file.id .. "/content"))
      assert(c:delete_file(file.id))
      os.remove(path)
      valid { "createFile", "createFile", "listFiles", "retrieveFile", "downloadFile", "deleteFile" }
    end)

    it("uploads: create, add a part (multipart), complete, cancel", function()
      local c = T.new()
      local part = T.tmpfile(("x"):rep(64), ".bin")
      local upload = { id = "upload_1", object = "upload", status = "pending" }
      for _, p in ipairs { "/uploads", "/uploads/upload_1/parts", "/uploads/upload_1/complete",
                           "/uploads/upload_1/cancel" } do
        fake.script { path = p, json = upload }
      end
      assert(c:request("POST", "/uploads", { filename = "big.jsonl", purpose = "batch", bytes = 64,
                                             mime_type = "application/jsonl" }))
      assert(c:request("POST", "/uploads/upload_1/parts", chatgpt.form { data = chatgpt.file(part) }))
      assert(c:request("POST", "/uploads/upload_1/complete", { part_ids = { "part_1" }, md5 = "abc" }))
      assert(c:request("POST", "/uploads/upload_1/cancel"))
      os.remove(part)
      valid { "createUpload", "addUploadPart", "completeUpload", "cancelUpload" }
    end)

    it("models: the list and one model", function()
      local c = T.new()
      assert(c:models())
      assert(c:request("GET", "/models/gpt-4o-mini"))
      valid { "listModels", "retrieveModel" }
    end)
  end)

  describe("the checker", function()
    -- A body the module built, as a Lua value (cjson: a test-side codec).
    local function built(fn)
      fake.reset()
      fn(T.new())
      local rec = fake.last()
      assert.same({}, (openapi.check(rec)))
      return cjson.decode(rec.body), rec.method, rec.path
    end

    -- What the description finds wrong with the requests since the last
    -- reset, one line each, and how many.
    local function refused()
      local _, problems = checked()
      return table.concat(problems, "\n"), #problems
    end

    local function errors_of(body, method, path)
      local errors = openapi.check_json(method, path, cjson.encode(body))
      return table.concat(errors, "\n")
    end

    it("takes the real requests the captures hold (but one: the description requires strict)", function()
      local paths = { chat = "/v1/chat/completions", completions = "/v1/completions",
        embeddings = "/v1/embeddings", responses = "/v1/responses", moderations = "/v1/moderations",
        images_generations = "/v1/images/generations", audio_speech = "/v1/audio/speech" }
      local n = 0
      for _, name in ipairs(wire.list("%.request%.json$")) do
        local path = paths[name:match("^(images_generations)") or name:match("^(audio_speech)")
                           or name:match("^([a-z]+)_")]
        if path then
          n = n + 1
          local errors = openapi.check_json("POST", path, wire.read(name))
          if name == "responses_stream_function_call_gpt-4.1_2025-05.request.json" then
            -- the API took this tool without `strict`; the description requires it
            assert.same({ "body.tools[0]: 'strict' is a required property [as FunctionTool]" }, errors)
          else
            assert.same({}, errors, name)
          end
        end
      end
      assert.truthy(n > 40, n .. " captured requests")
    end)

    it("refuses a misspelt field where additionalProperties is false", function()
      local body, m, p = built(function(c) assert(c:embed("Hi", { dimensions = 8 })) end)
      body.dimension, body.dimensions = 8, nil
      assert.matches("Additional properties are not allowed %('dimension' was unexpected%)",
                     errors_of(body, m, p))
      body = built(function(c)
        assert(c:chat("Hi", { tools = { { type = "custom", custom = { name = "g", format = { type = "text" } } } } }))
      end)
      body.tools[1].custom.format.typ = "text"            -- inside a oneOf, read as anyOf
      assert.matches("body%.tools%[0%]%.custom%.format: Additional properties are not allowed %('typ' was unexpected%)",
                     errors_of(body, "POST", "/v1/chat/completions"))
    end)

    it("refuses a wrong type, a missing required field, and {} where an array is required", function()
      local body, m, p = built(function(c) assert(c:chat("Hi", { temperature = 0.5 })) end)
      body.temperature = "hot"
      assert.matches("body%.temperature: 'hot' is not of type 'number', 'null'", errors_of(body, m, p))
      body.temperature, body.messages = nil, nil
      assert.matches("'messages' is a required property", errors_of(body, m, p))
      body.messages = {}                     -- cjson: {}
      assert.matches("body%.messages: {} is not of type 'array'", errors_of(body, m, p))
      body = built(function(c)
        assert(c:respond { { type = "reasoning", id = "rs_1", encrypted_content = "g", summary = chatgpt.array() } })
      end)
      body.input[1].summary = {}             -- cjson: {}
      assert.matches("body%.input%[0%]%.summary: {} is not of type 'array'",
                     errors_of(body, "POST", "/v1/responses"))
    end)

    it("reads nullable (OpenAPI 3.0) as null allowed, and nothing else", function()
      local body, m, p = built(function(c) assert(c:chat("Hi", { max_completion_tokens = 5 })) end)
      body.max_completion_tokens = cjson.null
      assert.equal("", errors_of(body, m, p))
      body.max_completion_tokens = "5"
      assert.matches("body%.max_completion_tokens: '5' is not of type 'integer', 'null'", errors_of(body, m, p))
    end)

    it("takes an input message that two oneOf members match, and refuses one that none does", function()
      local item = { type = "message", role = "user", content = { { type = "input_text", text = "hi" } } }
      local body, m, p = built(function(c) assert(c:respond({ item })) end)
      assert.equal("", errors_of(body, m, p))
      body.input[1].role = "robot"
      local text = errors_of(body, m, p)
      assert.matches("body%.input%[0%]%.role: 'robot' is not one of %['user', 'system', 'developer'%]", text)
      assert.matches("%[as EasyInputMessage%]", text)
    end)

    it("refuses a form field sent without the [] of an array, and a misspelt one", function()
      local wav = T.tmpfile("RIFF", ".wav")
      local c = T.new()
      assert(c:request("POST", "/audio/transcriptions", chatgpt.form {
        file = chatgpt.file(wav), model = "whisper-1", timestamp_granularities = "word", temprature = 0 }))
      os.remove(wav)
      local text = refused()
      assert.matches("body%.timestamp_granularities: 'word' is not of type 'array'", text)
      assert.matches("'temprature' was unexpected", text)
    end)

    it("refuses a query array sent without [], and a parameter the operation does not have", function()
      local c = T.new()
      c:request("GET", "/responses/resp_1?include=reasoning.encrypted_content&limit=2")
      local text = refused()
      assert.matches("query%.include: 'reasoning%.encrypted_content' is not of type 'array'", text)
      assert.matches("query: limit is not a parameter of the operation", text)
    end)

    it("refuses a request the description has no operation for, or a body where it takes none", function()
      local c = T.new()
      c:request("POST", "/chat/complete", { model = "x" })
      c:request("POST", "/responses/resp_1/cancel", { now = true })
      local text, n = refused()
      assert.matches("no operation POST /chat/complete", text)
      assert.matches("body: POST /responses/resp_1/cancel takes none, 12 bytes sent", text)
      assert.equal(2, n)
    end)
  end)
end)

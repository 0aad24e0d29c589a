-- Real OpenAI responses (spec/fixtures/wire/) replayed byte for byte through the
-- fake server, headers included, and read back through the public API.
local cjson = require("cjson.safe").new()
local fake = require "spec.support.fake"
local wire = require "spec.support.wire"
local T = require "spec.support.client"
local math_type = require("chatgpt.compat").math_type

-- Queues a capture with its recorded status and headers.
local function replay(name)
  local status, headers = 200, nil
  if pcall(wire.read, (name:gsub("%.%w+$", "")) .. ".headers.txt") then
    status, headers = wire.headers(name)
  end
  local reply = { status = status, body = wire.read(name) }
  if headers then reply.headers = headers else reply.default_headers = true end
  fake.script(reply)
  return cjson.decode(wire.read(name)), headers
end

local function int(x) return math_type(x) == "integer" end

describe("non-streamed chat captures", function()
  before_each(function() T.drain(); fake.reset() end)

  for _, name in ipairs(wire.list("^chat_[^s].*%.json$")) do
    if not name:find("request%.json$") then
      it(name .. ": text, usage and choice read back as sent", function()
        local expect = replay(name)
        local text, response, info = T.new():chat("x")
        local m = expect.choices[1].message
        if m.content ~= cjson.null then
          assert.equal(m.content, text)
        elseif m.refusal ~= nil and m.refusal ~= cjson.null then
          assert.is_nil(text)
          assert.equal("refusal", response.kind)
          assert.equal(m.refusal, response.message)
          return
        else
          assert.is_nil(text)
        end
        assert.equal(expect.id, response.id)
        assert.equal(expect.model, response.model)
        assert.equal(expect.created, response.created)
        assert.is_true(int(response.created))
        assert.equal(expect.choices[1].finish_reason, response.choices[1].finish_reason)
        assert.is_true(int(response.choices[1].index))
        for _, k in ipairs { "prompt_tokens", "completion_tokens", "total_tokens" } do
          assert.equal(expect.usage[k], response.usage[k])
          assert.is_true(int(response.usage[k]), k .. " is an integer")
        end
        assert.equal(200, info.status)
      end)
    end
  end

  it("the 2026 shape: null refusal is absent, annotations kept, details are integers", function()
    replay("chat_basic_gpt-3.5-turbo-0125_2026-03.json")
    local _, r = T.new():chat("x")
    local m = r.choices[1].message
    assert.is_nil(m.refusal)
    assert.same({}, m.annotations)
    assert.equal("default", r.service_tier)
    assert.is_true(int(r.usage.prompt_tokens_details.cached_tokens))
  end)

  it("info carries the request id and parsed rate limits from the real headers", function()
    replay("chat_basic_gpt-3.5-turbo-0125_2026-03.json")
    local _, _, info = T.new():chat("x")
    assert.equal("req_30120fae78c49759a7f9a4381ee6abe2", info.request_id)
    assert.equal(10000, info.ratelimit.limit_requests)
    assert.equal(9999, info.ratelimit.remaining_requests)
    assert.equal(50000000, info.ratelimit.limit_tokens)
    assert.near(0.006, info.ratelimit.reset_requests, 1e-9)
    assert.equal(0, info.ratelimit.reset_tokens)
    assert.equal("traceloop", info.headers["openai-organization"])
  end)

  it("pairs(info) lists every field, the ones made on first use included", function()
    replay("chat_basic_gpt-3.5-turbo-0125_2026-03.json")
    local _, _, info = T.new():chat("x")
    local seen = {}
    for k, v in pairs(info) do seen[k] = v end
    for _, k in ipairs { "status", "headers", "request_id", "ratelimit", "attempts", "elapsed",
                         "http_version" } do
      assert.is_not_nil(seen[k], k)
    end
    assert.equal("req_30120fae78c49759a7f9a4381ee6abe2", seen.request_id)
    assert.equal(9999, seen.ratelimit.remaining_requests)
  end)

  it("header names in info are lower-case, whatever the server's case", function()
    replay("chat_basic_gpt-3.5-turbo-0613_2023-11.json")
    local _, _, info = T.new():chat("x")
    for name in pairs(info.headers) do assert.equal(name:lower(), name) end
    assert.truthy(info.headers["content-type"])
  end)

  it("the reasoning model's reasoning_tokens come back as an integer", function()
    replay("chat_reasoning_gpt-5-nano_2025-08.json")
    local _, r = T.new():chat("x")
    assert.equal(192, r.usage.completion_tokens_details.reasoning_tokens)
    assert.is_true(int(r.usage.completion_tokens_details.reasoning_tokens))
    assert.is_nil(r.system_fingerprint)
  end)

  it("the vision capture (usage before choices, compact JSON) reads back", function()
    replay("chat_vision_gpt-4-1106-vision-preview_2024-02.json")
    local text, r = T.new():chat("x")
    assert.is_string(text)
    assert.equal("length", r.choices[1].finish_reason)
  end)

  it("parallel tool calls: text is nil, both calls with ids and JSON arguments", function()
    local expect = replay("chat_tool_calls_parallel_gpt-3.5-turbo-0125_2024-07.json")
    local text, r = T.new():chat("x")
    assert.is_nil(text)
    local calls = r.choices[1].message.tool_calls
    assert.equal(2, #calls)
    for i, call in ipairs(calls) do
      local want = expect.choices[1].message.tool_calls[i]
      assert.equal(want.id, call.id)
      assert.equal("function", call.type)
      assert.equal(want["function"].name, call["function"].name)
      assert.is_table(cjson.decode(call["function"].arguments))
    end
    assert.equal("tool_calls", r.choices[1].finish_reason)
  end)

  it("the legacy function_call: text is nil, name and arguments read back", function()
    local expect = replay("chat_function_call_legacy_gpt-4-0613_2024-02.json")
    local text, r = T.new():chat("x")
    assert.is_nil(text)
    local fc = r.choices[1].message.function_call
    assert.equal(expect.choices[1].message.function_call.name, fc.name)
    assert.equal(expect.choices[1].message.function_call.arguments, fc.arguments)
    assert.equal("function_call", r.choices[1].finish_reason)
  end)

  it("structured output: the content is the JSON text, refusal absent", function()
    replay("chat_json_schema_strict_gpt-4o-2024-08-06_2024-10.json")
    local text, r = T.new():chat("x")
    assert.is_table(cjson.decode(text))
    assert.is_nil(r.choices[1].message.refusal)
  end)

  it("a refusal comes back as nil, err{kind = 'refusal'} with the response attached", function()
    local expect = replay("chat_refusal_json_schema_gpt-4o-2024-08-06_2024-10.json")
    local text, err = T.new():chat("x")
    assert.is_nil(text)
    assert.equal("refusal", err.kind)
    assert.equal(expect.choices[1].message.refusal, err.message)
    assert.equal(expect.id, err.response.id)
  end)

  it("logprobs: every token with its logprob, bytes and top_logprobs", function()
    local expect = replay("chat_logprobs_gpt-4o-mini_2026-02.json")
    local _, r = T.new():chat("x")
    local got, want = r.choices[1].logprobs.content, expect.choices[1].logprobs.content
    assert.equal(#want, #got)
    assert.equal(want[1].token, got[1].token)
    assert.equal(want[1].logprob, got[1].logprob)
    assert.equal(#want[1].top_logprobs, #got[1].top_logprobs)
    assert.is_true(int(got[1].bytes[1]))
  end)
end)

describe("other endpoint captures", function()
  before_each(function() T.drain(); fake.reset() end)

  it("legacy completions (davinci-002) gives its text", function()
    local expect = replay("completions_davinci-002_2024-02.json")
    local text, r = T.new():complete("x")
    assert.equal(expect.choices[1].text, text)
    assert.equal("length", r.choices[1].finish_reason)
  end)

  it("the 2023 model list (586 entries) reads back", function()
    replay("models_list_2023-11.json")
    local list = T.new():models()
    assert.equal(586, #list)
    assert.is_true(int(list[1].created))
  end)

  it("the 2025 model list (96 entries) reads back", function()
    local expect = replay("models_list_2025-09.json")
    local list = T.new():models()
    assert.equal(#expect.data, #list)
    assert.equal(expect.data[1].id, list[1].id)
  end)

  it("float embeddings: 1536 floats equal to the capture's", function()
    local expect = replay("embeddings_float_text-embedding-ada-002_2024-04.json")
    local vectors = T.new():embed("x", { model = "text-embedding-ada-002" })
    assert.equal(1536, #vectors[1])
    for i = 1, 1536, 97 do assert.equal(expect.data[1].embedding[i], vectors[1][i]) end
  end)
end)

describe("error captures", function()
  before_each(function() T.drain(); fake.reset() end)

  for _, name in ipairs(wire.list("^error_.*%.json$")) do
    if not name:find("request%.json$") then
      it(name .. ": nil, err{kind = 'api'} with the body's fields", function()
        local expect, headers = replay(name)
        if not headers then
          fake.reset()
          local status = tonumber(name:match("^error_(%d+)"))
          fake.script { status = status, body = wire.read(name), default_headers = true }
        end
        local text, err = T.new { max_retries = 0 }:chat("x")
        assert.is_nil(text)
        assert.equal("api", err.kind)
        assert.equal(tonumber(name:match("^error_(%d+)")), err.status)
        local e = expect.error
        assert.equal(e.message, err.message)
        assert.equal(e.type ~= cjson.null and e.type or nil, err.type)
        assert.equal(e.code ~= cjson.null and e.code or nil, err.code)
        assert.equal(e.param ~= cjson.null and e.param or nil, err.param)
        assert.equal(1, err.attempts)
        local s = tostring(err)
        assert.truthy(s:find("^chatgpt: " .. err.status))
        assert.falsy(s:find("\n"))
        if headers then
          for _, h in ipairs(headers) do
            if h[1]:lower() == "x-request-id" then
              assert.equal(h[2], err.request_id)
              assert.truthy(s:find("(request " .. h[2] .. ")", 1, true))
            end
          end
        end
      end)
    end
  end

  it("a 429 from the wire reads like the DESIGN's example", function()
    replay("error_429_rate_limit_requests_gpt-4_2023-06.json")
    local _, err = T.new { max_retries = 0 }:chat("x")
    assert.truthy(tostring(err):find("^chatgpt: 429 requests: Rate limit reached for default%-gpt%-4"))
  end)
end)

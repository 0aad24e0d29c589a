-- Specs for chatgpt.stream: chunk assembly and the callback adapters.
-- The recorded OpenAI streams in spec/fixtures/wire (or $WIRE_DIR) are replayed
-- first; hand-written chunks then cover what no capture shows.

local stream = require "chatgpt.stream"
-- CPU-time bounds stretch under valgrind (make valgrind), which is ~50x slower
local SLOW = os.getenv("CHATGPT_VALGRIND") and 50 or 1
local cjson = require "cjson.safe"

local wire = require "spec.support.wire"
local WIRE_DIR = wire.dir()

-- cjson.null -> nil, as the real module hands chunks to stream.lua
local function strip_nulls(v)
  if type(v) ~= "table" then return v end
  for k, x in pairs(v) do
    if x == cjson.null then v[k] = nil else strip_nulls(x) end
  end
  return v
end

-- A text/event-stream body -> list of decoded chunks (stops at [DONE]).
local function sse_chunks(body)
  local chunks = {}
  for _, payload in ipairs(wire.events(body)) do
    if payload == "[DONE]" then break end
    chunks[#chunks + 1] = strip_nulls(assert(cjson.decode(payload)))
  end
  return chunks
end

-- What a capture implies, computed naively and independently of stream.lua.
local function reference(chunks)
  local ref = { content = {}, finish = {}, tools = {}, ntools = 0 }
  for _, c in ipairs(chunks) do
    ref.id = ref.id or c.id
    ref.model = ref.model or c.model
    ref.created = ref.created or c.created
    if c.usage then ref.usage = c.usage end
    for _, ch in ipairs(c.choices or {}) do
      local i = ch.index or 0
      local d = ch.delta or {}
      if d.content then ref.content[i] = (ref.content[i] or "") .. d.content end
      if d.refusal then ref.refusal = (ref.refusal or "") .. d.refusal end
      for _, t in ipairs(d.tool_calls or {}) do
        local x = ref.tools[t.index]
        if not x then
          x = { args = "" }
          ref.tools[t.index] = x
          ref.ntools = ref.ntools + 1
        end
        x.id = x.id or t.id
        local fn = t["function"] or {}
        x.name = x.name or fn.name
        x.args = x.args .. (fn.arguments or "")
      end
      if d.function_call then
        ref.fc = ref.fc or { args = "" }
        ref.fc.name = ref.fc.name or d.function_call.name
        ref.fc.args = ref.fc.args .. (d.function_call.arguments or "")
      end
      if ch.finish_reason then ref.finish[i] = ch.finish_reason end
    end
  end
  return ref
end

-- Facts about particular captures, checked on top of the reference.
local KNOWN = {
  ["chat_stream_gpt-3.5-turbo-0301_2023-04.sse"] = {
    content = "The Los Angeles Dodgers won the World Series in 2020." },
  ["chat_stream_gpt-3.5-turbo-0613_2023-11.sse"] = {
    content = "Hello! How can I assist you today?" },
  ["chat_stream_include_usage_gpt-5.1_2026-07.sse"] = {
    content = "six", total_tokens = 43 },
  ["chat_stream_include_usage_gpt-4-0613_2024-11.sse"] = {
    content = '"This is a test."', total_tokens = 17 },
  ["chat_stream_include_usage_cached_gpt-4.1_2026-02.sse"] = {
    content = "Hello!", total_tokens = 1146, cached_tokens = 1024 },
  ["chat_stream_content_refusal_gpt-4o_2026-02.sse"] = {
    content = "I'm sorry, I can't assist with that request.", total_tokens = 36 },
  ["chat_stream_tool_call_gpt-3.5-turbo-0125_2024-06.sse"] = {
    ntools = 1, finish = "tool_calls" },
  ["chat_stream_tool_calls_parallel_gpt-3.5-turbo-0125_2024-07.sse"] = {
    ntools = 2, finish = "tool_calls" },
  ["chat_stream_tool_calls_parallel_include_usage_gpt-4o-mini_2024-11.sse"] = {
    ntools = 2, finish = "tool_calls", total_tokens = 126 },
  ["chat_stream_function_call_legacy_gpt-3.5-turbo-0125_2024-02.sse"] = {
    function_call = "extract_student_info", finish = "function_call" },
}

local function feed(kind, chunks, handlers)
  local acc = stream.new(kind, handlers)
  for _, c in ipairs(chunks) do acc:add(c) end
  return acc, acc:finish()
end

-- chunk builders for hand-written cases
local function chunk(choices, extra)
  local c = { id = "chatcmpl-x", object = "chat.completion.chunk", created = 1,
              model = "m", choices = choices }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end
local function delta(d, index, finish)
  return { index = index or 0, delta = d, finish_reason = finish }
end
local function content(s, index) return chunk { delta({ content = s }, index) } end
local function tool(frag, index) return chunk { delta({ tool_calls = { frag } }, index) } end

describe("chatgpt.stream", function()

  describe("replaying every recorded stream in " .. WIRE_DIR, function()
    local names = wire.list("^chat_stream.*%.sse$")

    for _, name in ipairs(names) do
      local chunks = sse_chunks(wire.read(name))
      local ref = reference(chunks)
      local known = KNOWN[name] or {}

      it(name .. ": assembles to the response a non-streamed call gives", function()
        local acc, res = feed("chat", chunks)
        assert.are.equal(#chunks, acc.chunks)
        assert.are.equal("chat.completion", res.object)
        assert.are.equal(ref.id, res.id)
        assert.are.equal(ref.model, res.model)
        assert.are.equal(ref.created, res.created)
        assert.are.equal(1, #res.choices)
        local ch = res.choices[1]
        assert.are.equal(0, ch.index)
        assert.are.equal("assistant", ch.message.role)
        assert.are.equal(ref.content[0], ch.message.content)
        assert.are.equal(ref.finish[0], ch.finish_reason)
        assert.is_nil(ch.message.refusal)
        if known.content then assert.are.equal(known.content, ch.message.content) end
        if known.finish then assert.are.equal(known.finish, ch.finish_reason) end
        assert.are.equal(ref.content[0] or "", acc:text())
      end)

      it(name .. ": tool calls have ids, names and JSON arguments", function()
        local _, res = feed("chat", chunks)
        local calls = res.choices[1].message.tool_calls
        if ref.ntools == 0 then
          assert.is_nil(calls)
          return
        end
        assert.are.equal(ref.ntools, #calls)
        if known.ntools then assert.are.equal(known.ntools, #calls) end
        for i, call in ipairs(calls) do
          local want = ref.tools[i - 1]
          assert.are.equal(want.id, call.id)
          assert.matches("^call_", call.id)
          assert.are.equal("function", call.type)
          assert.are.equal(want.name, call["function"].name)
          assert.are.equal(want.args, call["function"].arguments)
          assert.is_table(cjson.decode(call["function"].arguments))
        end
      end)

      if ref.fc then
        it(name .. ": legacy function_call has its name and JSON arguments", function()
          local _, res = feed("chat", chunks)
          local fc = res.choices[1].message.function_call
          assert.are.equal(ref.fc.name, fc.name)
          assert.are.equal(known.function_call, fc.name)
          assert.are.equal(ref.fc.args, fc.arguments)
          assert.is_table(cjson.decode(fc.arguments))
          assert.is_nil(res.choices[1].message.content)
          assert.is_nil(res.choices[1].message.tool_calls)
        end)
      end

      if ref.usage then
        it(name .. ": keeps the usage of the include_usage chunk", function()
          local _, res = feed("chat", chunks)
          assert.is_table(res.usage)
          assert.are.equal(ref.usage.total_tokens, res.usage.total_tokens)
          assert.are.equal(res.usage.prompt_tokens + res.usage.completion_tokens,
            res.usage.total_tokens)
          if known.total_tokens then
            assert.are.equal(known.total_tokens, res.usage.total_tokens)
          end
          if known.cached_tokens then
            assert.are.equal(known.cached_tokens,
              res.usage.prompt_tokens_details.cached_tokens)
          end
        end)
      end
    end

    it("covers the captures this spec knows facts about", function()
      local have = {}
      for _, n in ipairs(names) do have[n] = true end
      for n in pairs(KNOWN) do
        assert.is_true(have[n] or false, "capture missing: " .. n)
      end
    end)

    it("streams on_delta pieces that join to the content of each capture", function()
      for _, name in ipairs(names) do
        local chunks = sse_chunks(wire.read(name))
        local pieces = {}
        local _, res = feed("chat", chunks, {
          on_delta = function(s) pieces[#pieces + 1] = s end,
        })
        assert.are.equal(res.choices[1].message.content or "", table.concat(pieces), name)
      end
    end)
  end)

  describe("new()", function()
    it("raises on an unknown kind or a handler that is not a function", function()
      assert.has_error(function() stream.new("embeddings") end)
      assert.has_error(function() stream.new() end)
      assert.has_error(function() stream.new("chat", { on_delta = "print" }) end)
      assert.has_error(function() stream.new("chat", 42) end)
      assert.has_no_error(function() stream.new("chat") end)
      assert.has_no_error(function() stream.new("completion", {}) end)
    end)

    it("accepts a callable table as a handler", function()
      local seen = {}
      local h = setmetatable({}, { __call = function(_, s) seen[#seen + 1] = s end })
      feed("chat", { content("hi") }, { on_delta = h })
      assert.are.same({ "hi" }, seen)
    end)

    it("finish() on no chunks gives an empty but well-formed response", function()
      local acc = stream.new("chat")
      local res = acc:finish()
      assert.are.equal("chat.completion", res.object)
      assert.are.same({}, res.choices)
      assert.are.equal("", acc:text())
      assert.are.equal(0, acc.chunks)
    end)
  end)

  describe("chat assembly", function()
    it("takes id, created and model from the first chunk, fingerprint and tier from the latest", function()
      local _, res = feed("chat", {
        chunk({ delta { role = "assistant" } }, { id = "a", created = 5, model = "m1",
          system_fingerprint = "fp1", service_tier = "default" }),
        chunk({ delta { content = "x" } }, { id = "b", created = 6, model = "m2",
          system_fingerprint = "fp2" }),
        chunk({ delta({}, 0, "stop") }, { id = "c", service_tier = "priority" }),
      })
      assert.are.equal("a", res.id)
      assert.are.equal(5, res.created)
      assert.are.equal("m1", res.model)
      assert.are.equal("fp2", res.system_fingerprint)
      assert.are.equal("priority", res.service_tier)
    end)

    it("keeps n=2 interleaved choices apart, sorted by index", function()
      local _, res = feed("chat", {
        chunk { delta({ role = "assistant", content = "" }, 1) },
        chunk { delta({ role = "assistant", content = "" }, 0) },
        content("B1", 1), content("A1", 0), content("B2", 1), content("A2", 0),
        chunk { delta({}, 1, "length") },
        chunk { delta({}, 0, "stop") },
      })
      assert.are.equal(2, #res.choices)
      assert.are.equal(0, res.choices[1].index)
      assert.are.equal(1, res.choices[2].index)
      assert.are.equal("A1A2", res.choices[1].message.content)
      assert.are.equal("B1B2", res.choices[2].message.content)
      assert.are.equal("stop", res.choices[1].finish_reason)
      assert.are.equal("length", res.choices[2].finish_reason)
    end)

    it("gives a dense choices array when indices skip or come out of order", function()
      local _, res = feed("chat", { content("c", 5), content("a", 2) })
      assert.are.equal(2, #res.choices)
      assert.are.equal(2, res.choices[1].index)
      assert.are.equal(5, res.choices[2].index)
    end)

    it("treats a choice without index as index 0", function()
      local acc, res = feed("chat", { chunk { { delta = { content = "hi" } } } })
      assert.are.equal(0, res.choices[1].index)
      assert.are.equal("hi", acc:text())
    end)

    it("takes the role from the first delta that has one, else assistant", function()
      local _, res = feed("chat", { chunk { delta { role = "tool_bot" } },
        chunk { delta { role = "other", content = "x" } } })
      assert.are.equal("tool_bot", res.choices[1].message.role)
      _, res = feed("chat", { content("x") })
      assert.are.equal("assistant", res.choices[1].message.role)
    end)

    it("leaves content nil when never sent, and makes it \"\" when sent as \"\"", function()
      local _, res = feed("chat", { chunk { delta { role = "assistant" } },
        chunk { delta({}, 0, "stop") } })
      assert.is_nil(res.choices[1].message.content)
      _, res = feed("chat", { chunk { delta { role = "assistant", content = "" } },
        chunk { delta({}, 0, "stop") } })
      assert.are.equal("", res.choices[1].message.content)
    end)

    it("concatenates refusal deltas into message.refusal, content stays nil", function()
      local _, res = feed("chat", {
        chunk { delta { role = "assistant", refusal = "" } },
        chunk { delta { refusal = "I'm sorry, " } },
        chunk { delta { refusal = "I can't help." } },
        chunk { delta({}, 0, "stop") },
      })
      assert.are.equal("I'm sorry, I can't help.", res.choices[1].message.refusal)
      assert.is_nil(res.choices[1].message.content)
    end)

    it("ignores unknown delta fields, obfuscation and JSON nulls left in", function()
      local _, res = feed("chat", {
        chunk({ delta { content = "a", thinking = "hmm", audio = {} } },
          { obfuscation = "xyz" }),
        chunk({ delta { content = cjson.null, refusal = cjson.null, role = cjson.null } },
          { usage = cjson.null, system_fingerprint = cjson.null }),
        chunk { delta { content = "b" } },
      })
      local msg = res.choices[1].message
      assert.are.equal("ab", msg.content)
      assert.is_nil(msg.refusal)
      assert.is_nil(msg.thinking)
      assert.are.equal("assistant", msg.role)
      assert.is_nil(res.usage)
      assert.is_nil(res.obfuscation)
    end)

    it("accepts chunks with empty or missing choices", function()
      local acc = stream.new("chat")
      assert.is_true(acc:add(chunk({})))
      assert.is_true(acc:add({ id = "x", object = "chat.completion.chunk" }))
      assert.is_true(acc:add(content("hi")))
      assert.are.equal(3, acc.chunks)
      assert.are.equal("hi", acc:finish().choices[1].message.content)
    end)

    it("keeps usage when a later chunk has none or empty choices (moderation)", function()
      local usage = { prompt_tokens = 3, completion_tokens = 2, total_tokens = 5 }
      local _, res = feed("chat", {
        content("x"),
        chunk({}, { usage = usage }),
        chunk({}, { moderation = { flagged = false } }),
        chunk { delta({}, 0, "stop") },
      })
      assert.are.same(usage, res.usage)
    end)

    it("appends logprobs.content and logprobs.refusal lists across chunks", function()
      local _, res = feed("chat", {
        chunk { { index = 0, delta = { content = "a" },
                  logprobs = { content = { { token = "a", logprob = -1 } } } } },
        chunk { { index = 0, delta = { content = "b" },
                  logprobs = { content = { { token = "b", logprob = -2 } },
                               refusal = { { token = "no", logprob = -3 } } } } },
      })
      local lp = res.choices[1].logprobs
      assert.are.equal(2, #lp.content)
      assert.are.equal("b", lp.content[2].token)
      assert.are.equal(1, #lp.refusal)
      _, res = feed("chat", { content("x") })
      assert.is_nil(res.choices[1].logprobs)
    end)
  end)

  describe("tool calls", function()
    it("merges fragments by index: first id, type and name; arguments joined", function()
      local _, res = feed("chat", {
        tool { index = 0, id = "call_A", type = "function",
               ["function"] = { name = "get_weather", arguments = "" } },
        tool { index = 0, ["function"] = { name = "ignored", arguments = "{\"ci" } },
        tool { index = 0, id = "call_other", ["function"] = { arguments = "ty\":1}" } },
        chunk { delta({}, 0, "tool_calls") },
      })
      local calls = res.choices[1].message.tool_calls
      assert.are.equal(1, #calls)
      assert.are.same({ id = "call_A", type = "function",
        ["function"] = { name = "get_weather", arguments = "{\"city\":1}" } }, calls[1])
      assert.is_nil(res.choices[1].message.content)
    end)

    it("gives arguments \"\" and type \"function\" when a server sent neither", function()
      local _, res = feed("chat", { tool { index = 0, id = "c1", ["function"] = { name = "now" } } })
      local call = res.choices[1].message.tool_calls[1]
      assert.are.equal("", call["function"].arguments)
      assert.are.equal("function", call.type)
    end)

    it("continues the last call for fragments without index, or starts call 0", function()
      local _, res = feed("chat", {
        tool { id = "c0", ["function"] = { name = "a", arguments = "{" } },
        tool { ["function"] = { arguments = "}" } },
        tool { index = 1, id = "c1", ["function"] = { name = "b", arguments = "[" } },
        tool { ["function"] = { arguments = "]" } },
      })
      local calls = res.choices[1].message.tool_calls
      assert.are.equal(2, #calls)
      assert.are.equal("{}", calls[1]["function"].arguments)
      assert.are.equal("[]", calls[2]["function"].arguments)
    end)

    it("starts a new call for an index-less fragment that brings a new id", function()
      local _, res = feed("chat", {
        tool { id = "c0", ["function"] = { name = "a", arguments = "{}" } },
        tool { id = "c1", ["function"] = { name = "b", arguments = "{\"x\":1}" } },
      })
      local calls = res.choices[1].message.tool_calls
      assert.are.equal(2, #calls)
      assert.are.equal("c1", calls[2].id)
      assert.are.equal("b", calls[2]["function"].name)
    end)

    it("generates unique call_ ids for calls that came without one", function()
      local seen = {}
      for _ = 1, 3 do
        local _, res = feed("chat", {
          tool { index = 0, ["function"] = { name = "a", arguments = "{}" } },
          tool { index = 1, ["function"] = { name = "b", arguments = "{}" } },
          tool { index = 2, id = "call_given", ["function"] = { name = "c" } },
        })
        local calls = res.choices[1].message.tool_calls
        assert.are.equal("call_given", calls[3].id)
        for i = 1, 2 do
          local id = calls[i].id
          assert.matches("^call_%w+$", id)
          assert.is_nil(seen[id])
          seen[id] = true
        end
      end
    end)

    it("assembles the legacy function_call and does not report it as a tool call", function()
      local reported = 0
      local _, res = feed("chat", {
        chunk { delta { role = "assistant", function_call = { name = "f", arguments = "" } } },
        chunk { delta { function_call = { arguments = "{\"a\"" } } },
        chunk { delta { function_call = { name = "f", arguments = ":1}" } } },
        chunk { delta({}, 0, "function_call") },
      }, { on_tool_call = function() reported = reported + 1 end })
      assert.are.same({ name = "f", arguments = "{\"a\":1}" },
        res.choices[1].message.function_call)
      assert.is_nil(res.choices[1].message.tool_calls)
      assert.are.equal(0, reported)
    end)

    it("reports a call to on_tool_call when the next index starts, the rest at finish, in order", function()
      local log = {}
      local acc = stream.new("chat", { on_tool_call = function(call)
        log[#log + 1] = call.id .. "=" .. call["function"].arguments
      end })
      acc:add(tool { index = 0, id = "c0", ["function"] = { name = "a", arguments = "{\"x\"" } })
      acc:add(tool { index = 0, ["function"] = { arguments = ":0}" } })
      assert.are.same({}, log)
      acc:add(tool { index = 1, id = "c1", ["function"] = { name = "a", arguments = "{" } })
      assert.are.same({ "c0={\"x\":0}" }, log)
      acc:add(tool { index = 2, id = "c2", ["function"] = { name = "a", arguments = "{" } })
      acc:add(tool { index = 2, ["function"] = { arguments = "}" } })
      acc:add(tool { index = 1, ["function"] = { arguments = "}" } })
      assert.are.same({ "c0={\"x\":0}", "c1={" }, log)
      acc:finish()
      acc:finish()
      assert.are.same({ "c0={\"x\":0}", "c1={", "c2={}" }, log)
    end)

    it("reports the remaining calls of a choice when it gets its finish_reason", function()
      local n = 0
      local acc = stream.new("chat", { on_tool_call = function() n = n + 1 end })
      acc:add(tool { index = 0, id = "c0", ["function"] = { name = "a", arguments = "{}" } })
      acc:add(chunk { delta({}, 0, "tool_calls") })
      assert.are.equal(1, n)
      acc:add(chunk({}, { usage = { total_tokens = 1 } }))
      acc:finish()
      assert.are.equal(1, n)
    end)

    it("hands on_tool_call the same table that ends up in the response", function()
      local got
      local _, res = feed("chat", {
        tool { index = 0, id = "c0", type = "function", ["function"] = { name = "a", arguments = "{}" } },
      }, { on_tool_call = function(call) got = call end })
      assert.are.equal(res.choices[1].message.tool_calls[1], got)
      assert.are.same({ id = "c0", type = "function",
        ["function"] = { name = "a", arguments = "{}" } }, got)
    end)

    it("reports calls of each choice separately when n > 1", function()
      local log = {}
      feed("chat", {
        tool({ index = 0, id = "a0", ["function"] = { name = "f", arguments = "{}" } }, 0),
        tool({ index = 0, id = "b0", ["function"] = { name = "f", arguments = "{}" } }, 1),
        tool({ index = 1, id = "b1", ["function"] = { name = "f", arguments = "{}" } }, 1),
        tool({ index = 1, id = "a1", ["function"] = { name = "f", arguments = "{}" } }, 0),
      }, { on_tool_call = function(call) log[#log + 1] = call.id end })
      assert.are.same({ "b0", "a0", "a1", "b1" }, log)
    end)

    it("stops reporting calls once on_tool_call returns false", function()
      local log = {}
      local acc = stream.new("chat", { on_tool_call = function(call)
        log[#log + 1] = call.id
        return false
      end })
      assert.is_true(acc:add(tool { index = 0, id = "c0", ["function"] = { name = "a" } }))
      assert.is_false(acc:add(tool { index = 1, id = "c1", ["function"] = { name = "a" } }))
      acc:finish()
      assert.are.same({ "c0" }, log)
      assert.is_true(acc.stopped)
      assert.are.equal(2, #acc:finish().choices[1].message.tool_calls)
    end)
  end)

  describe("callbacks", function()
    it("calls on_chunk first for every chunk, then on_delta", function()
      local log = {}
      local chunks = { chunk({}), content("a"), content("b") }
      feed("chat", chunks, {
        on_chunk = function(c) log[#log + 1] = c end,
        on_delta = function(s) log[#log + 1] = s end,
      })
      assert.are.same({ chunks[1], chunks[2], "a", chunks[3], "b" }, log)
      assert.are.equal(chunks[2], log[2])
    end)

    it("passes on_delta the non-empty pieces in order, with their chunk", function()
      local pieces, owners = {}, {}
      local chunks = { chunk { delta { role = "assistant", content = "" } },
        content("Hel"), content(""), content("lo") }
      feed("chat", chunks, { on_delta = function(s, c)
        pieces[#pieces + 1] = s
        owners[#owners + 1] = c
      end })
      assert.are.same({ "Hel", "lo" }, pieces)
      assert.are.equal(chunks[2], owners[1])
      assert.are.equal(chunks[4], owners[2])
    end)

    it("calls on_delta for the content of every choice; chunk tells the index", function()
      local got = {}
      feed("chat", { content("a", 0), content("b", 1) }, { on_delta = function(s, c)
        got[#got + 1] = c.choices[1].index .. s
      end })
      assert.are.same({ "0a", "1b" }, got)
    end)

    it("returns false from add() when on_delta returns false, and calls no handler after", function()
      local pieces, chunks_seen = {}, 0
      local acc = stream.new("chat", {
        on_chunk = function() chunks_seen = chunks_seen + 1 end,
        on_delta = function(s)
          pieces[#pieces + 1] = s
          if s == "stop" then return false end
        end,
      })
      assert.is_true(acc:add(content("go ")))
      assert.is_false(acc:add(content("stop")))
      assert.is_false(acc:add(content(" more")))
      assert.are.same({ "go ", "stop" }, pieces)
      assert.are.equal(2, chunks_seen)
      assert.is_true(acc.stopped)
      assert.are.equal("go stop more", acc:text())
    end)

    it("returns false from add() when on_chunk returns false, before on_delta runs", function()
      local deltas = 0
      local acc = stream.new("chat", {
        on_chunk = function() return false end,
        on_delta = function() deltas = deltas + 1 end,
      })
      assert.is_false(acc:add(content("x")))
      assert.are.equal(0, deltas)
      assert.are.equal("x", acc:text())
    end)

    it("treats nil and other non-false returns as go on", function()
      local acc = stream.new("chat", { on_delta = function() return 0 end,
        on_chunk = function() return nil end })
      assert.is_true(acc:add(content("x")))
    end)

    it("lets a handler error propagate out of add(), and calls no handler after", function()
      local calls = 0
      local acc = stream.new("chat", {
        on_delta = function() error("boom in handler") end,
        on_tool_call = function() calls = calls + 1 end,
      })
      acc:add(tool { index = 0, id = "c0", ["function"] = { name = "a" } })
      local ok, err = pcall(acc.add, acc, content("x"))
      assert.is_false(ok)
      assert.matches("boom in handler", err)
      acc:finish()
      assert.are.equal(0, calls)
    end)
  end)

  describe("reasoning text", function()
    -- as DeepSeek, vLLM and llama.cpp stream it (delta.reasoning_content),
    -- and OpenRouter (delta.reasoning)
    local function think(s, index) return chunk { delta({ reasoning_content = s }, index) } end

    it("joins delta.reasoning_content per choice into message.reasoning_content", function()
      local _, res = feed("chat", {
        chunk { delta({ role = "assistant", content = "", reasoning_content = "" }) },
        think("Let me "), think("count."), think("B?", 1),
        content("Two."), chunk { delta({ reasoning_content = cjson.null }, 0, "stop") },
      })
      assert.are.equal("Let me count.", res.choices[1].message.reasoning_content)
      assert.are.equal("Two.", res.choices[1].message.content)
      assert.are.equal("B?", res.choices[2].message.reasoning_content)
      assert.is_nil(res.choices[2].message.content)
    end)

    it("takes OpenRouter's delta.reasoning, and one of the two when a server sends both", function()
      local _, res = feed("chat", {
        chunk { delta { reasoning = "Hm" } },
        chunk { delta { reasoning = ", ", reasoning_content = ", " } },
        chunk { delta { reasoning = "ok", reasoning_content = "" } },
        content("Yes"),
      })
      assert.are.equal("Hm, ok", res.choices[1].message.reasoning_content)
      assert.is_nil(res.choices[1].message.reasoning)
    end)

    it("leaves message.reasoning_content out when no reasoning came", function()
      local _, res = feed("chat", { content("a") })
      assert.is_nil(res.choices[1].message.reasoning_content)
    end)

    it("hands on_reasoning each piece with the choice's index; false stops", function()
      local log = {}
      local acc, res = feed("chat", { think("a"), think("b", 1), content("c"), think(""), think("d") }, {
        on_reasoning = function(s, i) log[#log + 1] = i .. s end,
        on_delta = function(s) log[#log + 1] = s end,
      })
      assert.are.same({ "0a", "1b", "c", "0d" }, log)
      assert.is_false(acc.stopped)
      assert.are.equal("ad", res.choices[1].message.reasoning_content)
      local n = 0
      acc = stream.new("chat", { on_reasoning = function() n = n + 1; return false end })
      assert.is_false(acc:add(think("x")))
      assert.is_false(acc:add(think("y")))
      assert.are.equal(1, n)
    end)

    it("whole() hands on_reasoning the reasoning of a plain JSON answer, before its content", function()
      local log = {}
      local acc = stream.new("chat", {
        on_reasoning = function(s, i) log[#log + 1] = "r" .. i .. s end,
        on_delta = function(s) log[#log + 1] = s end,
      })
      assert.is_true(acc:whole { choices = {
        { index = 0, message = { role = "assistant", content = "A", reasoning_content = "why" } },
        { index = 1, message = { role = "assistant", content = "B", reasoning = "how" } } } })
      assert.are.same({ "r0why", "A", "r1how", "B" }, log)
    end)
  end)

  describe("whole()", function()
    it("drives on_delta and on_tool_call from a plain JSON answer to a stream request", function()
      local log, chunks = {}, 0
      local res = { object = "chat.completion", choices = {
        { index = 0, message = { role = "assistant", content = "Hi",
          tool_calls = { { id = "c0", type = "function", ["function"] = { name = "f", arguments = "{}" } },
                         { id = "c1", type = "function", ["function"] = { name = "g", arguments = "{}" } } } } },
        { index = 1, message = { role = "assistant", content = "Yo" } } } }
      local acc = stream.new("chat", {
        on_chunk = function() chunks = chunks + 1 end,
        on_delta = function(s, c) log[#log + 1] = s; assert.are.equal(res, c) end,
        on_tool_call = function(call) log[#log + 1] = call.id end,
      })
      assert.is_true(acc:whole(res))
      assert.are.same({ "Hi", "c0", "c1", "Yo" }, log)
      assert.are.equal(0, chunks)
    end)

    it("returns false and stops once a handler returns false", function()
      local n = 0
      local acc = stream.new("completion", { on_delta = function() n = n + 1; return false end })
      assert.is_false(acc:whole { choices = { { index = 0, text = "a" }, { index = 1, text = "b" } } })
      assert.are.equal(1, n)
    end)
  end)

  describe("text()", function()
    it("returns \"\" before any content, then the partial text of choice 0", function()
      local acc = stream.new("chat")
      assert.are.equal("", acc:text())
      acc:add(chunk { delta { role = "assistant" } })
      assert.are.equal("", acc:text())
      acc:add(content("Hel"))
      acc:add(content("other choice", 1))
      acc:add(content("lo"))
      assert.are.equal("Hello", acc:text())
      acc:add(content(", world"))
      assert.are.equal("Hello, world", acc:text())
      assert.are.equal("Hello, world", acc:finish().choices[1].message.content)
    end)
  end)

  describe("legacy completion streams", function()
    local function tc(text, finish, extra)
      local c = { id = "cmpl-1", object = "text_completion", created = 7, model = "davinci-002",
        choices = { { index = 0, text = text, finish_reason = finish } } }
      for k, v in pairs(extra or {}) do c.choices[1][k] = v end
      return c
    end

    it("joins choices[].text into a text_completion", function()
      local pieces = {}
      local acc, res = feed("completion", { tc("Why did"), tc(" the"), tc(" chicken", "length") },
        { on_delta = function(s) pieces[#pieces + 1] = s end })
      assert.are.equal("text_completion", res.object)
      assert.are.equal("cmpl-1", res.id)
      assert.are.equal("davinci-002", res.model)
      assert.are.equal("Why did the chicken", res.choices[1].text)
      assert.are.equal("length", res.choices[1].finish_reason)
      assert.is_nil(res.choices[1].message)
      assert.are.same({ "Why did", " the", " chicken" }, pieces)
      assert.are.equal("Why did the chicken", acc:text())
    end)

    it("appends logprobs lists and keeps usage", function()
      local _, res = feed("completion", {
        tc("a", nil, { logprobs = { tokens = { "a" }, token_logprobs = { -1 },
          top_logprobs = { { a = -1 } }, text_offset = { 0 } } }),
        tc("b", "stop", { logprobs = { tokens = { "b" }, token_logprobs = { -2 },
          top_logprobs = { { b = -2 } }, text_offset = { 1 } } }),
        { id = "cmpl-1", choices = {}, usage = { total_tokens = 9 } },
      })
      local lp = res.choices[1].logprobs
      assert.are.same({ "a", "b" }, lp.tokens)
      assert.are.same({ -1, -2 }, lp.token_logprobs)
      assert.are.same({ 0, 1 }, lp.text_offset)
      assert.are.equal(2, #lp.top_logprobs)
      assert.are.equal(9, res.usage.total_tokens)
    end)
  end)

  describe("performance", function()
    -- a realistic chunk, decoded once and re-used (decoding is not ours)
    local function make_chunks(n, piece)
      local list = {}
      for i = 1, n do
        list[i] = { id = "chatcmpl-perf", object = "chat.completion.chunk", created = 1,
          model = "gpt-4o-mini", system_fingerprint = "fp_x", service_tier = "default",
          choices = { { index = 0, delta = { content = piece }, logprobs = nil } },
          obfuscation = "abc" }
      end
      return list
    end

    it("assembles 5,000 chunks in well under a second", function()
      local chunks = make_chunks(5000, "token ")
      local t0 = os.clock()
      local n = 0
      local acc = stream.new("chat", { on_delta = function() n = n + 1 end,
        on_chunk = function() end })
      for i = 1, #chunks do acc:add(chunks[i]) end
      local res = acc:finish()
      local dt = os.clock() - t0
      assert.are.equal(5000, n)
      assert.are.equal(5000 * 6, #res.choices[1].message.content)
      assert.is_true(dt < 0.25 * SLOW, ("took %.3f s"):format(dt))
    end)

    it("keeps text() linear: 500,000 one-byte chunks take seconds less than s = s .. piece", function()
      -- quadratic joining needs ~15 s for this; linear well under 2 s
      local c = make_chunks(1, "x")[1]
      local acc = stream.new("chat", { on_delta = function() end })
      local t0 = os.clock()
      for i = 1, 500000 do
        acc:add(c)
        if i % 100000 == 0 then assert.are.equal(i, #acc:text()) end
      end
      assert.are.equal(500000, #acc:finish().choices[1].message.content)
      local dt = os.clock() - t0
      assert.is_true(dt < 2 * SLOW, ("took %.3f s"):format(dt))
    end)

    it("joins 20,000 tool-call argument fragments without slowing down", function()
      local acc = stream.new("chat")
      local t0 = os.clock()
      acc:add(tool { index = 0, id = "c", ["function"] = { name = "f", arguments = "" } })
      local frag = tool { index = 0, ["function"] = { arguments = "ab" } }
      for _ = 1, 20000 do acc:add(frag) end
      local call = acc:finish().choices[1].message.tool_calls[1]
      assert.are.equal(40000, #call["function"].arguments)
      assert.is_true(os.clock() - t0 < 0.5 * SLOW)
    end)
  end)

  describe("assembly time", function()
    -- Each case times n and 4n chunks (CPU time) and wants the ratio under
    -- 8: linear work gives ~4, quadratic ~16 (13 to 17 measured for the
    -- insertion sort these cases were written against). A ratio holds on any
    -- machine and under valgrind, where an absolute bound is a guess. The
    -- chunks are built before the clock starts and the heap is collected
    -- before each run; small and large runs alternate, up to three times,
    -- and each keeps its best, so a burst of load on the machine hits both.
    -- Under valgrind a smaller n keeps the run short; the native run is the
    -- one that catches quadratic work, whose ratio is lower at n = 1,000.
    local N = SLOW > 1 and 1000 or 5000

    local function cpu(run, chunks)
      collectgarbage()
      collectgarbage()
      local t0 = os.clock()
      local out = run(chunks)
      return os.clock() - t0, out
    end

    -- run(build(n)) and run(build(4n)), n = N; returns run's result for 4n
    local function scales_linearly(build, run)
      local small, large = build(N), build(4 * N)
      run(small)
      local ts, tl, out = math.huge, math.huge, nil
      for _ = 1, 3 do
        ts = math.min(ts, (cpu(run, small)))
        local dt
        dt, out = cpu(run, large)
        tl = math.min(tl, dt)
        if os.getenv("VERBOSE") then print(("%.1f ms, %.1f ms"):format(ts * 1e3, tl * 1e3)) end
        if tl < 8 * ts then break end
      end
      assert.is_true(tl < 8 * ts, ("n = %d took %.1f ms, 4n = %d %.1f ms: %.1f times as long")
        :format(N, ts * 1e3, 4 * N, tl * 1e3, tl / ts))
      return out
    end

    -- feeds chunks with on_delta and on_tool_call logging; returns the
    -- response, the reported call ids and how many were reported before finish()
    local function run_logged(chunks)
      local log, pieces = {}, 0
      local acc = stream.new("chat", {
        on_delta = function() pieces = pieces + 1 end,
        on_tool_call = function(call) log[#log + 1] = call.id end,
      })
      for i = 1, #chunks do acc:add(chunks[i]) end
      local before = #log
      return { res = acc:finish(), log = log, before = before, pieces = pieces }
    end

    local function call_chunk(k)
      return tool { index = k, id = "call_" .. k, type = "function",
                    ["function"] = { name = "f" .. k, arguments = '{"k":' .. k .. "}" } }
    end

    -- every id of log is call_0, call_1, ... in that order
    local function in_index_order(log, n)
      assert.are.equal(n, #log)
      for i = 1, n do
        if log[i] ~= "call_" .. (i - 1) then
          assert.are.equal("call_" .. (i - 1), log[i], "report " .. i)
        end
      end
    end

    local function check_calls(res, n)
      local calls = res.choices[1].message.tool_calls
      assert.are.equal(1, #res.choices)
      assert.are.equal(n, #calls)
      for _, k in ipairs { 0, 1, math.floor(n / 2), n - 1 } do
        local call = calls[k + 1]
        assert.are.equal("call_" .. k, call.id)
        assert.are.equal("f" .. k, call["function"].name)
        assert.are.equal('{"k":' .. k .. "}", call["function"].arguments)
      end
    end

    it("assembles choices whose indices count down in index order, in time linear in their number", function()
      local out = scales_linearly(function(n)
        local list = {}
        for i = 1, n do list[i] = content("c" .. (n - i), n - i) end
        return list
      end, run_logged)
      local res, n = out.res, 4 * N
      assert.are.equal(n, out.pieces)
      assert.are.equal(n, #res.choices)
      for _, k in ipairs { 0, 1, math.floor(n / 2), n - 1 } do
        assert.are.equal(k, res.choices[k + 1].index)
        assert.are.equal("c" .. k, res.choices[k + 1].message.content)
      end
    end)

    it("reports tool calls whose indices count up as each next one starts, in linear time", function()
      local out = scales_linearly(function(n)
        local list = {}
        for i = 1, n do list[i] = call_chunk(i - 1) end
        return list
      end, run_logged)
      assert.are.equal(4 * N - 1, out.before)
      in_index_order(out.log, 4 * N)
      check_calls(out.res, 4 * N)
    end)

    it("reports tool calls whose indices count down at finish(), in index order, in linear time", function()
      local out = scales_linearly(function(n)
        local list = {}
        for i = 1, n do list[i] = call_chunk(n - i) end
        return list
      end, run_logged)
      assert.are.equal(0, out.before)
      in_index_order(out.log, 4 * N)
      check_calls(out.res, 4 * N)
    end)

    it("reports each tool call once when every chunk repeats finish_reason, in linear time", function()
      local out = scales_linearly(function(n)
        local list = {}
        for i = 1, n do
          list[2 * i - 1] = call_chunk(n - i)
          list[2 * i] = chunk { delta({}, 0, "tool_calls") }
        end
        return list
      end, run_logged)
      -- finish_reason completes every call of its choice, each reported once
      assert.are.equal(4 * N, out.before)
      assert.are.equal(4 * N, #out.log)
      assert.are.equal("call_" .. (4 * N - 1), out.log[1])
      assert.are.equal("call_0", out.log[4 * N])
      check_calls(out.res, 4 * N)
      assert.are.equal("tool_calls", out.res.choices[1].finish_reason)
    end)
  end)

  describe("tool calls in any order", function()
    -- What on_tool_call must hear, computed naively: when a call with a new
    -- index k arrives, every call not reported yet below k, in index order;
    -- at a finish_reason ("stop" here), and at finish(), all of them.
    -- Returns the reported ids, and how many were reported after each event.
    local function expected(events)
      local seen, pending, log, at = {}, {}, {}, {}
      local function report(limit)
        table.sort(pending)
        local rest = {}
        for _, k in ipairs(pending) do
          if limit == nil or k < limit then log[#log + 1] = "call_" .. k
          else rest[#rest + 1] = k end
        end
        pending = rest
      end
      for i, e in ipairs(events) do
        if e == "stop" then
          report(nil)
        elseif not seen[e] then
          report(e)
          seen[e] = true
          pending[#pending + 1] = e
        end
        at[i] = #log
      end
      report(nil)
      return log, at
    end

    it("reports each call once, when the next index or finish_reason completes it, for shuffled indices", function()
      -- a fixed pseudo-random sequence (an LCG), so every run checks the same orders
      local seed = 12345
      local function rand(m)
        seed = (seed * 1103515245 + 12345) % 2147483648
        return seed % m
      end
      for _ = 1, 100 do
        local events, chunks = {}, {}
        for i = 1, 1 + rand(40) do
          local e = rand(10) == 0 and "stop" or rand(30)
          events[i] = e
          chunks[i] = e == "stop" and chunk { delta({}, 0, "tool_calls") }
            or tool { index = e, id = "call_" .. e, ["function"] = { name = "f", arguments = "x" } }
        end
        local log, at = {}, {}
        local acc = stream.new("chat", { on_tool_call = function(call)
          log[#log + 1] = call.id
        end })
        for i, c in ipairs(chunks) do
          acc:add(c)
          at[i] = #log
        end
        local res = acc:finish()
        local want_log, want_at = expected(events)
        assert.are.same(want_at, at)
        assert.are.same(want_log, log)
        -- the response lists every call once, in index order
        local calls = res.choices[1].message.tool_calls
        if #log == 0 then
          assert.is_nil(calls)
        else
          assert.are.equal(#log, #calls)
          for j = 2, #calls do
            assert.is_true(tonumber(calls[j - 1].id:sub(6)) < tonumber(calls[j].id:sub(6)))
          end
        end
      end
    end)
  end)
end)

-- Specs for chatgpt.response_stream: folding the events of a streamed
-- /responses call. Every recorded Responses stream in spec/fixtures/wire is
-- replayed first (decoded as the module decodes them); hand-written events
-- then cover what no capture shows.

local rstream = require "chatgpt.response_stream"
local decode = require("chatgpt.core").decode
local wire = require "spec.support.wire"

-- The decoded events of a capture, and the type each event line named.
local function events_of(name)
  local list = {}
  for _, data in ipairs(wire.events(wire.read(name))) do list[#list + 1] = assert(decode(data)) end
  return list
end

local function feed(evs, handlers, upto)
  local acc = rstream.new(handlers)
  for i = 1, upto or #evs do acc:add(evs[i]) end
  return acc
end

-- A copy without the fields the terminal event re-encrypts.
local function without_encrypted(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do
    if k ~= "encrypted_content" then t[k] = without_encrypted(x) end
  end
  return t
end

-- Output text, folded naively from the deltas alone.
local function delta_text(evs)
  local parts = {}
  for _, e in ipairs(evs) do
    if e.type == "response.output_text.delta" then parts[#parts + 1] = e.delta end
  end
  return table.concat(parts)
end

local NAMES = wire.list("^responses_stream_.*%.sse$")

describe("chatgpt.response_stream", function()
  describe("replaying every recorded Responses stream", function()
    it("has the eight captures of SOURCES.md section E", function()
      assert.equal(8, #NAMES)
    end)

    for _, name in ipairs(NAMES) do
      it(name .. ": finish() equals the terminal event's response", function()
        local evs = events_of(name)
        local acc = feed(evs)
        local terminal = events_of(name)[#evs]
        assert.truthy(rstream.TERMINAL[terminal.type])
        assert.same(terminal.response, acc:finish())
        assert.equal(#evs, acc.events)
        assert.is_true((acc:complete()))
      end)

      it(name .. ": the items assembled from the events equal the terminal output", function()
        local evs = events_of(name)
        local acc = feed(evs, nil, #evs - 1)       -- all but the terminal event
        local want = events_of(name)[#evs].response.output
        assert.same(without_encrypted(want), without_encrypted(acc:snapshot().output))
        assert.is_false((acc:complete()))
      end)

      it(name .. ": on_delta pieces join to the output text, each with its event", function()
        local evs = events_of(name)
        local pieces = {}
        local acc = feed(evs, { on_delta = function(s, e)
          assert.equal("response.output_text.delta", e.type)
          pieces[#pieces + 1] = s
        end })
        assert.equal(delta_text(evs), table.concat(pieces))
        assert.equal(delta_text(evs), acc:text())
      end)

      it(name .. ": on_event sees every event in order", function()
        local evs = events_of(name)
        local seen = {}
        feed(evs, { on_event = function(e) seen[#seen + 1] = e.type end })
        assert.equal(#evs, #seen)
        for i, e in ipairs(evs) do assert.equal(e.type, seen[i]) end
      end)
    end

    it("gives the text so far after each delta of a stream cut short", function()
      local evs = events_of("responses_stream_gpt-4.1-nano_2026-03.sse")
      local acc = rstream.new()
      local so_far = ""
      for _, e in ipairs(evs) do
        acc:add(e)
        if e.type == "response.output_text.delta" then
          so_far = so_far .. e.delta
          assert.equal(so_far, acc:text())
        end
      end
      assert.equal("2 + 2 equals 4.", acc:text())
    end)

    it("joins the arguments of the streamed function call and reports it once, complete", function()
      local evs = events_of("responses_stream_function_call_gpt-4.1_2025-05.sse")
      local calls = {}
      local acc = feed(evs, { on_tool_call = function(item) calls[#calls + 1] = item end })
      acc:finish()
      assert.equal(1, #calls)
      assert.equal("function_call", calls[1].type)
      assert.equal("get_current_weather", calls[1].name)
      assert.equal('{"location":"Boston, MA","unit":"celsius"}', calls[1].arguments)
      assert.matches("^call_", calls[1].call_id)
      -- before the done events, the deltas alone give the same arguments
      local partial = feed(evs, nil, 15)     -- created, in_progress, added, 12 deltas
      assert.equal('{"location":"Boston, MA","unit":"celsius"}', partial:snapshot().output[1].arguments)
    end)

    it("assembles four reasoning summary parts from their deltas", function()
      local name = "responses_stream_reasoning_summary_o3-mini_2025-09.sse"
      local evs = events_of(name)
      local stop
      for i, e in ipairs(evs) do
        if e.type == "response.reasoning_summary_part.done" and e.summary_index == 3 then stop = i - 2 end
      end
      local acc = feed(evs, nil, stop)     -- the last part still streaming
      local summary = acc:snapshot().output[1].summary
      assert.equal(4, #summary)
      local want = events_of(name)[#evs].response.output[1].summary
      for i = 1, 3 do assert.equal(want[i].text, summary[i].text) end
      assert.equal(want[4].text:sub(1, #summary[4].text), summary[4].text)
      assert.is_true(#summary[4].text > 100)
    end)
  end)

  describe("hand-written events", function()
    local function ev(t, fields)
      fields = fields or {}
      fields.type = t
      return fields
    end
    local function msg_events(texts)
      local list = {
        ev("response.created", { response = { id = "resp_1", status = "in_progress", output = {} } }),
        ev("response.output_item.added", { output_index = 0,
          item = { id = "msg_1", type = "message", role = "assistant", content = {} } }),
        ev("response.content_part.added", { output_index = 0, content_index = 0,
          part = { type = "output_text", text = "", annotations = {} } }),
      }
      for _, t in ipairs(texts) do
        list[#list + 1] = ev("response.output_text.delta", { output_index = 0, content_index = 0, delta = t })
      end
      return list
    end

    it("hands on_reasoning the raw reasoning text some servers stream, and a whole answer's", function()
      local got = {}
      local acc = rstream.new { on_reasoning = function(t, e) got[#got + 1] = { t, e.type } end }
      acc:add(ev("response.output_item.added", { output_index = 0, item = { type = "reasoning", content = {} } }))
      acc:add(ev("response.reasoning_text.delta", { output_index = 0, content_index = 0, delta = "Two " }))
      acc:add(ev("response.reasoning_text.delta", { output_index = 0, content_index = 0, delta = "and two." }))
      assert.same({ { "Two ", "response.reasoning_text.delta" }, { "and two.", "response.reasoning_text.delta" } },
                  got)
      got = {}
      acc = rstream.new { on_reasoning = function(t) got[#got + 1] = t end }
      acc:whole { output = {
        { type = "reasoning", summary = {}, content = { { type = "reasoning_text", text = "Raw." } } },
        { type = "reasoning",
          summary = { { type = "summary_text", text = "One." }, { type = "summary_text", text = "Two." } },
          content = { { type = "reasoning_text", text = "not shown: the summary is" } } },
        { type = "message", content = { { type = "output_text", text = "Four." } } } } }
      assert.same({ "Raw.\n\nOne.\n\nTwo." }, got)
    end)

    it("raises on handlers that are not functions", function()
      assert.has_error(function() rstream.new { on_delta = 1 } end,
        "bad argument #1 to 'new' (on_delta: function expected, got number)")
      assert.has_error(function() rstream.new(5) end, "bad argument #1 to 'new' (table expected, got number)")
    end)

    it("stops calling handlers once one returns false, and add() says so", function()
      local n = 0
      local acc = rstream.new { on_delta = function() n = n + 1; return false end }
      local evs = msg_events { "a", "b", "c" }
      local go
      for _, e in ipairs(evs) do go = acc:add(e) end
      assert.is_false(go)
      assert.equal(1, n)
      assert.equal("abc", acc:text())       -- still merged
    end)

    it("lets a handler's error propagate and calls no handler after it", function()
      local n = 0
      local acc = rstream.new { on_event = function() n = n + 1; error("boom") end }
      assert.has_error(function() acc:add(ev("response.created", { response = {} })) end)
      acc:add(ev("response.in_progress", { response = {} }))
      assert.equal(1, n)
    end)

    it("ignores unknown events and fields, and events that are not tables", function()
      local acc = feed(msg_events { "x" })
      acc:add(ev("response.something_new", { foo = 1 }))
      acc:add("not a table")
      acc:add(ev("response.output_text.delta", { output_index = 0, content_index = 0, delta = "y",
                                                 something = { new = true } }))
      assert.equal("xy", acc:text())
    end)

    it("finish() falls back to the assembled output when the terminal response has none", function()
      local evs = msg_events { "he", "llo" }
      evs[#evs + 1] = ev("response.completed", { response = { id = "resp_1", status = "completed" } })
      local r = feed(evs):finish()
      assert.equal("completed", r.status)
      assert.equal("hello", r.output[1].content[1].text)
    end)

    it("counts data: [DONE] without a terminal event as an end, from a lenient server", function()
      local acc = feed(msg_events { "x" })
      assert.is_false((acc:complete(false)))
      assert.is_true((acc:complete(true)))
      assert.equal("x", acc:finish().output[1].content[1].text)
    end)

    it("keeps refusal deltas and annotations in their parts", function()
      local acc = feed {
        ev("response.output_item.added", { output_index = 0, item = { type = "message", content = {} } }),
        ev("response.content_part.added", { output_index = 0, content_index = 0,
          part = { type = "refusal", refusal = "" } }),
        ev("response.refusal.delta", { output_index = 0, content_index = 0, delta = "I can" }),
        ev("response.refusal.delta", { output_index = 0, content_index = 0, delta = "not." }),
        ev("response.content_part.added", { output_index = 0, content_index = 1,
          part = { type = "output_text", text = "", annotations = {} } }),
        ev("response.output_text.annotation.added", { output_index = 0, content_index = 1,
          annotation_index = 0, annotation = { type = "url_citation", url = "https://x" } }),
      }
      local content = acc:snapshot().output[1].content
      assert.equal("I cannot.", content[1].refusal)
      assert.equal("https://x", content[2].annotations[1].url)
    end)

    it("reports each function call once even when finish() sees it again", function()
      local calls = 0
      local item = { type = "function_call", name = "f", call_id = "call_1", arguments = "{}" }
      local acc = feed({
        ev("response.output_item.added", { output_index = 0, item = { type = "function_call", name = "f" } }),
        ev("response.output_item.done", { output_index = 0, item = item }),
        ev("response.completed", { response = { status = "completed", output = { item } } }),
      }, { on_tool_call = function() calls = calls + 1 end })
      acc:finish()
      acc:finish()
      assert.equal(1, calls)
    end)

    it("whole() drives on_delta and on_tool_call from a plain JSON response", function()
      local text, calls = {}, {}
      local acc = rstream.new { on_delta = function(s) text[#text + 1] = s end,
                                on_tool_call = function(i) calls[#calls + 1] = i.name end }
      acc:whole { output = {
        { type = "message", content = { { type = "output_text", text = "hi" } } },
        { type = "function_call", name = "f", arguments = "{}" } } }
      assert.same({ "hi" }, text)
      assert.same({ "f" }, calls)
    end)

    it("counts a missing index as 0, as some compatible servers leave them out", function()
      local acc = feed {
        ev("response.output_item.added", { item = { type = "message", content = {} } }),
        ev("response.content_part.added", { part = { type = "output_text", text = "" } }),
        ev("response.output_text.delta", { delta = "no " }),
        ev("response.output_text.delta", { delta = "index" }),
      }
      assert.equal("no index", acc:text())
    end)

    it("assembles 20,000 deltas in linear time", function()
      local evs = msg_events {}
      local acc = feed(evs)
      local d = ev("response.output_text.delta", { output_index = 0, content_index = 0, delta = "ab" })
      local t0 = os.clock()
      for _ = 1, 20000 do acc:add(d) end
      assert.equal(40000, #acc:text())
      assert.is_true(os.clock() - t0 < (os.getenv("CHATGPT_VALGRIND") and 50 or 1) * 0.5)
    end)
  end)

  describe("events from a hostile server", function()
    local function ev(t, fields)
      fields = fields or {}
      fields.type = t
      return fields
    end
    local START = {
      ev("response.created", { response = { id = "resp_h", status = "in_progress", output = {} } }),
      ev("response.output_item.added", { output_index = 0,
        item = { id = "msg_h", type = "message", role = "assistant", content = {} } }),
      ev("response.content_part.added", { output_index = 0, content_index = 0,
        part = { type = "output_text", text = "", annotations = {} } }),
      ev("response.output_text.delta", { output_index = 0, content_index = 0, delta = "ok" }),
    }
    local function started(handlers)
      local acc = rstream.new(handlers)
      for _, e in ipairs(START) do assert.is_true(acc:add(e)) end
      return acc
    end

    -- After a malformed event: parse error, no handler again, and every
    -- later call on the accumulator still works.
    local function refused(acc, e, field)
      local go, err = acc:add(e)
      assert.is_false(go)
      assert.equal("parse", err.kind)
      assert.equal("BAD_EVENT", err.code)
      assert.truthy(err.message:find(field, 1, true), err.message)
      assert.equal("ok", acc:text())
      assert.equal("table", type(acc:snapshot().output))
      assert.equal("table", type(acc:finish()))
    end

    local BAD_INDICES = { 1.5, -1, -0.5, 1e12, 2 ^ 53, 1048577, math.huge, -math.huge, 0 / 0,
                          "1", "x", true, {}, { 1 } }
    local WHERE = {
      output_index = { "response.output_item.added", { item = { type = "message", content = {} } } },
      content_index = { "response.output_text.delta", { output_index = 0, delta = "x" } },
      summary_index = { "response.reasoning_summary_text.delta", { output_index = 0, delta = "x" } },
      annotation_index = { "response.output_text.annotation.added",
                           { output_index = 0, content_index = 0, annotation = { type = "url_citation" } } },
    }
    for field, where in pairs(WHERE) do
      for _, bad in ipairs(BAD_INDICES) do
        local shown = type(bad) == "table" and "a table" or tostring(bad)
        it(("ends with nil, err{kind = 'parse', code = 'BAD_EVENT'} for %s = %s"):format(field, shown), function()
          local n = 0
          local acc = started { on_delta = function() n = n + 1 end, on_event = function() n = n + 1 end }
          n = 0
          local e = ev(where[1], {})
          for k, v in pairs(where[2]) do e[k] = v end
          e[field] = bad
          refused(acc, e, field)
          acc:add(ev("response.output_text.delta", { output_index = 0, content_index = 0, delta = "more" }))
          assert.equal(0, n)
        end)
      end
    end

    local BAD_PAYLOADS = {
      { "response.output_text.delta", "delta", 5 },
      { "response.output_text.delta", "delta", { "a" } },
      { "response.output_text.delta", "logprobs", "x" },
      { "response.output_item.added", "item", "an item" },
      { "response.output_item.done", "item", 7 },
      { "response.content_part.added", "part", true },
      { "response.output_text.done", "text", { 1 } },
      { "response.refusal.delta", "delta", false },
      { "response.function_call_arguments.delta", "delta", 1 },
      { "response.function_call_arguments.done", "arguments", {} },
      { "response.output_text.annotation.added", "annotation", "x" },
      { "response.reasoning_summary_part.added", "part", 0 },
      { "response.created", "response", "x" },
      { "response.completed", "response", 42 },
    }
    for _, case in ipairs(BAD_PAYLOADS) do
      it(("ends with BAD_EVENT for %s whose %s is a %s"):format(case[1], case[2], type(case[3])), function()
        local e = ev(case[1], { output_index = 0, content_index = 0, summary_index = 0 })
        e[case[2]] = case[3]
        refused(started(), e, case[2])
      end)
    end

    it("makes an index an integer, and 1.0 the same index as 1", function()
      local acc = started()
      assert.is_true(acc:add(ev("response.output_item.added", { output_index = 1.0,
        item = { type = "message", content = {} } })))
      assert.is_true(acc:add(ev("response.content_part.added", { output_index = 1, content_index = 0.0,
        part = { type = "output_text", text = "" } })))
      assert.is_true(acc:add(ev("response.output_text.delta", { output_index = 1.0, content_index = 0,
        delta = "!" })))
      assert.equal("ok!", acc:text())
      assert.equal(2, #acc:snapshot().output)
    end)

    it("spends no time on an index's value: items at 0, 1048576 and 500000 come out in order", function()
      local acc = started()
      for _, oi in ipairs { 1048576, 500000, 3 } do
        assert.is_true(acc:add(ev("response.output_item.added", { output_index = oi,
          item = { type = "function_call", name = "f" .. oi, arguments = "{}" } })))
      end
      local out = acc:snapshot().output
      assert.equal(4, #out)
      assert.same({ "message", "f3", "f500000", "f1048576" },
                  { out[1].type, out[2].name, out[3].name, out[4].name })
      -- many items, indices counting down: one sort
      acc = rstream.new()
      local t0 = os.clock()
      for oi = 1048576, 1048576 - 20000, -1 do
        acc:add(ev("response.output_item.added", { output_index = oi, item = { type = "x", n = oi } }))
      end
      out = acc:snapshot().output
      assert.equal(20001, #out)
      assert.equal(1048576 - 20000, out[1].n)
      assert.is_true(os.clock() - t0 < (os.getenv("CHATGPT_VALGRIND") and 50 or 1) * 2)
    end)

    for _, name in ipairs { "response.completed", "response.incomplete", "response.failed" } do
      it("ignores every event after " .. name .. ": no handler runs, the response stays", function()
        local n = 0
        local acc = started { on_delta = function() n = n + 1 end, on_event = function() n = n + 1 end,
                              on_tool_call = function() n = n + 1 end }
        local final = { id = "resp_h", status = name:match("%.(%a+)$"),
          output = { { type = "message", content = { { type = "output_text", text = "ok" } } } } }
        assert.is_true(acc:add(ev(name, { response = final })))
        n = 0
        for _, e in ipairs {
          ev("response.output_text.delta", { output_index = 0, content_index = 0, delta = "late" }),
          ev("response.output_item.done", { output_index = 1,
            item = { type = "function_call", name = "f", call_id = "c", arguments = "{}" } }),
          ev("response.completed", { response = { id = "other", status = "completed", output = {} } }),
          ev("response.output_text.delta", { output_index = 1.5, delta = 5 }),     -- malformed too
          ev("error", { message = "late" }),
        } do
          assert.is_true(acc:add(e))
        end
        assert.equal(0, n)
        assert.is_true(acc:over())
        assert.equal(final, acc:finish())
        assert.equal("ok", acc:text())
      end)
    end
  end)
end)

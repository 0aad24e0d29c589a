-- client:respond against a hostile server (issue 19): numbers in events
-- that are not indices, events after the terminal one, streams cut inside
-- their framing. Nothing may raise out of wait or poll, and no index may
-- cost time or memory for its value.
local chatgpt = require "chatgpt"
local core = require "chatgpt.core"
local fake = require "spec.support.fake"
local T = require "spec.support.client"

local encode = core.encode

local function sse(list)
  local out = {}
  for _, e in ipairs(list) do
    out[#out + 1] = "event: " .. e.type .. "\ndata: " .. assert(encode(e)) .. "\n\n"
  end
  return table.concat(out)
end

local function ev(t, fields)
  fields = fields or {}
  fields.type = t
  return fields
end

local CREATED = ev("response.created", { response = { id = "resp_h", status = "in_progress", output = {} } })
local ADDED = ev("response.output_item.added", { output_index = 0,
  item = { id = "msg_h", type = "message", role = "assistant", content = {} } })
local PART = ev("response.content_part.added", { output_index = 0, content_index = 0,
  part = { type = "output_text", text = "", annotations = {} } })
local function delta(s) return ev("response.output_text.delta", { output_index = 0, content_index = 0, delta = s }) end
local FINAL = { id = "resp_h", object = "response", status = "completed", output = {
  { id = "msg_h", type = "message", role = "assistant", status = "completed",
    content = { { type = "output_text", text = "Hello", annotations = {} } } } } }
local COMPLETED = ev("response.completed", { response = FINAL })

local HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
local function chunk(s) return ("%x\r\n%s\r\n"):format(#s, s) end

describe("client:respond against a hostile server", function()
  before_each(function() T.drain(); fake.reset() end)
  after_each(T.drain)

  describe("numbers that are not indices", function()
    local CASES = {
      { "output_index", 1e12 }, { "output_index", 1e8 }, { "output_index", -1 }, { "output_index", 1.5 },
      { "output_index", "0" }, { "output_index", 2 ^ 63 }, { "content_index", 1e12 },
      { "content_index", -3 }, { "content_index", 0.25 }, { "content_index", { 0 } },
      { "summary_index", 1e15 }, { "annotation_index", -1e9 },
    }
    for _, case in ipairs(CASES) do
      local field, bad = case[1], case[2]
      local shown = type(bad) == "table" and "a list" or type(bad) == "string" and ("%q"):format(bad) or tostring(bad)
      it(("%s = %s: nil, err{kind = 'parse', code = 'BAD_EVENT'} from wait and from poll, at once")
         :format(field, shown), function()
        local e
        if field == "output_index" then
          e = ev("response.output_item.added", { item = { type = "message", content = {} } })
        elseif field == "summary_index" then
          e = ev("response.reasoning_summary_text.delta", { output_index = 0, delta = "x" })
        elseif field == "annotation_index" then
          e = ev("response.output_text.annotation.added", { output_index = 0, content_index = 0,
                                                             annotation = { type = "url_citation" } })
        else
          e = delta("x")
        end
        e[field] = bad
        local body = sse { CREATED, ADDED, PART, delta("He"), e, delta("llo"), COMPLETED }
        fake.script { sse_raw = body, ["repeat"] = 2 }
        local c = T.new { max_retries = 0, timeout = 20 }
        local pieces = {}
        local t0 = core.now()
        local ok, text, err = pcall(c.respond, c, "x", { on_delta = function(s) pieces[#pieces + 1] = s end })
        assert.is_true(ok, tostring(text))
        assert.is_nil(text)
        assert.equal("parse", err.kind)
        assert.equal("BAD_EVENT", err.code)
        assert.truthy(err.message:find(field, 1, true), err.message)
        assert.equal("He", err.partial)
        assert.same({ "He" }, pieces)
        -- the same through respond_async and chatgpt.poll
        local req = c:respond_async("x", { stream = true })
        local pok, perr = pcall(function()
          while chatgpt.poll(0.05) > 0 do end
        end)
        assert.is_true(pok, tostring(perr))
        local t2, e2 = req:result()
        assert.is_nil(t2)
        assert.equal("BAD_EVENT", e2.code)
        assert.is_true(core.now() - t0 < 10)
      end)
    end

    it("an output_index of 1048576, the largest, costs nothing for its value", function()
      local far = ev("response.output_item.added", { output_index = 1048576,
        item = { type = "function_call", name = "f", call_id = "c", arguments = "{}" } })
      fake.script { sse_raw = sse { CREATED, ADDED, PART, delta("Hello"), far, COMPLETED } }
      local t0 = os.clock()
      local text, r = T.new():respond("x", { stream = true })
      assert.equal("Hello", text, tostring(r))
      assert.is_true(os.clock() - t0 < (os.getenv("CHATGPT_VALGRIND") and 50 or 1) * 2)
    end)
  end)

  describe("events after the terminal one", function()
    local AFTER = {
      delta = delta(" and more"),
      ["another completed"] = ev("response.completed", { response = { id = "resp_x", status = "completed",
        output = { { type = "message", content = { { type = "output_text", text = "other" } } } } } }),
      ["an error event"] = ev("error", { message = "late failure", code = "server_error" }),
      ["a malformed event"] = ev("response.output_text.delta", { output_index = -1, delta = 5 }),
      ["a function call"] = ev("response.output_item.done", { output_index = 1,
        item = { type = "function_call", name = "f", call_id = "c", arguments = "{}" } }),
    }
    for _, terminal in ipairs { "response.completed", "response.incomplete", "response.failed" } do
      for what, late in pairs(AFTER) do
        it(("after %s, %s is ignored: no handler runs, the answer is the terminal event's")
           :format(terminal, what), function()
          local final = { id = "resp_h", status = terminal:match("%.(%a+)$"), output = FINAL.output,
                          error = terminal == "response.failed" and { code = "boom", message = "failed" } or nil }
          fake.script { sse_raw = sse { CREATED, ADDED, PART, delta("Hello"), ev(terminal, { response = final }),
                                        late, delta("!") } }
          local deltas, events, calls = {}, 0, 0
          local text, r = T.new { max_retries = 0 }:respond("x", {
            on_delta = function(s) deltas[#deltas + 1] = s end,
            on_event = function() events = events + 1 end,
            on_tool_call = function() calls = calls + 1 end })
          assert.same({ "Hello" }, deltas)
          assert.equal(5, events)
          assert.equal(0, calls)
          if terminal == "response.failed" then
            assert.is_nil(text)
            assert.equal("api", r.kind)
            assert.equal("boom", r.code)
          else
            assert.equal("Hello", text, tostring(r))
            assert.equal("resp_h", r.id)
          end
        end)
      end
    end
  end)

  describe("a stream cut inside its chunked framing", function()
    local body = sse { CREATED, ADDED, PART, delta("Hel"), delta("lo") }
    local one = sse { CREATED, ADDED, PART, delta("Hel") }
    local rest = sse { delta("lo") }
    local CUTS = {
      ["in a chunk's size line"] = HEAD .. chunk(one) .. "1",
      ["after a chunk's size line"] = HEAD .. chunk(one) .. ("%x\r\n"):format(#rest),
      ["in a chunk's data"] = HEAD .. chunk(one) .. ("%x\r\n"):format(#rest) .. rest:sub(1, 9),
      ["between a chunk's data and its CRLF"] = HEAD .. chunk(one) .. ("%x\r\n"):format(#rest) .. rest,
      ["before the last chunk"] = HEAD .. chunk(body),
      ["with a length longer than the body"] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        .. "Content-Length: " .. (#body + 100) .. "\r\n\r\n" .. body,
    }
    for what, raw in pairs(CUTS) do
      it(what .. ": nil, err{kind = 'network', code = 'STREAM_TRUNCATED'} with the partial text", function()
        fake.script { raw = raw }
        local text, err = T.new { max_retries = 2 }:respond("x", { stream = true })
        assert.is_nil(text)
        assert.equal("network", err.kind)
        assert.equal("STREAM_TRUNCATED", err.code)
        assert.truthy(err.partial == "Hel" or err.partial == "Hello", err.partial)
        assert.equal(1, err.attempts)
        assert.equal(1, #fake.requests())
      end)
    end

    it("after the terminal event, a cut does not matter: the answer is whole", function()
      local whole = sse { CREATED, ADDED, PART, delta("Hello"), COMPLETED }
      for _, raw in ipairs { HEAD .. chunk(whole), HEAD .. chunk(whole) .. "5\r\nda",
                             HEAD .. chunk(whole) .. chunk(sse { delta("late") }) .. "0" } do
        fake.reset()
        fake.script { raw = raw }
        local text, r = T.new { max_retries = 0 }:respond("x", { stream = true })
        assert.equal("Hello", text, tostring(r))
        assert.equal("resp_h", r.id)
      end
    end)
  end)

  describe("a stream larger than max_stream_bytes", function()
    for _, gzip in ipairs { false, true } do
      it((gzip and "gzip-encoded" or "plain") .. ": nil, err{kind = 'limit', code = 'STREAM_TOO_LARGE'}, "
         .. "what was assembled under the cap", function()
        local list = { CREATED, ADDED, PART }
        for i = 1, 200 do list[3 + i] = delta(("d"):rep(10000)) end
        list[#list + 1] = COMPLETED
        local body = sse(list)
        fake.script { sse_raw = body, gzip = gzip or nil }
        local c = T.new { max_stream_bytes = 500000, max_retries = 1 }
        local text, err = c:respond("x", { stream = true })
        assert.is_nil(text)
        assert.equal("limit", err.kind)
        assert.equal("STREAM_TOO_LARGE", err.code)
        assert.truthy(#err.partial > 0 and #err.partial < 500000, #err.partial)
        assert.equal(1, #fake.requests())
        fake.script { sse_raw = body }
        -- the same stream under a cap of its size is whole (the final response's text)
        assert.equal("Hello", (T.new { max_stream_bytes = #body }:respond("x", { stream = true })))
      end)
    end
  end)
end)

-- Conversations on the Responses API: client:conversation { api = "responses" }
-- against the fake server and real captures: the history kept by the
-- server (previous_response_id) or sent whole (store = false), the tool
-- loop, schema, undo, fork, say_async, save and load, and failures.
local chatgpt = require "chatgpt"
local decode = require("chatgpt.core").decode
local fake = require "spec.support.fake"
local wire = require "spec.support.wire"
local T = require "spec.support.client"

local WEATHER = { description = "Weather in a city",
  parameters = { type = "object", properties = { city = { type = "string" } } } }

local function conv_of(opts, client)
  opts = opts or {}
  opts.api = "responses"
  return (client or T.new()):conversation(opts)
end

local function replay(name)
  local status, headers = wire.headers(name)
  fake.script { status = status, headers = headers, body = wire.read(name), path = "/responses" }
  return assert(decode(wire.read(name)))
end

local function sent(i) return fake.requests()[i].json end

describe("a Responses conversation", function()
  before_each(function() T.drain(); fake.reset() end)
  after_each(T.drain)

  describe("with store on (the default)", function()
    it("sends only the new message, with previous_response_id and the instructions every time", function()
      local conv = conv_of { instructions = "Be terse.", model = "gpt-4.1-nano" }
      local reply, r1 = conv:say("My name is Ada.")
      assert.equal(T.HELLO, reply)
      local _, r2 = conv:say("What is my name?")
      local a, b = sent(1), sent(2)
      assert.same({ { role = "user", content = "My name is Ada." } }, a.input)
      assert.is_nil(a.previous_response_id)
      assert.same({ { role = "user", content = "What is my name?" } }, b.input)
      assert.equal(r1.id, b.previous_response_id)
      assert.equal("Be terse.", a.instructions)
      assert.equal("Be terse.", b.instructions)
      assert.equal("gpt-4.1-nano", b.model)
      assert.is_nil(b.store)
      assert.equal(r2.id, conv.response_id)
      assert.equal(4, #conv.items)
      assert.equal("user", conv.items[3].role)
      assert.equal("message", conv.items[4].type)
    end)

    it("sums input, output and total tokens into conv.usage", function()
      local conv = conv_of()
      local _, r1 = conv:say("a")
      local _, r2 = conv:say("b")
      assert.equal(r1.usage.total_tokens + r2.usage.total_tokens, conv.usage.total_tokens)
      assert.equal(r1.usage.input_tokens + r2.usage.input_tokens, conv.usage.input_tokens)
      assert.equal(r1.usage.output_tokens + r2.usage.output_tokens, conv.usage.output_tokens)
    end)

    it("undo drops the last say and goes back to the response before it", function()
      local conv = conv_of()
      local _, r1 = conv:say("one")
      conv:say("two")
      local dropped = conv:undo()
      assert.equal(2, #dropped)
      assert.equal("two", dropped[1].content)
      assert.equal(r1.id, conv.response_id)
      assert.equal(2, #conv.items)
      conv:say("three")
      assert.equal(r1.id, sent(3).previous_response_id)
      assert.same({ { role = "user", content = "three" } }, sent(3).input)
      conv:undo(); conv:undo()
      assert.is_nil(conv:undo())
      assert.is_nil(conv.response_id)
      assert.equal(0, #conv.items)
    end)

    it("fork goes on from the same response; the two branches are independent", function()
      local conv = conv_of()
      local _, r1 = conv:say("root")
      local other = conv:fork()
      conv:say("left")
      other:say("right")
      assert.equal(r1.id, sent(2).previous_response_id)
      assert.equal(r1.id, sent(3).previous_response_id)
      assert.equal("left", conv.items[3].content)
      assert.equal("right", other.items[3].content)
      assert.are_not.equal(conv.response_id, other.response_id)
    end)

    it("items added with add() go with the next say", function()
      local conv = conv_of()
      conv:say("first")
      conv:add("developer", "Answer in French.")
      conv:say("second")
      assert.same({ { role = "developer", content = "Answer in French." },
                    { role = "user", content = "second" } }, sent(2).input)
    end)
  end)

  describe("with store = false", function()
    it("sends the whole history, output items as received (ids too), and store = false", function()
      local conv = conv_of { store = false }
      conv:say("one")
      conv:say("two")
      local b = sent(2)
      assert.is_false(b.store)
      assert.is_nil(b.previous_response_id)
      assert.equal(3, #b.input)
      assert.equal("one", b.input[1].content)
      assert.equal("message", b.input[2].type)
      assert.matches("^msg_", b.input[2].id)
      assert.equal(conv.items[2].id, b.input[2].id)
      assert.equal(T.HELLO, b.input[2].content[1].text)
      assert.equal("two", b.input[3].content)
    end)

    it("sends reasoning items back only with their encrypted_content", function()
      local conv = conv_of { store = false }
      local enc = replay("responses_reasoning_encrypted_gpt-5-nano_2026-08.json")
      conv:say("with encrypted reasoning")
      replay("responses_reasoning_gpt-5-mini_2025-12.json")
      conv:say("without")
      conv:say("third")
      local input = sent(3).input
      local types = {}
      for i, it in ipairs(input) do types[i] = it.type or it.role end
      assert.same({ "user", "reasoning", "message", "user", "message", "user" }, types)
      assert.equal(enc.output[1].encrypted_content, input[2].encrypted_content)
      assert.equal(enc.output[1].id, input[2].id)
    end)

    it("undo shortens what the next say sends", function()
      local conv = conv_of { params = { store = false } }
      assert.is_false(conv.store)
      conv:say("one")
      conv:say("two")
      conv:undo()
      conv:say("three")
      local input = sent(3).input
      assert.equal(3, #input)
      assert.equal("three", input[3].content)
    end)
  end)

  describe("tools", function()
    it("runs the loop: function_call, then function_call_output on the call's response", function()
      local conv = conv_of()
      local seen
      conv:tool("weather", WEATHER, function(a, call)
        seen = call
        return { city = a.city, temp_c = 21 }
      end)
      local reply, r = conv:say("Is it warm?", { tool_choice = "required" })
      assert.same({ city = "x", temp_c = 21 }, decode(reply:match("^Tool said: (.*)$")))
      assert.equal("completed", r.status)
      local a, b = sent(1), sent(2)
      assert.same({ { type = "function", name = "weather", description = "Weather in a city",
        parameters = WEATHER.parameters, strict = false } }, a.tools)
      assert.equal("required", a.tool_choice)
      assert.is_nil(b.tool_choice)
      local first = fake.requests()
      assert.equal(2, #first)
      assert.equal(1, #b.input)
      assert.equal("function_call_output", b.input[1].type)
      assert.equal(seen.id, b.input[1].call_id)
      assert.same({ city = "x", temp_c = 21 }, decode(b.input[1].output))
      assert.equal(seen.item.id, conv.items[2].id)
      local types = {}
      for i, it in ipairs(conv.items) do types[i] = it.type or it.role end
      assert.same({ "user", "function_call", "function_call_output", "message" }, types)
      assert.equal(r.id, conv.response_id)
    end)

    it("with store = false, each round sends the whole history", function()
      local conv = conv_of { store = false }
      conv:tool("weather", WEATHER, function() return "sunny" end)
      conv:say("Is it warm?", { tool_choice = "required" })
      local input = sent(2).input
      local types = {}
      for i, it in ipairs(input) do types[i] = it.type or it.role end
      assert.same({ "user", "function_call", "function_call_output" }, types)
      assert.matches("^fc_", input[2].id)
      assert.equal("sunny", input[3].output)
    end)

    it("streams every round, and the loop gives the final text", function()
      local conv = conv_of()
      conv:tool("weather", WEATHER, function() return "sunny" end)
      local pieces = {}
      local reply = conv:say("Is it warm?", { tool_choice = "required",
        on_delta = function(p) pieces[#pieces + 1] = p end })
      assert.equal("Tool said: sunny", reply)
      assert.equal("Tool said: sunny", table.concat(pieces))
      assert.is_true(sent(1).stream)
    end)

    it("replays the real function call and its follow-up", function()
      local first = replay("responses_function_call_gpt-4o-mini_2026-04.json")
      local second = replay("responses_previous_response_id_function_call_output_gpt-4o-mini_2026-04.json")
      local conv = conv_of()
      conv:tool("get_user_profile", { parameters = { type = "object",
        properties = { user_id = { type = "string" } } } }, function(a)
        return { user_id = a.user_id, name = "Ada" }
      end)
      local reply = conv:say("Who is user123?")
      assert.equal(chatgpt.output_text(second), reply)
      local b = sent(2)
      assert.equal(first.id, b.previous_response_id)
      assert.equal(first.output[1].call_id, b.input[1].call_id)
      assert.same({ user_id = "user123", name = "Ada" }, decode(b.input[1].output))
      assert.equal(second.id, conv.response_id)
    end)

    it("an unknown tool and a tool that raises go back to the model as errors", function()
      local conv = conv_of()
      conv:tool("weather", WEATHER, function() error("no sensor") end)
      local failure
      local reply = conv:say("x", { tool_choice = "required",
        after_tool = function(_, _, f) failure = f end })
      assert.truthy(reply:find("no sensor", 1, true))
      assert.truthy(failure:find("no sensor", 1, true))
    end)

    it("before_tool returning false stops the say; the history stays as it was", function()
      local conv = conv_of()
      conv:say("hello")
      local id, n = conv.response_id, #conv.items
      conv:tool("weather", WEATHER, function() return "x" end)
      local reply, err = conv:say("x", { tool_choice = "required", before_tool = function() return false end })
      assert.is_nil(reply)
      assert.equal("cancelled", err.kind)
      assert.equal(id, conv.response_id)
      assert.equal(n, #conv.items)
    end)

    it("after max_tool_rounds: nil, err{kind = 'limit', code = 'TOOL_ROUNDS'}", function()
      local call = { id = "resp_t", object = "response", status = "completed", output = {
        { type = "function_call", id = "fc_1", call_id = "call_1", name = "weather", arguments = "{}" } } }
      fake.script { path = "/responses", json = call, ["repeat"] = 3 }
      local conv = conv_of { max_tool_rounds = 1 }
      conv:tool("weather", WEATHER, function() return "x" end)
      local reply, err = conv:say("x")
      assert.is_nil(reply)
      assert.equal("limit", err.kind)
      assert.equal("TOOL_ROUNDS", err.code)
      assert.equal(0, #conv.items)
    end)
  end)

  describe("schema", function()
    it("sends text.format json_schema and returns the decoded reply", function()
      local conv = conv_of()
      local schema = { type = "object", properties = { name = { type = "string" }, age = { type = "integer" } },
                       required = { "name", "age" }, additionalProperties = false }
      local data = conv:say("John is 30", { schema = { name = "person", schema = schema },
                                            text = { verbosity = "low" } })
      assert.same({ name = "x", age = 1 }, data)
      local text = sent(1).text
      assert.same({ type = "json_schema", name = "person", schema = schema, strict = true }, text.format)
      assert.equal("low", text.verbosity)
    end)

    it("reads the real json_schema capture", function()
      replay("responses_json_schema_gpt-5-nano_2026-08.json")
      local data = conv_of():say("x", { schema = { name = "person", schema = { type = "object" } } })
      assert.same({ name = "John", age = 30 }, data)
    end)

    it("a reply that is not JSON is kind 'parse'; a refusal is kind 'refusal'", function()
      fake.script { path = "/responses", json = { id = "resp_n", status = "completed", output = {
        { type = "message", content = { { type = "output_text", text = "not json" } } } } } }
      local conv = conv_of()
      local _, err = conv:say("x", { json = true })
      assert.equal("parse", err.kind)
      fake.script { path = "/responses", json = { id = "resp_r", status = "completed", output = {
        { type = "message", content = { { type = "refusal", refusal = "No." } } } } } }
      local _, err2 = conv:say("x", { json = true })
      assert.equal("refusal", err2.kind)
      assert.equal("No.", err2.message)
      assert.equal(0, #conv.items)
    end)
  end)

  describe("failures", function()
    it("a failed say leaves the history and the chain as they were", function()
      local conv = conv_of()
      conv:say("ok")
      local id = conv.response_id
      fake.script { path = "/responses", status = 500, ["repeat"] = 3 }
      local reply, err = conv:say("boom")
      assert.is_nil(reply)
      assert.equal(500, err.status)
      assert.equal(id, conv.response_id)
      assert.equal(2, #conv.items)
    end)

    it("a 429 in the tool loop is retried, and the loop goes on", function()
      local conv = conv_of()
      conv:tool("weather", WEATHER, function() return "x" end)
      fake.script { { path = "/responses", body_contains = "function_call_output", status = 429,
                      headers = { { "retry-after-ms", "10" } } } }
      local reply = conv:say("x", { tool_choice = "required" })
      assert.equal("Tool said: x", reply)
      assert.equal(3, #fake.requests())
    end)

    it("a stream reset mid-say is kind 'network', the history untouched", function()
      local conv = conv_of()
      fake.script { path = "/responses", sse_file = "responses_stream_gpt-4.1-nano_2025-11.sse", drop_after = 1500 }
      local reply, err = conv:say("x", { on_delta = function() end })
      assert.is_nil(reply)
      assert.equal("network", err.kind)
      assert.equal(0, #conv.items)
      assert.is_nil(conv.response_id)
    end)

    it("an answer that is not JSON is kind 'parse'", function()
      fake.script { path = "/responses", body = "{oops", headers = { { "Content-Type", "application/json" } } }
      local _, err = conv_of():say("x")
      assert.equal("parse", err.kind)
    end)
  end)

  describe("say_async", function()
    it("runs the whole tool loop on the engine", function()
      local conv = conv_of()
      conv:tool("weather", WEATHER, function() return "x" end)
      local h = conv:say_async("x", { tool_choice = "required" })
      assert.equal("pending", h.status)
      while chatgpt.poll(0.05) > 0 do end
      assert.equal("done", h.status)
      assert.equal("Tool said: x", (h:result()))
      assert.equal(4, #conv.items)
    end)

    it("cancel stops it; the history stays as it was", function()
      fake.script { path = "/responses", delay = 0.5 }
      local conv = conv_of()
      local h = conv:say_async("x")
      chatgpt.poll(0.05)
      h:cancel()
      assert.equal("cancelled", h.status)
      assert.equal(0, #conv.items)
      assert.has_no_error(function() conv:say("again") end)
    end)
  end)

  describe("save and load", function()
    it("keeps items, the chain, turns, instructions, store and usage", function()
      local conv = conv_of { instructions = "Be terse.", params = { temperature = 0.2 } }
      local _, r1 = conv:say("one")
      conv:say("two")
      local path = os.tmpname()
      assert.is_true(conv:save(path))
      local back = assert(chatgpt.load(path, T.new()))
      assert.equal("responses", back.api)
      assert.equal("Be terse.", back.instructions)
      assert.same(conv.items, back.items)
      assert.equal(conv.response_id, back.response_id)
      assert.same(conv.usage, back.usage)
      assert.is_true(back.store)
      back:undo()
      assert.equal(r1.id, back.response_id)
      back:say("three")
      assert.equal(r1.id, sent(3).previous_response_id)
      assert.equal(0.2, sent(3).temperature)
      os.remove(path)
    end)

    it("refuses a file whose fields are wrong", function()
      local path = os.tmpname()
      local f = assert(io.open(path, "w"))
      f:write('{"version":1,"api":"responses","items":[1,2]}')
      f:close()
      local conv, err = chatgpt.load(path, T.new())
      assert.is_nil(conv)
      assert.truthy(err:find("'items' must be", 1, true))
      os.remove(path)
    end)
  end)

  describe("an answer it cannot keep", function()
    local GOOD = { type = "message", role = "assistant",
                   content = { { type = "output_text", text = "fine" } } }
    local BAD = {
      ["a number"] = { 5 },
      ["a string"] = { "item" },
      ["a list"] = { { 1, 2 } },
      ["an object without a type"] = { { role = "assistant", content = "x" } },
      ["a type that is a number"] = { { type = 7 } },
      ["a function_call without call_id"] = { { type = "function_call", name = "f", arguments = "{}" } },
      ["a function_call whose arguments are an object"] =
        { { type = "function_call", name = "f", call_id = "c", arguments = { a = 1 } } },
      ["a message whose content is a number"] = { { type = "message", role = "assistant", content = 5 } },
      ["a message with a part that is a string"] = { { type = "message", role = "assistant", content = { "x" } } },
      ["an item whose id is an object"] = { GOOD, { type = "web_search_call", id = { 1 } } },
      ["an output that is an object"] = { first = GOOD },
    }
    for what, output in pairs(BAD) do
      for _, store in ipairs { true, false } do
        it(("(%s, store %s): nil, err{kind = 'parse', code = 'BAD_REPLY'}, nothing kept, the next say works")
           :format(what, tostring(store)), function()
          local conv = conv_of { store = store }
          conv:say("first")
          local items, id = #conv.items, conv.response_id
          fake.script { path = "/responses", json = { id = "resp_bad", object = "response", status = "completed",
                                                      output = output } }
          local reply, err = conv:say("second")
          assert.is_nil(reply)
          assert.equal("parse", err.kind)
          assert.equal("BAD_REPLY", err.code)
          assert.equal("resp_bad", err.response.id)
          assert.equal(items, #conv.items)
          assert.equal(id, conv.response_id)
          assert.equal(T.HELLO, (conv:say("third")))
          assert.equal(items + 2, #conv.items)
          local path = os.tmpname()
          assert.is_true(conv:save(path))
          assert.truthy(chatgpt.load(path, T.new()))
          os.remove(path)
        end)
      end
    end

    it("an id that is not a string, streamed or not, a tool round's answer: BAD_REPLY, nothing kept", function()
      local conv = conv_of()
      fake.script { path = "/responses", json = { id = 12, object = "response", status = "completed",
                                                  output = { GOOD } } }
      local _, err = conv:say("x")
      assert.equal("BAD_REPLY", err.code)
      assert.equal(0, #conv.items)
      fake.script { path = "/responses", sse_raw = "event: response.completed\ndata: "
        .. '{"type":"response.completed","response":{"id":"r","status":"completed","output":[3]}}\n\n' }
      _, err = conv:say("x", { on_delta = function() end })
      assert.equal("BAD_REPLY", err.code)
      assert.equal(0, #conv.items)
      conv:tool("weather", WEATHER, function() return "sunny" end)
      fake.script { path = "/responses", json = { id = "r1", object = "response", status = "completed",
        output = { { type = "function_call", name = "weather", call_id = "c1", arguments = "{}" } } } }
      fake.script { path = "/responses", json = { id = "r2", object = "response", status = "completed",
        output = { { type = "function_call", name = "weather", arguments = "{}" } } } }
      _, err = conv:say("x")
      assert.equal("BAD_REPLY", err.code)
      assert.equal(0, #conv.items)
      assert.is_nil(conv.response_id)
    end)

    it("chatgpt.load refuses a file whose items break the same rules, naming the item", function()
      local function plain(v)         -- (fake.script marked the lists for cjson)
        if type(v) ~= "table" then return v end
        local t = {}
        for k, x in pairs(v) do t[k] = plain(x) end
        return t
      end
      local path = os.tmpname()
      for what, output in pairs(BAD) do
        if what ~= "an object without a type" and what ~= "an output that is an object" then
          local f = assert(io.open(path, "w"))
          f:write((assert(require("chatgpt.core").encode { version = 1, api = "responses",
            items = { { role = "user", content = "hi" }, plain(output[#output]) } })))
          f:close()
          local conv, err = chatgpt.load(path, T.new())
          assert.is_nil(conv, what)
          assert.truthy(err:find("'items' must be a list of items (item #2: ", 1, true), err)
        end
      end
      os.remove(path)
    end)

    it("conv:add and the items option raise on an item it could not send back", function()
      local conv = conv_of()
      assert.has_error(function() conv:add { type = "function_call", name = "f" } end,
        "bad argument #1 to 'add' (function_call: call_id must be a string)")
      assert.has_error(function() conv_of { items = { { foo = 1 } } } end,
        "bad argument #1 to 'conversation' (option 'items': item #1: an object without a type or a role)")
      assert.has_error(function() conv:say { role = "user", content = 5 } end,
        "bad argument #1 to 'say' (content must be a string or a list of parts)")
      assert.equal(0, #conv.items)
    end)
  end)

  describe("options", function()
    it("raises on an unknown option, and takes api = 'chat' for the chat flavour", function()
      assert.has_error(function() conv_of { max_context_tokens = 10 } end,
        "bad argument #1 to 'conversation' (unknown option 'max_context_tokens')")
      assert.has_error(function() T.new():conversation { api = "other" } end)
      local chat = T.new():conversation { api = "chat", system = "s" }
      assert.equal("system", chat.messages[1].role)
      assert.equal("chatgpt.conversation (responses, gpt-4o-mini, 0 items)", tostring(conv_of()))
    end)

    it("takes a starting history and a response to go on from", function()
      local conv = conv_of { items = { { role = "user", content = "earlier" } },
                             previous_response_id = "resp_start" }
      local _, err = conv:say("now")          -- the fake keeps no resp_start
      assert.equal("previous_response_not_found", err.code)
      assert.same({ { role = "user", content = "earlier" }, { role = "user", content = "now" } }, sent(1).input)
      assert.equal("resp_start", sent(1).previous_response_id)
    end)
  end)
end)

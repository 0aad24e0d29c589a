-- client:request: one call for every endpoint (GET, POST, DELETE; JSON,
-- multipart and binary answers), and chatgpt.form / chatgpt.file, against
-- the fake server.
local chatgpt = require "chatgpt"
local fake = require "spec.support.fake"
local wire = require "spec.support.wire"
local T = require "spec.support.client"

local tmpfile, part = T.tmpfile, T.part

describe("client:request", function()
  before_each(function() T.drain(); fake.reset() end)
  after_each(T.drain)

  describe("JSON", function()
    it("GET decodes the JSON answer and returns body, info", function()
      local n = select("#", T.new():request("GET", "/models"))
      assert.equal(2, n)
      local body, info = T.new():request("GET", "/models")
      assert.equal("list", body.object)
      assert.equal("gpt-4o-mini", body.data[1].id)
      assert.equal(200, info.status)
      assert.matches("^req_", info.request_id)
      local rec = fake.last()
      assert.equal("GET", rec.method)
      assert.equal("/v1/models", rec.path)
      assert.equal("", rec.body)
      assert.equal("application/json", rec.header.accept)
    end)

    it("takes a path without its leading slash, and a lower-case method", function()
      local body = T.new():request("get", "models/gpt-4o")
      assert.equal("gpt-4o", body.id)
      assert.equal("/v1/models/gpt-4o", fake.last().path)
    end)

    it("POST sends a table as JSON, empty lists as []", function()
      local body = T.new():request("POST", "/embeddings", { model = "text-embedding-3-small",
                                                             input = { "a", "b" }, dimensions = 2 })
      assert.equal(2, #body.data)
      assert.equal(2, #body.data[1].embedding)
      local rec = fake.last()
      assert.equal("application/json", rec.header["content-type"])
      assert.same({ "a", "b" }, rec.json.input)
      T.new():request("POST", "/moderations", { input = {} })
      assert.equal('{"input":[]}', fake.last().body)
    end)

    it("POST sends a string body as it is, and no body as an empty one", function()
      T.new():request("POST", "/moderations", '{"input":"as is"}')
      assert.equal('{"input":"as is"}', fake.last().body)
      fake.script { path = "/nobody", json = { ok = true } }
      local body = T.new():request("POST", "/nobody")
      assert.is_true(body.ok)
      local rec = fake.last()
      assert.equal("POST", rec.method)
      assert.equal("", rec.body)
    end)

    it("DELETE sends no body and returns the answer", function()
      local file = T.new():upload(tmpfile("x"), "user_data")
      local body, info = T.new():request("DELETE", "/files/" .. file.id)
      assert.same({ object = "file", deleted = true, id = file.id }, body)
      assert.equal(200, info.status)
      local rec = fake.last()
      assert.equal("DELETE", rec.method)
      assert.equal("", rec.body)
    end)

    it("sends params.query, the path's own query and the client's query together", function()
      local c = T.new { query = { ["api-version"] = "2024-10-21" } }
      c:request("GET", "/files?order=asc", nil, { query = { purpose = "batch", limit = 2,
                                                            ids = { "a b", "c" } } })
      local rec = fake.last()
      assert.equal("/v1/files", rec.path)
      assert.same({ ["api-version"] = "2024-10-21", order = "asc", purpose = "batch", limit = "2",
                    ["ids[]"] = "c" }, rec.args)
      assert.truthy(rec.query:find("ids%%5B%%5D=a%%20b"))
    end)

    it("returns a 2xx JSON body with an `error` field as data", function()
      fake.script { json = { id = "x", error = { code = "e" } } }
      local body = T.new():request("GET", "/anything")
      assert.equal("e", body.error.code)
    end)

    it("gives an API error body as nil, err{kind = 'api'}", function()
      local body, err = T.new():request("GET", "/models/nope")
      assert.is_nil(body)
      assert.equal("api", err.kind)
      assert.equal(404, err.status)
      assert.equal("model_not_found", err.code)
    end)

    it("a 429 is retried; a body that is not JSON is kind 'parse'", function()
      fake.script { { status = 429, headers = { { "retry-after-ms", "10" } } }, { json = { ok = 1 } } }
      local body, info = T.new():request("GET", "/x")
      assert.equal(1, body.ok)
      assert.equal(2, info.attempts)
      fake.script { body = "{nope", headers = { { "Content-Type", "application/json" } } }
      local _, err = T.new():request("GET", "/x")
      assert.equal("parse", err.kind)
      assert.equal("BAD_JSON", err.code)
    end)

    it("keeps the client's limits and timeouts: max_response_bytes, idle_timeout", function()
      fake.script { body_big = { bytes = 300000 } }
      local _, err = T.new { max_response_bytes = 100000 }:request("GET", "/big")
      assert.equal("limit", err.kind)
      assert.equal("BODY_TOO_LARGE", err.code)
      fake.script { json = { ok = true }, split = 4, chunk_delay = 2 }     -- stalls after 4 bytes
      local _, err2 = T.new { max_retries = 0 }:request("GET", "/x", nil, { idle_timeout = 0.2 })
      assert.equal("timeout", err2.kind)
      assert.equal("IDLE_TIMEOUT", err2.code)
    end)
  end)

  describe("per-call headers", function()
    it("are merged over the client's: added, replaced (any case) or removed with false", function()
      local c = T.new { headers = { ["X-Team"] = "a", ["X-Gone"] = "1" } }
      assert.truthy(c:request("GET", "/models", nil, { headers = { ["x-team"] = "b", ["X-Call"] = "c",
                                                                  ["X-Gone"] = false } }))
      local h = fake.last().header
      assert.equal("b", h["x-team"])
      assert.equal("c", h["x-call"])
      assert.is_nil(h["x-gone"])
      assert.truthy(c:request("GET", "/models"))           -- the next call has the client's again
      h = fake.last().header
      assert.equal("a", h["x-team"])
      assert.is_nil(h["x-call"])
    end)

    it("are checked as new() checks them", function()
      local c = T.new()
      for _, bad in ipairs { { ["X-A"] = "a\r\nX-B: b" }, { ["X A"] = "v" }, { ["X-A"] = "a\0b" } } do
        local ok, err = pcall(c.request, c, "GET", "/models", nil, { headers = bad })
        assert.is_false(ok)
        assert.truthy(err:find("bad argument #4 to 'request' (param 'headers'", 1, true), err)
      end
    end)
  end)

  describe("binary answers", function()
    it("returns a non-JSON answer as its bytes", function()
      local audio, info = T.new():request("POST", "/audio/speech",
        { model = "tts-1", input = "Hi", voice = "alloy" })
      assert.equal(8192, #audio)
      assert.equal("\255\243\196\196", audio:sub(1, 4))
      assert.equal("audio/mpeg", info.headers["content-type"])
    end)

    it("returns a text/plain answer as its text", function()
      fake.script { body = "just text\n", headers = { { "Content-Type", "text/plain" } } }
      assert.equal("just text\n", (T.new():request("GET", "/t")))
    end)

    it("hands the pieces to on_data as they come, and returns their size", function()
      fake.config { speech_bytes = 100000 }
      fake.script { path = "/audio/speech", split = 4096, chunk_delay = 0.001 }
      local pieces, whole = {}, T.new():request("POST", "/audio/speech",
        { model = "tts-1", input = "Hi", voice = "alloy" })
      fake.script { path = "/audio/speech", split = 4096 }
      local n, info = T.new():request("POST", "/audio/speech",
        { model = "tts-1", input = "Hi", voice = "alloy" },
        { on_data = function(p) pieces[#pieces + 1] = p end })
      assert.equal(100000, n)
      assert.equal(200, info.status)
      assert.truthy(#pieces > 5)
      assert.equal(whole, table.concat(pieces))
      assert.equal("*/*", fake.last().header.accept)
    end)

    it("on_data returning false stops the call: kind 'cancelled'", function()
      fake.config { speech_bytes = 100000 }
      fake.script { path = "/audio/speech", split = 4096, chunk_delay = 0.002 }
      local calls = 0
      local n, err = T.new():request("POST", "/audio/speech", { input = "x", model = "m", voice = "v" },
        { on_data = function() calls = calls + 1; return false end })
      assert.is_nil(n)
      assert.equal("cancelled", err.kind)
      assert.equal(1, calls)
    end)

    it("a reset after bytes reached on_data is kind 'network', not retried", function()
      fake.config { speech_bytes = 100000 }
      fake.script { path = "/audio/speech", split = 4096, drop_after = 30000, ["repeat"] = 3 }
      local got = 0
      local n, err = T.new { max_retries = 2 }:request("POST", "/audio/speech",
        { input = "x", model = "m", voice = "v" }, { on_data = function(p) got = got + #p end })
      assert.is_nil(n)
      assert.equal("network", err.kind)
      assert.equal(1, err.attempts)
      assert.truthy(got > 0 and got < 100000)
    end)

    it("an error answer to an on_data call is the usual err, its body read whole", function()
      local n, err = T.new():request("POST", "/audio/speech", { model = "m" },
        { on_data = function() error("never") end })
      assert.is_nil(n)
      assert.equal("api", err.kind)
      assert.equal(400, err.status)
    end)
  end)

  describe("server-sent events", function()
    it("reads the CRLF-framed transcription capture as events, to on_event, each framing", function()
      local name = "audio_transcriptions_stream_gpt-4o-transcribe_2026-08.sse"
      local want = wire.events(wire.read(name))
      for _, split in ipairs { "whole", "bytes", "random" } do
        fake.reset()
        fake.script { sse_file = name, split = split, seed = 5 }
        local seen = {}
        local list = T.new():request("POST", "/audio/transcriptions", chatgpt.form {
          model = "gpt-4o-transcribe", stream = true, file = chatgpt.file(tmpfile("RIFF")),
        }, { on_event = function(e) seen[#seen + 1] = e end })
        assert.is_table(list, tostring(list))
        assert.equal(#want - 1, #list)          -- all but [DONE]
        assert.equal(#list, #seen)
        assert.equal("transcript.text.done", list[#list].type)
        assert.equal("text/event-stream", fake.last().header.accept)
      end
    end)

    it("a stream of events over max_stream_bytes ends with kind 'limit': the list stops growing", function()
      local ev = '{"type":"response.output_text.delta","delta":"' .. ("e"):rep(5000) .. '"}'
      fake.script { sse_repeat = { data = ev, count = 1000 } }
      local seen = 0
      local list, err = T.new { max_stream_bytes = 100000 }:request("POST", "/responses",
        { model = "m", input = "x", stream = true }, { on_event = function() seen = seen + 1 end })
      assert.is_nil(list)
      assert.equal("limit", err.kind)
      assert.equal("STREAM_TOO_LARGE", err.code)
      assert.truthy(seen > 0 and seen * #ev <= 100000, seen)
    end)

    it("reads a JSON body with stream = true as events", function()
      local list = T.new():request("POST", "/responses", { model = "m", input = "x", stream = true })
      assert.equal("response.created", list[1].type)
      assert.equal("response.completed", list[#list].type)
    end)
  end)

  describe("multipart bodies", function()
    it("sends chatgpt.form fields and a file streamed from disk", function()
      local path = tmpfile("RIFF\0\1\2 wave bytes \255")
      local body = T.new():request("POST", "/audio/transcriptions", chatgpt.form {
        model = "whisper-1", temperature = 0.5, language = "en", verbose = true,
        timestamp_granularities = { "word", "segment" }, chunking_strategy = { type = "auto" },
        file = chatgpt.file(path, "audio/wav", "talk.wav"),
      })
      assert.equal("Hello from the fake transcription.", body.text)
      local rec = fake.last()
      assert.matches("^multipart/form%-data; boundary=", rec.header["content-type"])
      local names = {}
      for i, p in ipairs(rec.form) do names[i] = p.name end
      assert.same({ "chunking_strategy[type]", "language", "model", "temperature",
                    "timestamp_granularities[]", "timestamp_granularities[]", "verbose", "file" }, names)
      assert.equal("whisper-1", part(rec, "model").data)
      assert.equal("0.5", part(rec, "temperature").data)
      assert.equal("true", part(rec, "verbose").data)
      assert.equal("auto", part(rec, "chunking_strategy[type]").data)
      local f = part(rec, "file")
      assert.equal("RIFF\0\1\2 wave bytes \255", f.data)
      assert.equal("talk.wav", f.filename)
      assert.equal("audio/wav", f.type)
      os.remove(path)
    end)

    it("names a file by its path and types it by its extension", function()
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p " .. dir))
      local path = dir .. "/speech.mp3"
      local f = assert(io.open(path, "wb")); f:write("ID3"); f:close()
      T.new():request("POST", "/files", chatgpt.form { purpose = "user_data", file = chatgpt.file(path) })
      local p = part(fake.last(), "file")
      assert.equal("speech.mp3", p.filename)
      assert.equal("audio/mpeg", p.type)
      os.remove(path)
      os.remove(dir)
    end)

    it("sends the whole body again on a retry", function()
      local bytes = string.rep("0123456789abcdef", 4096)
      local path = tmpfile(bytes)
      fake.script { path = "/files", status = 503 }
      local file, info = T.new():request("POST", "/files",
        chatgpt.form { purpose = "batch", file = chatgpt.file(path) })
      assert.equal(#bytes, file.bytes)
      assert.equal(2, info.attempts)
      local recs = fake.requests()
      assert.equal(2, #recs)
      for _, rec in ipairs(recs) do assert.equal(bytes, part(rec, "file").data) end
      assert.equal(recs[1].body:gsub("%-%-%-%-%-*%x+", ""), (recs[2].body:gsub("%-%-%-%-%-*%x+", "")))
      os.remove(path)
    end)

    it("never reads the file into Lua: an 8 MiB upload leaves the Lua heap as it was", function()
      local path = os.tmpname()
      local f = assert(io.open(path, "wb"))
      local block = string.rep("z", 65536)
      for _ = 1, 128 do f:write(block) end
      f:close()
      block = nil                                             -- luacheck: ignore
      collectgarbage()
      collectgarbage()
      local before = collectgarbage("count")
      local file = T.new():upload(path, "batch")
      local grew = collectgarbage("count") - before
      assert.equal(8 * 1024 * 1024, file.bytes)
      assert.is_true(grew < 1024, "the Lua heap grew by " .. grew .. " KiB")
      os.remove(path)
    end)

    it("a file that cannot be read is nil, err{kind = 'network', code = 'READ_ERROR'}; nothing is sent", function()
      local body, err = T.new():request("POST", "/files",
        chatgpt.form { purpose = "batch", file = chatgpt.file("/nonexistent/x.jsonl") })
      assert.is_nil(body)
      assert.equal("network", err.kind)
      assert.equal("READ_ERROR", err.code)
      assert.truthy(err.message:find("/nonexistent/x.jsonl", 1, true))
      assert.is_false(err.retryable)
      assert.equal(0, #fake.requests())
      local req = T.new():request_async("POST", "/files",
        chatgpt.form { file = chatgpt.file("/nonexistent/y") })
      assert.equal("failed", req.status)
      assert.equal("READ_ERROR", select(2, req:wait()).code)
    end)

    describe("a part that is not a regular file", function()
      local function refused(path, what)
        local c = T.new { timeout = 5, max_retries = 0 }
        local t0 = require("chatgpt.core").now()
        local body, err = c:request("POST", "/files", chatgpt.form { purpose = "batch", file = chatgpt.file(path) })
        assert.is_nil(body)
        assert.equal("network", err.kind)
        assert.equal("READ_ERROR", err.code)
        assert.truthy(err.message:find(path, 1, true), err.message)
        assert.truthy(err.message:find(what .. ", not a regular file", 1, true), err.message)
        local req = c:request_async("POST", "/files", chatgpt.form { file = chatgpt.file(path, "text/plain") })
        assert.equal("failed", req.status)
        assert.is_true(require("chatgpt.core").now() - t0 < 2)
        assert.equal(0, #fake.requests())
      end

      it("a FIFO without a writer is refused at once: nothing blocks, nothing is sent", function()
        local fifo = os.tmpname()
        os.remove(fifo)
        os.execute("mkfifo " .. fifo)
        -- should open(2) ever block on it again, a writer comes after 4 s
        os.execute("timeout 6 sh -c 'sleep 4; exec 3>" .. fifo .. "' >/dev/null 2>&1 &")
        refused(fifo, "a FIFO")
        os.remove(fifo)
      end)

      for _, dev in ipairs { "/dev/zero", "/dev/null", "/dev/urandom" } do
        it(dev .. ", a device, is refused: never read, nothing sent", function() refused(dev, "a device") end)
      end

      it("a directory is refused", function() refused("/tmp", "a directory") end)
    end)

    describe("a file that changes size while it is sent", function()
      local BYTES = string.rep("0123456789abcdef", 4096)                  -- 64 KiB
      local CHANGES = {
        ["emptied"] = function(path) io.open(path, "wb"):close() end,
        ["one byte shorter"] = function(path)
          local f = assert(io.open(path, "wb")); f:write(BYTES:sub(2)); f:close()
        end,
        ["one byte longer"] = function(path)
          local f = assert(io.open(path, "ab")); f:write("!"); f:close()
        end,
        ["a megabyte longer"] = function(path)
          local f = assert(io.open(path, "ab")); f:write(string.rep("x", 1024 * 1024)); f:close()
        end,
      }
      for what, change in pairs(CHANGES) do
        it(what .. ": nil, err{kind = 'network', code = 'READ_ERROR'} saying so, not retried", function()
          local path = tmpfile(BYTES)
          local c = T.new { max_retries = 2 }
          local req = c:request_async("POST", "/files", chatgpt.form { purpose = "batch",
                                                                      file = chatgpt.file(path) })
          change(path)                             -- after the part was made, before curl reads it
          local body, err = req:wait(10)
          assert.is_nil(body)
          assert.equal("network", err.kind)
          assert.equal("READ_ERROR", err.code)
          assert.truthy(err.message:find(path, 1, true), err.message)
          assert.truthy(err.message:find("changed size while it was sent", 1, true), err.message)
          assert.is_false(err.retryable)
          assert.equal(0, #fake.requests())
          assert.equal("file", (c:request("POST", "/files", chatgpt.form { purpose = "batch",
                                                                         file = chatgpt.file(path) })).object)
          os.remove(path)
        end)
      end
    end)

    it("a part's type, file name or field name with CR or LF raises: no header or body line is injected",
       function()
      local path = tmpfile("x")
      for _, bad in ipairs { "text/plain\r\nX-Evil: 1", "text/plain\nX-Evil: 1", "a\rb", "\r\n\r\nbody" } do
        assert.has_error(function() chatgpt.file(path, bad) end,
          "bad argument #2 to 'file' (mime: a string without CR or LF expected, got " .. ("%q"):format(bad) .. ")")
        assert.has_error(function() chatgpt.file(path, "text/plain", "x" .. bad) end)
        assert.has_error(function() chatgpt.form { ["f" .. bad] = "v" } end)
        assert.has_error(function() chatgpt.form { meta = { ["k" .. bad] = "v" } } end)
        assert.has_error(function() chatgpt.form { meta = { inner = { ["k" .. bad] = "v" } } } end)
        assert.has_error(function() T.new():transcribe(chatgpt.file(path, bad)) end)
      end
      assert.has_error(function() chatgpt.file("/tmp/a\nX-Evil: 1.txt") end,
        "bad argument #1 to 'file' (path: its last part is the file name sent, and has CR or LF; give a filename)")
      assert.has_error(function() chatgpt.form { meta = { ['k"'] = "v" } } end)
      assert.equal(0, #fake.requests())
      os.remove(path)
    end)

    it("chatgpt.form and chatgpt.file raise on what cannot be sent", function()
      assert.has_error(function() chatgpt.form "x" end, "bad argument #1 to 'form' (table expected, got string)")
      assert.has_error(function() chatgpt.form { [1] = "x" } end)
      assert.has_error(function() chatgpt.form { ['a"b'] = "x" } end)
      assert.has_error(function() chatgpt.form { a = 0 / 0 } end)
      assert.has_error(function() chatgpt.file(42) end,
        "bad argument #1 to 'file' (path: a string without NUL bytes expected, got number)")
      assert.has_error(function() chatgpt.file("a\0b") end)
    end)
  end)

  describe("paths and arguments", function()
    it("keeps every path on the client's origin", function()
      local c = T.new()
      c:request("GET", "//127.0.0.2:1/x")
      assert.equal("/v1//127.0.0.2:1/x", fake.last().path)
      c:request("GET", "/../../models")
      assert.equal("/models", fake.last().path)
      c:request("GET", "@evil.example/x")
      assert.equal("/v1/@evil.example/x", fake.last().path)
    end)

    it("raises on a bad method, path, body or param", function()
      local c = T.new()
      assert.has_error(function() c:request("PUT", "/x") end,
        "bad argument #1 to 'request' (method: \"GET\", \"POST\" or \"DELETE\" expected, got \"PUT\")")
      assert.has_error(function() c:request("GET", "/a b") end)
      assert.has_error(function() c:request("GET", "/a#b") end)
      assert.has_error(function() c:request("GET", "") end)
      assert.has_error(function() c:request("GET", 5) end)
      assert.has_error(function() c:request("GET", "/x", {}) end,
        "bad argument #3 to 'request' (a GET request has no body)")
      assert.has_error(function() c:request("POST", "/x", 5) end)
      assert.has_error(function() c:request("GET", "/x", nil, { model = "m" }) end,
        "bad argument #4 to 'request' (unknown param 'model')")
      assert.has_error(function() c:request("POST", "/x", { f = function() end }) end)
    end)
  end)

  describe("request_async", function()
    it("runs on the engine like chat_async", function()
      local c = T.new()
      local a = c:request_async("GET", "/models")
      local b = c:request_async("POST", "/moderations", { input = "hi" })
      assert.equal("pending", a.status)
      while chatgpt.poll(0.05) > 0 do end
      assert.equal("list", (a:result()).object)
      assert.is_false((b:result()).results[1].flagged)
    end)
  end)
end)

-- The helpers on client:request (moderate, image, transcribe, speech,
-- files, upload, delete_file, response, cancel_response, delete_response):
-- each on the real captures of SOURCES.md section F, then against the fake
-- server's own endpoints.
local chatgpt = require "chatgpt"
local core = require "chatgpt.core"
local mime = require "mime"
local fake = require "spec.support.fake"
local wire = require "spec.support.wire"
local T = require "spec.support.client"

local decode = core.decode

local function replay(name, extra)
  local status, headers = wire.headers(name)
  local reply = { status = status, headers = headers }
  if name:find("%.sse$") then reply.sse_file = name else reply.body = wire.read(name) end
  for k, v in pairs(extra or {}) do reply[k] = v end
  fake.script(reply)
  if not name:find("%.sse$") then return assert(decode(wire.read(name))) end
end

local tmpfile, part = T.tmpfile, T.part

local function captures(pattern)
  local out = {}
  for _, name in ipairs(wire.list(pattern)) do
    if not name:find("request%.json$") then out[#out + 1] = name end
  end
  return out
end

describe("helpers", function()
  before_each(function() T.drain(); fake.reset() end)
  after_each(T.drain)

  describe("client:moderate", function()
    for _, name in ipairs(captures("^moderations_.*%.json$")) do
      it(name .. ": results and response as the capture holds them", function()
        local expect = replay(name)
        local results, r, info = T.new():moderate("This is a safe message")
        assert.same(expect.results, results)
        assert.same(expect, r)
        assert.equal(200, info.status)
        local rec = fake.last()
        assert.equal("/v1/moderations", rec.path)
        assert.same({ input = "This is a safe message" }, rec.json)
      end)
    end

    it("sends a list of parts and any field; the fake flags violence", function()
      local input = { { type = "text", text = "I will kill it" },
                      { type = "image_url", image_url = { url = "https://x/y.png" } } }
      local results = T.new():moderate(input, { model = "omni-moderation-latest" })
      assert.is_true(results[1].flagged)
      assert.is_true(results[1].categories.violence)
      assert.same({ input = input, model = "omni-moderation-latest" }, fake.last().json)
    end)
  end)

  describe("client:image", function()
    it("decodes the 2.4 MB b64_json capture to the PNG's bytes", function()
      local expect = replay("images_generations_b64_json_gpt-image-1_2026-08.json")
      local png, r, info = T.new():image("a siamese cat", { model = "gpt-image-1", size = "1024x1024" })
      local want = mime.unb64(expect.data[1].b64_json)
      assert.equal(#want, #png)
      assert.equal(want, png)
      assert.equal("\137PNG\r\n\26\n", png:sub(1, 8))
      assert.equal(png, r.data[1].bytes)
      assert.equal(expect.data[1].b64_json, r.data[1].b64_json)
      assert.equal(4170, r.usage.total_tokens)
      assert.equal(200, info.status)
      assert.same({ prompt = "a siamese cat", model = "gpt-image-1", size = "1024x1024" }, fake.last().json)
    end)

    for _, name in ipairs(captures("^images_generations_url_.*%.json$")) do
      it(name .. ": gives the url", function()
        local expect = replay(name)
        local url, r = T.new():image("a white siamese cat")
        assert.equal(expect.data[1].url, url)
        assert.same(expect, r)
      end)
    end

    it("the 400 for an unknown parameter is nil, err{kind = 'api'} with param 'quality'", function()
      replay("error_400_unknown_parameter_images_dall-e-2_2026-03.json")
      local url, err = T.new():image("x", { model = "dall-e-2", quality = "standard" })
      assert.is_nil(url)
      assert.equal("api", err.kind)
      assert.equal("unknown_parameter", err.code)
      assert.equal("quality", err.param)
    end)

    it("from the fake: bytes for gpt-image-1 (every image decoded), a url for dall-e-2", function()
      local png, r = T.new():image("x", { model = "gpt-image-1", n = 2 })
      assert.equal("\137PNG", png:sub(1, 4))
      assert.equal(png, r.data[2].bytes)
      local url = T.new():image("x", { model = "dall-e-2" })
      assert.matches("^https://", url)
    end)

    it("b64_json that is not base64 is kind 'parse'", function()
      fake.script { json = { created = 1, data = { { b64_json = "not*base64" } } } }
      local _, err = T.new():image("x")
      assert.equal("parse", err.kind)
      assert.equal("BAD_BASE64", err.code)
    end)
  end)

  describe("client:transcribe", function()
    for _, name in ipairs(captures("^audio_transcriptions_.*json.*%.json$")) do
      it(name .. ": text and response as the capture holds them", function()
        local expect = replay(name)
        local audio = tmpfile("RIFF fake wave", ".wav")
        local text, r, info = T.new():transcribe(audio, { response_format = "verbose_json" })
        assert.equal(expect.text, text)
        assert.same(expect, r)
        assert.equal(200, info.status)
        local rec = fake.last()
        assert.equal("whisper-1", part(rec, "model").data)
        assert.equal("verbose_json", part(rec, "response_format").data)
        assert.equal("RIFF fake wave", part(rec, "file").data)
        assert.equal("audio/wav", part(rec, "file").type)
        os.remove(audio)
      end)
    end

    for _, split in ipairs { "whole", "bytes", "random" } do
      it("streams the CRLF-framed capture to on_delta, fed " .. split, function()
        local name = "audio_transcriptions_stream_gpt-4o-transcribe_2026-08.sse"
        replay(name, { split = split, seed = 9 })
        local done
        for _, d in ipairs(wire.events(wire.read(name))) do
          local e = decode(d)
          if type(e) == "table" and e.type == "transcript.text.done" then done = e end
        end
        local pieces = {}
        local text, r = T.new():transcribe(chatgpt.file(tmpfile("x"), "audio/wav", "ruby.wav"),
          { model = "gpt-4o-transcribe", on_delta = function(p, e)
            assert.equal("transcript.text.delta", e.type)
            pieces[#pieces + 1] = p
          end })
        assert.equal(done.text, text)
        assert.equal(done.text, table.concat(pieces))
        assert.same(done, r)
        assert.equal("true", part(fake.last(), "stream").data)
      end)
    end

    it("from the fake: json, text, and a stream", function()
      local audio = tmpfile("abc", ".mp3")
      local c = T.new()
      assert.equal("Hello from the fake transcription.", (c:transcribe(audio)))
      assert.equal("Hello from the fake transcription.\n", (c:transcribe(audio, { response_format = "text" })))
      local n = 0
      local text = c:transcribe(audio, { model = "gpt-4o-mini-transcribe", on_delta = function() n = n + 1 end })
      assert.equal("Hello from the fake transcription.", text)
      assert.equal(5, n)
      os.remove(audio)
    end)

    it("a file that cannot be read is nil, err{code = 'READ_ERROR'}", function()
      local text, err = T.new():transcribe("/nonexistent/talk.mp3")
      assert.is_nil(text)
      assert.equal("READ_ERROR", err.code)
    end)
  end)

  describe("client:speech", function()
    -- The capture keeps the headers and the size (85,632 bytes) of an MP3
    -- whose bytes were not stored: the body is made to that size.
    local SIZE = 85632
    local function mp3()
      return "\255\243\196\196" .. string.rep("\85", SIZE - 4)
    end

    it("the capture's answer (audio/mpeg, chunked, no length): its bytes, and info", function()
      local _, headers = wire.headers("audio_speech_gpt-4o-mini-tts_2026-08.headers.txt")
      local req = decode(wire.read("audio_speech_gpt-4o-mini-tts_2026-08.request.json"))
      fake.script { headers = headers, body = mp3(), chunked = true, split = 16384 }
      local audio, info = T.new():speech(req.input, { model = req.model, voice = req.voice })
      assert.equal(SIZE, #audio)
      assert.equal(mp3(), audio)
      assert.equal("audio/mpeg", info.headers["content-type"])
      assert.same(req, fake.last().json)
    end)

    it("to_file writes the audio as it comes, and returns its size", function()
      local _, headers = wire.headers("audio_speech_gpt-4o-mini-tts_2026-08.headers.txt")
      fake.script { headers = headers, body = mp3(), chunked = true, split = 4096 }
      local path = os.tmpname()
      os.remove(path)
      local n, info = T.new():speech("Hello", { to_file = path })
      assert.equal(SIZE, n)
      assert.equal(200, info.status)
      assert.equal(mp3(), T.read(path))
      assert.is_nil(io.open(path .. ".part"))
      os.remove(path)
    end)

    it("to_file leaves nothing behind when the answer breaks off", function()
      fake.config { speech_bytes = 200000 }
      fake.script { path = "/audio/speech", split = 4096, drop_after = 50000 }
      local path = os.tmpname()
      os.remove(path)
      local n, err = T.new():speech("Hello", { to_file = path })
      assert.is_nil(n)
      assert.equal("network", err.kind)
      assert.is_nil(io.open(path))
      assert.is_nil(io.open(path .. ".part"))
    end)

    it("to_file into a folder that is not there: nil, err{kind = 'callback'} saying why", function()
      local n, err = T.new():speech("Hi", { to_file = "/nonexistent/dir/x.mp3" })
      assert.is_nil(n)
      assert.equal("callback", err.kind)
      assert.truthy(err.message:find("cannot write the audio", 1, true))
    end)

    it("on_data gets the pieces; defaults are gpt-4o-mini-tts and alloy", function()
      local size = 0
      local n = T.new():speech("Hi", { response_format = "wav", on_data = function(p) size = size + #p end })
      assert.equal(8192, n)
      assert.equal(8192, size)
      assert.same({ input = "Hi", model = "gpt-4o-mini-tts", voice = "alloy", response_format = "wav" },
                  fake.last().json)
      assert.has_error(function() T.new():speech("x", { on_data = print, to_file = "/tmp/x" }) end)
    end)
  end)

  describe("files", function()
    for _, name in ipairs(captures("^files_upload_.*%.json$")) do
      it(name .. ": client:upload gives the file object", function()
        local expect = replay(name)
        local path = tmpfile("%PDF-1.4 fake", ".pdf")
        local file, info = T.new():upload(path, expect.purpose)
        assert.same(expect, file)
        assert.equal(200, info.status)
        local rec = fake.last()
        assert.equal(expect.purpose, part(rec, "purpose").data)
        assert.equal("application/pdf", part(rec, "file").type)
        os.remove(path)
      end)
    end

    for _, name in ipairs(captures("^files_list_.*%.json$")) do
      it(name .. ": client:files gives the list", function()
        local expect = replay(name)
        local list, r, info = T.new():files { purpose = "assistants" }
        assert.equal(#expect.data, #list)
        assert.same(expect, r)
        assert.equal(200, info.status)
        assert.same({ purpose = "assistants" }, fake.last().args)
      end)
    end

    it("the 2026 list keeps its non-ASCII file names", function()
      replay("files_list_2026-05.json")
      local list = T.new():files()
      local found
      for _, f in ipairs(list) do if f.filename:find("\228\189\160\229\165\189", 1, true) then found = f end end
      assert.truthy(found)
    end)

    it("from the fake: upload, list, delete, list again", function()
      local c = T.new()
      local path = tmpfile('{"a":1}\n', ".jsonl")
      local file = c:upload(chatgpt.file(path), "batch")
      assert.matches("^file%-", file.id)
      assert.equal(8, file.bytes)
      assert.equal(1, #c:files())
      assert.equal(0, #c:files { purpose = "assistants" })
      local gone = c:delete_file(file.id)
      assert.is_true(gone.deleted)
      assert.equal(0, #c:files())
      local _, err = c:delete_file(file.id)
      assert.equal(404, err.status)
      os.remove(path)
    end)

    it("raises on a missing purpose or a bad id", function()
      assert.has_error(function() T.new():upload("/tmp/x") end,
        "bad argument #2 to 'upload' (purpose: string expected, got nil)")
      assert.has_error(function() T.new():delete_file("../models") end)
      assert.has_error(function() T.new():response("a/b") end)
    end)
  end)

  describe("stored responses", function()
    it("response(id) retrieves, delete_response deletes; then 404", function()
      local c = T.new()
      local _, r = c:respond("x")
      local got, info = c:response(r.id)
      assert.same(r, got)
      assert.equal(200, info.status)
      assert.equal("/v1/responses/" .. r.id, fake.last().path)
      local gone = c:delete_response(r.id)
      assert.is_true(gone.deleted)
      assert.equal("DELETE", fake.last().method)
      local _, err = c:response(r.id)
      assert.equal(404, err.status)
    end)

    it("a background response: in_progress, then done when retrieved; cancel one; cancel a plain one is 400", function()
      local c = T.new()
      local text, r = c:respond("x", { background = true })
      assert.is_nil(text)
      assert.equal("in_progress", r.status)
      local later = c:response(r.id)
      assert.equal("completed", later.status)
      assert.equal(T.HELLO, chatgpt.output_text(later))
      local _, r2 = c:respond("y", { background = true })
      local cancelled = c:cancel_response(r2.id)
      assert.equal("cancelled", cancelled.status)
      assert.equal("POST", fake.last().method)
      assert.equal("", fake.last().body)
      local _, r3 = c:respond("z")
      local _, err = c:cancel_response(r3.id)
      assert.equal(400, err.status)
    end)

    it("response(id) passes its params as the query", function()
      local c = T.new()
      local _, r = c:respond("x")
      c:response(r.id, { include = { "reasoning.encrypted_content" } })
      assert.same({ ["include[]"] = "reasoning.encrypted_content" }, fake.last().args)
    end)
  end)

  describe("each helper has an _async form", function()
    it("returns requests that the engine runs together", function()
      local c = T.new()
      local audio = tmpfile("x", ".wav")
      local reqs = {
        c:moderate_async("hi"), c:image_async("x"), c:transcribe_async(audio),
        c:speech_async("hi"), c:files_async(), c:upload_async(audio, "batch"),
      }
      while chatgpt.poll(0.05) > 0 do end
      for i, req in ipairs(reqs) do
        assert.equal("done", req.status, i)
        assert.truthy(req:result(), i)
      end
      os.remove(audio)
    end)
  end)

  describe("core.unbase64", function()
    it("decodes both alphabets, with or without padding and line breaks", function()
      assert.equal("hello", core.unbase64("aGVsbG8="))
      assert.equal("hello", core.unbase64("aGVsbG8"))
      assert.equal("hello world", core.unbase64("aGVs\r\nbG8g\nd29ybGQ="))
      assert.equal("\251\255", core.unbase64("+/8="))
      assert.equal("\251\255", core.unbase64("-_8"))
      assert.equal("", core.unbase64(""))
      local all = {}
      for i = 0, 255 do all[#all + 1] = string.char(i) end
      all = table.concat(all)
      assert.equal(all, core.unbase64(mime.b64(all)))
    end)

    it("refuses what is not base64 with nil, why", function()
      local v, why = core.unbase64("ab$c")
      assert.is_nil(v)
      assert.equal("not base64: byte 3 is not a base64 digit", why)
      assert.is_nil((core.unbase64("a")))
      assert.is_nil((core.unbase64("aGk=aGk=")))
    end)
  end)
end)

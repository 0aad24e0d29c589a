-- The faults chat is tested with (a 429 then success, an answer that is not
-- JSON, a connection reset mid-answer), for every call of the Responses API,
-- client:request and its helpers, streamed and not: each ends in a known
-- err, or succeeds on a retry, and the same client works right after.
local chatgpt = require "chatgpt"
local fake = require "spec.support.fake"
local T = require "spec.support.client"

local function tmpfile(bytes, ext)
  local path = os.tmpname()
  os.remove(path)
  path = path .. (ext or ".bin")
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
  return path
end

local AUDIO = tmpfile(string.rep("RIFF", 1000), ".wav")
local TOOL = { parameters = { type = "object", properties = { city = { type = "string" } } } }

-- A whole HTTP/1.1 answer, and where its body starts.
local function http(ctype, body, chunked)
  local head = "HTTP/1.1 200 OK\r\nContent-Type: " .. ctype .. "\r\nx-request-id: req_fault\r\n"
    .. (chunked and "Transfer-Encoding: chunked\r\n" or ("Content-Length: " .. #body .. "\r\n")) .. "\r\n"
  if chunked then body = ("%x\r\n%s\r\n"):format(#body, body) end
  return head .. body, #head
end

local JSON = '{"id":"x","object":"list","data":[' .. string.rep('{"id":"file-1","object":"file"},', 40)
  .. '{"id":"file-2"}],"results":[],"text":"t","status":"completed","output":[]}'
local SSE = 'event: response.output_item.added\ndata: {"type":"response.output_item.added",'
  .. '"output_index":0,"item":{"type":"message","role":"assistant","content":[]}}\n\n'
  .. 'event: response.content_part.added\ndata: {"type":"response.content_part.added",'
  .. '"output_index":0,"content_index":0,"part":{"type":"output_text","text":""}}\n\n'
  .. string.rep('event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
  .. '"output_index":0,"content_index":0,"delta":"ab"}\n\n', 40)

-- Each row: a call (run(client) -> results), the path its request goes to,
-- and what its answer is: "json", "sse" (a stream of events) or "bytes".
-- setup(client) runs before the faults are queued and returns what run needs.
local ROWS = {
  { name = "respond", path = "/responses", kind = "json",
    run = function(c) return c:respond("x") end },
  { name = "respond streamed", path = "/responses", kind = "sse",
    run = function(c) return c:respond("x", { on_delta = function() end }) end },
  { name = "respond_async", path = "/responses", kind = "json",
    run = function(c)
      local req = c:respond_async("x")
      while chatgpt.poll(0.02) > 0 do end
      return req:result()
    end },
  { name = "conversation say", path = "/responses", kind = "json",
    run = function(c)
      local conv = c:conversation { api = "responses" }
      return conv:say("x")
    end },
  { name = "conversation say streamed, with a tool", path = "/responses", kind = "sse",
    run = function(c)
      local conv = c:conversation { api = "responses" }
      conv:tool("weather", TOOL, function() return "sunny" end)
      return conv:say("x", { tool_choice = "required", on_delta = function() end })
    end },
  { name = "request GET JSON", path = "/models", kind = "json",
    run = function(c) return c:request("GET", "/models") end },
  { name = "request POST multipart", path = "/files", kind = "json", multipart = true,
    run = function(c)
      return c:request("POST", "/files", chatgpt.form { purpose = "batch", file = chatgpt.file(AUDIO) })
    end },
  { name = "request binary", path = "/audio/speech", kind = "binary",
    run = function(c) return c:request("POST", "/audio/speech", { model = "m", input = "x", voice = "v" }) end },
  { name = "request on_data", path = "/audio/speech", kind = "bytes",
    run = function(c)
      return c:request("POST", "/audio/speech", { model = "m", input = "x", voice = "v" },
                       { on_data = function() end })
    end },
  { name = "request on_event", path = "/responses", kind = "sse",
    run = function(c) return c:request("POST", "/responses", { model = "m", input = "x", stream = true }) end },
  { name = "moderate", path = "/moderations", kind = "json",
    run = function(c) return c:moderate("x") end },
  { name = "image", path = "/images/generations", kind = "json",
    run = function(c) return c:image("x", { model = "gpt-image-1" }) end },
  { name = "transcribe", path = "/audio/transcriptions", kind = "json", multipart = true,
    run = function(c) return c:transcribe(AUDIO) end },
  { name = "transcribe streamed", path = "/audio/transcriptions", kind = "sse", multipart = true,
    run = function(c) return c:transcribe(AUDIO, { model = "gpt-4o-transcribe", on_delta = function() end }) end },
  { name = "speech", path = "/audio/speech", kind = "binary",
    run = function(c) return c:speech("x") end },
  { name = "speech to_file", path = "/audio/speech", kind = "bytes",
    run = function(c)
      local path = os.tmpname()
      local n, err = c:speech("x", { to_file = path })
      os.remove(path)
      return n, err
    end },
  { name = "files", path = "/files", kind = "json",
    run = function(c) return c:files() end },
  { name = "upload", path = "/files", kind = "json", multipart = true,
    run = function(c) return c:upload(AUDIO, "batch") end },
  { name = "delete_file", path = function(id) return "/files/" .. id end, kind = "json",
    setup = function(c) return (c:upload(AUDIO, "batch")).id end,
    run = function(c, id) return c:delete_file(id) end },
  { name = "response", path = function(id) return "/responses/" .. id end, kind = "json",
    setup = function(c) return (select(2, c:respond("x"))).id end,
    run = function(c, id) return c:response(id) end },
  { name = "cancel_response", path = "/cancel", kind = "json",
    setup = function(c) return (select(2, c:respond("x", { background = true }))).id end,
    run = function(c, id) return c:cancel_response(id) end },
  { name = "delete_response", path = function(id) return "/responses/" .. id end, kind = "json",
    setup = function(c) return (select(2, c:respond("x"))).id end,
    run = function(c, id) return c:delete_response(id) end },
}

-- The path of a row's request (some hold the id setup made).
local function path_of(row, arg)
  if type(row.path) == "function" then return row.path(arg) end
  return row.path
end

local function matching(path)
  local n = 0
  for _, rec in ipairs(fake.requests()) do
    if rec.path:find(path, 1, true) then n = n + 1 end
  end
  return n
end

describe("faults on every call beyond chat", function()
  before_each(function() T.drain(); fake.reset() end)
  after_each(T.drain)

  for _, row in ipairs(ROWS) do
    describe(row.name, function()
      it("a 429 is retried after retry-after-ms, and the call succeeds", function()
        local c = T.new { max_retries = 2 }
        local arg = row.setup and row.setup(c)
        local path = path_of(row, arg)
        local before = matching(path)
        fake.script { path = path, status = 429, headers = { { "retry-after-ms", "10" } } }
        local ok, err = row.run(c, arg)
        assert.truthy(ok, tostring(err))
        assert.equal(before + 2 + (row.name:find("tool") and 1 or 0), matching(path))
        if row.multipart then
          local recs = fake.requests()
          local a, b = recs[#recs - 1], recs[#recs]
          assert.equal(#a.body, #b.body)           -- the whole form sent again
          assert.truthy(#a.form > 1)
        end
      end)

      if row.kind ~= "bytes" then
        it("an answer that is not JSON is nil, err{kind = 'parse'}", function()
          local c = T.new { max_retries = 0 }
          local arg = row.setup and row.setup(c)
        local path = path_of(row, arg)
          if row.kind == "sse" then
            fake.script { path = path, sse_raw = "event: response.created\ndata: {not json\n\n" }
          else
            fake.script { path = path, body = "{not json", headers = { { "Content-Type", "application/json" } } }
          end
          local ok, err = row.run(c, arg)
          assert.is_nil(ok)
          assert.equal("parse", err.kind)
          assert.equal(row.kind == "sse" and "BAD_CHUNK" or "BAD_JSON", err.code)
        end)
      end

      it("a connection reset mid-answer is nil, err{kind = 'network'}; the client works after", function()
        local c = T.new { max_retries = 0 }
        local arg = row.setup and row.setup(c)
        local path = path_of(row, arg)
        local raw, head
        if row.kind == "sse" then
          raw, head = http("text/event-stream", SSE, true)
        elseif row.kind == "json" then
          raw, head = http("application/json", JSON, false)
        else
          raw, head = http("audio/mpeg", string.rep("\255", 20000), true)
        end
        fake.script { path = path, raw = raw, drop_after = head + 900, split = 100 }
        local ok, err = row.run(c, arg)
        assert.is_nil(ok)
        assert.equal("network", err.kind, tostring(err))
        assert.equal(1, err.attempts)
        if row.kind == "sse" and row.name:find("respond") then
          assert.matches("^[ab]+$", err.partial)
        end
        local again = row.setup and row.setup(c)
        local ok2, err2 = row.run(c, again or arg)
        assert.truthy(ok2, tostring(err2))
      end)
    end)
  end
end)

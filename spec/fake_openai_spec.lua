-- The fake OpenAI server itself (spec/support/fake_openai.py): what every
-- other spec relies on it for.
local fake = require "spec.support.fake"
local socket = require "socket"

-- A chat request as raw HTTP/1.1, its one message `content`.
local function request(content)
  local body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"' .. content .. '"}]}'
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    .. "Content-Type: application/json\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
end

-- Reads one HTTP response from c; its status.
local function response(c)
  local status = tonumber(assert(c:receive("*l")):match("^HTTP/1%.1 (%d+)"))
  local length
  repeat
    local line = assert(c:receive("*l"))
    length = length or tonumber(line:lower():match("^content%-length:%s*(%d+)"))
  until line == ""
  assert(c:receive((assert(length, "a Content-Length"))))
  return status
end

describe("fake_openai.py", function()
  before_each(function() fake.reset() end)

  -- a spec that cancels a request the client already sent leaves it to a
  -- connection's thread, which on a loaded machine may read it seconds later
  it("a reset waits for the requests already sent: none is recorded after it", function()
    fake.script { delay = 0.3 }                  -- the first holds its connection's thread
    local c = assert(socket.tcp())
    c:settimeout(20)
    assert(c:connect("127.0.0.1", fake.port()))
    assert(c:send(request("first") .. request("second")))   -- the second waits, unread
    local t0 = socket.gettime()
    while #fake.requests() == 0 and socket.gettime() - t0 < 10 do socket.sleep(0.01) end
    assert.equal(1, #fake.requests())
    fake.reset()
    assert.equal(200, response(c))
    assert.equal(200, response(c))               -- the second is recorded by now
    c:close()
    assert.same({}, fake.requests())
  end)
end)

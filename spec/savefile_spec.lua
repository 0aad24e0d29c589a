-- Saved conversations are data (lua/chatgpt/savefile.lua): a file carries
-- the API fields a user chose, never the options of a call (headers,
-- query, timeouts, retries), for chat and Responses conversations alike.
local chatgpt = require "chatgpt"
local core = require "chatgpt.core"
local fake = require "spec.support.fake"
local T = require "spec.support.client"

local function write(path, doc)
  local f = assert(io.open(path, "wb"))
  f:write((assert(core.encode(doc))))
  f:close()
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return assert(core.decode(s))
end

local TRANSPORT = {
  headers = { Host = "evil.example", ["Transfer-Encoding"] = "chunked", Authorization = "Bearer other" },
  query = { ["api-version"] = "x" },
  timeout = 0.001,
  idle_timeout = 0.001,
  max_retries = 100,
}

describe("a saved conversation", function()
  local path
  before_each(function()
    T.drain()
    fake.reset()
    path = os.tmpname()
  end)
  after_each(function() os.remove(path) end)

  for _, api in ipairs { "chat", "responses" } do
    for field, value in pairs(TRANSPORT) do
      it(("(%s) with params.%s is refused by chatgpt.load, naming it"):format(api, field), function()
        local doc = { version = 1, api = api ~= "chat" and api or nil, model = "gpt-4o-mini",
                      params = { temperature = 0.5, [field] = value } }
        doc[api == "chat" and "messages" or "items"] = { { role = "user", content = "hi" } }
        write(path, doc)
        local conv, err = chatgpt.load(path, T.new())
        assert.is_nil(conv)
        assert.truthy(err:find("'params' must be API fields only ('" .. field .. "'", 1, true), err)
      end)
    end

    it(("(%s) keeps the API fields a user chose, and loads them back"):format(api), function()
      local doc = { version = 1, api = api ~= "chat" and api or nil, model = "gpt-4.1-nano",
                    params = { temperature = 0.25, user = "ada", metadata = { k = "v" } } }
      doc[api == "chat" and "messages" or "items"] = {}
      write(path, doc)
      local conv = assert(chatgpt.load(path, T.new()))
      conv:say("hi")
      local sent = fake.last()
      assert.equal("gpt-4.1-nano", sent.json.model)
      assert.equal(0.25, sent.json.temperature)
      assert.equal("ada", sent.json.user)
    end)

    it(("(%s) is written without the call options the conversation was given"):format(api), function()
      local conv = T.new():conversation { api = api, params = {
        temperature = 0.5, headers = { ["X-Team"] = "core" }, query = { a = "1" }, timeout = 30,
        idle_timeout = 5, max_retries = 1 } }
      assert.is_true(conv:save(path))
      local doc = read(path)
      assert.same({ temperature = 0.5 }, doc.params)
      local again = assert(chatgpt.load(path, T.new()))
      again:say("hi")
      local sent = fake.last()
      assert.is_nil(sent.header["x-team"])
      assert.same({}, sent.args)
      assert.equal(0.5, sent.json.temperature)
      assert.equal("core", conv.params.headers["X-Team"])     -- the live conversation keeps them
    end)
  end

  it("loaded from a hostile file sends no header, query or limit of the file's on any later say", function()
    write(path, { version = 1, model = "gpt-4o-mini", messages = {},
                  params = { headers = { Host = "evil.example", ["Content-Length"] = "5" } } })
    assert.is_nil(chatgpt.load(path, T.new()))
    write(path, { version = 1, model = "gpt-4o-mini", messages = {}, params = { query = { x = "1" } } })
    assert.is_nil(chatgpt.load(path, T.new()))
    assert.is_nil(fake.last())
  end)
end)

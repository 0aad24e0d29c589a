-- Compressed answers: which requests ask for gzip and deflate (not chats,
-- whose answers are small, nor streams), and that every answer is decoded.
local fake = require "spec.support.fake"
local T = require "spec.support.client"

local HELLO = T.HELLO
local drain = T.drain

describe("compressed answers", function()
  before_each(function() drain(); fake.reset() end)

  it("models and embeddings ask for gzip and deflate, and decode them", function()
    fake.script { gzip = true, json = { object = "list", data = { { id = "zipped" } } } }
    local list = T.new():models()
    assert.equal("zipped", list[1].id)
    assert.truthy(fake.last().header["accept-encoding"]:find("gzip", 1, true))
    assert.truthy(fake.last().header["accept-encoding"]:find("deflate", 1, true))
    fake.script { gzip = true, json = { object = "list", data = { { index = 0, embedding = { 0.5 } } } } }
    local vectors = T.new():embed("x")
    assert.same({ { 0.5 } }, vectors)
    assert.truthy(fake.last().header["accept-encoding"]:find("gzip", 1, true))
  end)

  it("a chat does not ask for compression (its answer is small) but decodes gzip", function()
    fake.script { gzip = true, json = { choices = { { index = 0,
      message = { role = "assistant", content = "zipped" } } } } }
    assert.equal("zipped", (T.new():chat("x")))
    assert.is_nil(fake.last().header["accept-encoding"])
  end)

  it("deflate is decoded", function()
    -- zlib.compress of a chat.completion whose content is "deflated"
    local z = "\120\156\45\140\65\10\195\48\12\4\255\178\103\183\244\236\175\148\82\92\89\137"
      .. "\85\28\43\68\58\148\26\255\189\14\244\180\48\203\76\135\100\68\80\73\78\219\94\47"
      .. "\95\4\232\235\205\228\127\122\37\157\156\93\180\205\139\138\10\177\33\222\59\164\101"
      .. "\254\32\222\2\54\54\75\43\35\118\28\90\231\34\153\137\121\106\126\58\218\156\219\217"
      .. "\203\188\212\228\156\49\2\22\105\98\229\121\112\178\89\142\48\215\29\227\49\126\1\92"
      .. "\49\249"
    fake.script { raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
      .. "Content-Encoding: deflate\r\nContent-Length: " .. #z .. "\r\n\r\n" .. z }
    assert.equal("deflated", (T.new():chat("x")))
  end)

  it("a stream is never asked to be compressed", function()
    assert.equal(HELLO, (T.new():chat("x", { stream = true })))
    assert.is_nil(fake.last().header["accept-encoding"])
  end)

  it("a corrupt gzip body is err{kind='network', code='BAD_CONTENT_ENCODING'}", function()
    fake.script { raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
      .. "Content-Encoding: gzip\r\nContent-Length: 12\r\n\r\nnot gzip!!!!" }
    local _, err = T.new { max_retries = 0 }:chat("x")
    assert.equal("network", err.kind)
    assert.equal("BAD_CONTENT_ENCODING", err.code)
    assert.equal(200, err.status)
  end)
end)

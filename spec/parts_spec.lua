-- chatgpt.image and chatgpt.file_part: content parts from files and URLs,
-- one part for a chat call and a Responses call alike.
local fake = require "spec.support.fake"
local T = require "spec.support.client"
local chatgpt = require "chatgpt"
local core = require "chatgpt.core"

local PNG = "\137PNG\r\n\26\n" .. string.rep("\0", 24)
local JPEG = "\255\216\255\224" .. string.rep("j", 20)
local GIF = "GIF89a" .. string.rep("g", 10)
local WEBP = "RIFF\0\0\0\0WEBPVP8 " .. string.rep("w", 10)
local PDF = "%PDF-1.4\n%\226\227\207\211\n1 0 obj\n<<>>\nendobj\n"

before_each(function() fake.reset() end)

describe("chatgpt.image", function()
  it("makes an image part of a png, jpeg, gif or webp file, told by its bytes, as a data: URL", function()
    for mime, bytes in pairs { ["image/png"] = PNG, ["image/jpeg"] = JPEG, ["image/gif"] = GIF,
                               ["image/webp"] = WEBP } do
      local path = T.tmpfile(bytes, ".bin")
      local part = assert(chatgpt.image(path, { detail = "low" }))
      assert.same({ type = "image_url", image_url = { detail = "low",
                    url = "data:" .. mime .. ";base64," .. core.base64(bytes) } }, part)
      assert.equal(bytes, core.unbase64(part.image_url.url:match(",(.*)$")))
      os.remove(path)
    end
  end)

  it("takes a URL as it is", function()
    assert.same({ type = "image_url", image_url = { url = "https://example.com/a.png" } },
                chatgpt.image("https://example.com/a.png"))
  end)

  it("returns nil and a reason for what is not an image, cannot be read, or is too big", function()
    local pdf = T.tmpfile(PDF, ".png")
    local part, why = chatgpt.image(pdf)
    assert.is_nil(part)
    assert.equal(pdf .. ": not an image the API takes (png, jpeg, webp or gif)", why)
    part, why = chatgpt.image("/nonexistent.png")
    assert.is_nil(part)
    assert.equal("/nonexistent.png: No such file or directory", why)
    part, why = chatgpt.image("/tmp")
    assert.is_nil(part)
    assert.equal("/tmp: not a regular file (a directory)", why)
    local big = T.tmpfile(PNG .. string.rep("x", 20 * 1024 * 1024), ".png")
    part, why = chatgpt.image(big)
    assert.is_nil(part)
    assert.truthy(why:find("20.0 MiB this kind of file may have", 1, true), why)
    os.remove(pdf)
    os.remove(big)
  end)

  it("raises for a wrong argument", function()
    assert.has_error(function() chatgpt.image(42) end, "bad argument #1 to 'image' (string expected, got number)")
    assert.has_error(function() chatgpt.image("x.png", { detail = "max" }) end,
                     "bad argument #2 to 'image' (detail must be \"auto\", \"low\" or \"high\")")
    assert.has_error(function() chatgpt.image("x.png", { size = 1 }) end)
  end)
end)

describe("chatgpt.file_part", function()
  it("makes a file part of a PDF, a text part of a UTF-8 text file, an image part of an image", function()
    local pdf = T.tmpfile(PDF, ".pdf")
    local part = assert(chatgpt.file_part(pdf))
    assert.same({ type = "file", file = { filename = pdf:match("[^/]+$"),
                  file_data = "data:application/pdf;base64," .. core.base64(PDF) } }, part)
    local txt = T.tmpfile("local x = 1 -- é\n", ".lua")
    part = assert(chatgpt.file_part(txt))
    assert.equal("text", part.type)
    assert.equal("File " .. txt:match("[^/]+$") .. ":\n\nlocal x = 1 -- é\n", part.text)
    local png = T.tmpfile(PNG, ".png")
    assert.equal("image_url", chatgpt.file_part(png).type)
    local bin = T.tmpfile("\0\1\2\255binary", ".dat")
    local none, why = chatgpt.file_part(bin)
    assert.is_nil(none)
    assert.equal(bin .. ": the API takes images (png, jpeg, webp, gif), PDF and UTF-8 text, and this is none of them",
                 why)
    for _, p in ipairs { pdf, txt, png, bin } do os.remove(p) end
  end)

  it("makes a file part of a PDF's URL", function()
    assert.same({ type = "file", file = { file_url = "https://example.com/r.pdf?x=1", filename = "r.pdf" } },
                chatgpt.file_part("https://example.com/r.pdf?x=1"))
  end)

  it("sends the same parts in a chat call and, respelled, in a Responses call", function()
    local client = T.new()
    local png, pdf = T.tmpfile(PNG, ".png"), T.tmpfile(PDF, ".pdf")
    local parts = { { type = "text", text = "What are these?" },
                    assert(chatgpt.image(png, { detail = "high" })), assert(chatgpt.file_part(pdf)) }
    local msg = { role = "user", content = parts }
    assert(client:chat({ msg }))
    local sent = fake.last().json.messages[1].content
    assert.same(parts, sent)
    assert(client:respond({ msg }))
    local input = fake.last().json.input[1].content
    assert.same({ type = "input_text", text = "What are these?" }, input[1])
    assert.same({ type = "input_image", detail = "high", image_url = parts[2].image_url.url }, input[2])
    assert.same({ type = "input_file", filename = parts[3].file.filename, file_data = parts[3].file.file_data },
                input[3])
    -- the caller's tables are left as they were
    assert.equal("text", parts[1].type)
    -- a Responses conversation respells them too
    local conv = client:conversation { api = "responses" }
    assert(conv:say(parts))
    assert.equal("input_image", fake.last().json.input[1].content[2].type)
    os.remove(png)
    os.remove(pdf)
  end)
end)

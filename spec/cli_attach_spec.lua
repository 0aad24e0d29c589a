-- chatgpt -a: images, PDFs, text files, URLs and standard input sent with
-- the prompt, and what the API does not take refused in the command's words.
local fake = require "spec.support.fake"
local T = require "spec.support.client"
local cli = require "spec.support.cli"
local core = require "chatgpt.core"

local PNG = "\137PNG\r\n\26\n" .. string.rep("\0", 24)
local PDF = "%PDF-1.4\n1 0 obj\n<<>>\nendobj\n"

before_each(function() fake.reset() end)

describe("chatgpt -a", function()
  it("sends each file after the prompt: an image part, a file part, a text part", function()
    local png, pdf, txt = T.tmpfile(PNG, ".png"), T.tmpfile(PDF, ".pdf"), T.tmpfile("notes\n", ".txt")
    local _, err, status = cli.run { "-a", png, "--attach", pdf, "-a" .. txt, "What", "are", "these?" }
    assert.equal(0, status, err)
    local content = fake.last().json.messages[1].content
    assert.same({ type = "text", text = "What are these?" }, content[1])
    assert.same({ type = "image_url", image_url = { url = "data:image/png;base64," .. core.base64(PNG) } },
                content[2])
    assert.equal("file", content[3].type)
    assert.equal("data:application/pdf;base64," .. core.base64(PDF), content[3].file.file_data)
    assert.equal("text", content[4].type)
    assert.truthy(content[4].text:find("notes\n", 1, true))
    for _, p in ipairs { png, pdf, txt } do os.remove(p) end
  end)

  it("spells the parts as the Responses API does with --responses, URLs included", function()
    local _, err, status = cli.run { "--responses", "-a", "https://example.com/cat.png",
                                     "-a", "https://example.com/paper.pdf", "Compare" }
    assert.equal(0, status, err)
    local content = fake.last().json.input[1].content
    assert.same({ type = "input_text", text = "Compare" }, content[1])
    assert.same({ type = "input_image", image_url = "https://example.com/cat.png", detail = "auto" }, content[2])
    assert.same({ type = "input_file", file_url = "https://example.com/paper.pdf", filename = "paper.pdf" },
                content[3])
  end)

  it("reads -a - from standard input, which is then not the prompt", function()
    local _, err, status = cli.run({ "-a", "-", "Describe it" }, { stdin = PNG })
    assert.equal(0, status, err)
    local content = fake.last().json.messages[1].content
    assert.equal(2, #content)
    assert.equal("Describe it", content[1].text)
    assert.equal("data:image/png;base64," .. core.base64(PNG), content[2].image_url.url)
  end)

  it("refuses, in one line, what cannot be sent", function()
    local bin = T.tmpfile("\0\1\2binary", ".dat")
    for args, want in pairs {
      [{ "-a", bin, "x" }] = { 1, "chatgpt: -a " .. bin .. ": the API takes images (png, jpeg, webp, gif), "
                                  .. "PDF and UTF-8 text, and this is none of them\n" },
      [{ "-a", "/nonexistent.pdf", "x" }] = { 1, "chatgpt: -a /nonexistent.pdf: No such file or directory\n" },
      [{ "-a", "https://example.com/paper.pdf", "x" }] =
        { 2, "chatgpt: -a https://example.com/paper.pdf: Chat Completions takes no file by URL; use --responses, "
             .. "or download it and give the file\n" },
      [{ "-a", "-", "-a", "-", "x" }] = { 2, "chatgpt: -a - reads standard input: give it once "
                                             .. "(chatgpt --help lists the options)\n" },
    } do
      local out, err, status = cli.run(args, { stdin = "" })
      assert.equal(want[1], status, err)
      assert.equal("", out)
      assert.equal(want[2], err)
    end
    os.remove(bin)
    assert.is_nil(fake.last())
  end)
end)

-- chatgpt.tokenizer and chatgpt.count_tokens: token ids equal to tiktoken's
-- on the corpus of spec/tokenizer/reference.json (made by
-- spec/tokenizer/make_reference.js with the npm tiktoken package), and
-- prompt tokens equal to what the real captures were billed.
local cjson = require("cjson.safe").new()
local chatgpt = require "chatgpt"
local core = require "chatgpt.core"
local wire = require "spec.support.wire"
local T = require "spec.support.client"

local REFERENCE = "spec/tokenizer/reference.json"
local ENCODINGS = { "o200k_base", "cl100k_base" }

local function digest(ids)
  local h = 0
  for i = 1, #ids do h = (h * 33 + ids[i]) % 4294967296 end
  return h
end

local function text_of(entry)
  if entry.file then return wire.read(entry.file) end
  local text = core.unbase64(entry.text)
  return text
end

describe("tokenizer ids", function()
  local json = T.read(REFERENCE)
  local ref = cjson.decode(json or "")
  assert.is_table(ref, REFERENCE)

  it("holds a corpus of wire captures, hand-made, random and invalid UTF-8 texts", function()
    local kinds = {}
    for _, e in ipairs(ref.texts) do kinds[e.name:match("^%S+")] = true end
    for _, k in ipairs { "wire", "strings", "random", "code", "json", "chinese", "arabic", "devanagari",
                         "emoji", "combining", "spaces", "digits", "special", "truncated" } do
      assert.is_true(kinds[k], k)
    end
    assert.is_true(#ref.texts > 800)
  end)

  for _, name in ipairs(ENCODINGS) do
    it("equal tiktoken's for " .. name .. " on every text of the corpus", function()
      local tok = assert(chatgpt.tokenizer(name))
      local bad = {}
      for _, e in ipairs(ref.texts) do
        local text = text_of(e)
        local want = e[name]
        local ids = tok:encode(text)
        local same = #text == e.bytes and #ids == want.count and digest(ids) == want.digest
        if same and want.ids then
          for i = 1, #ids do
            if ids[i] ~= want.ids[i] then same = false; break end
          end
        end
        if not same then bad[#bad + 1] = e.name end
      end
      assert.same({}, bad)
    end)

    it("count what encode gives, and decode back to the text, for " .. name, function()
      local tok = assert(chatgpt.tokenizer(name))
      for _, e in ipairs(ref.texts) do
        local text = text_of(e)
        local ids = tok:encode(text)
        assert.equal(#ids, tok:count(text), e.name)
        assert.equal(text, tok:decode(ids), e.name)
      end
    end)
  end
end)

describe("a megabyte of one character", function()
  -- os.clock() is this process's CPU time, not the loaded machine's wall
  -- time: a quadratic merge takes hours here, a linear one well under 1 s.
  for _, c in ipairs { "a", "7", " ", "的", "\n" } do
    it(string.format("%q, 1 MiB, tokenizes in linear time and decodes back", c), function()
      local text = c:rep(math.floor(1048576 / #c))
      for _, name in ipairs(ENCODINGS) do
        local tok = assert(chatgpt.tokenizer(name))
        local t0 = os.clock()
        local ids = tok:encode(text)
        assert.is_true(os.clock() - t0 < 60)
        assert.equal(#ids, tok:count(text))
        assert.equal(text, tok:decode(ids))
      end
    end)
  end
end)

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
  -- Time linear in the length, or near it: 16 times the text takes well
  -- under 64 times as long, where a quadratic merge would take 256 times.
  -- os.clock() is this process's CPU time, not the loaded machine's wall
  -- time; under valgrind the texts are a quarter as long.
  local MB = os.getenv("CHATGPT_VALGRIND") and 262144 or 1048576
  local function cpu(tok, text)
    local t0 = os.clock()
    local ids = tok:encode(text)
    return os.clock() - t0, ids
  end

  for _, c in ipairs { "a", "7", " ", "的", "\n" } do
    it(string.format("%q tokenizes in near-linear time and decodes back", c), function()
      local text, small = c:rep(math.floor(MB / #c)), c:rep(math.floor(MB / 16 / #c))
      for _, name in ipairs(ENCODINGS) do
        local tok = assert(chatgpt.tokenizer(name))
        local t_small = math.min((cpu(tok, small)), (cpu(tok, small)))
        local t_big, ids = cpu(tok, text)
        assert.is_true(t_big < 64 * t_small + 0.5, string.format("%.3f s, %.3f s", t_big, t_small))
        assert.equal(#ids, tok:count(text))
        assert.equal(text, tok:decode(ids))
      end
    end)
  end
end)

describe("chatgpt.tokenizer", function()
  it("takes an encoding's name or a model's, mapped as tiktoken maps them", function()
    local want = {
      o200k_base = "o200k_base", cl100k_base = "cl100k_base", o200k_harmony = "o200k_harmony",
      ["gpt-4o"] = "o200k_base", ["gpt-4o-2024-08-06"] = "o200k_base", ["gpt-4o-mini"] = "o200k_base",
      ["chatgpt-4o-latest"] = "o200k_base", ["gpt-4.1-nano"] = "o200k_base", ["gpt-5"] = "o200k_base",
      ["gpt-5.1"] = "o200k_base", ["gpt-5-nano"] = "o200k_base", ["o1"] = "o200k_base",
      ["o3-mini"] = "o200k_base", ["o4-mini-2025-04-16"] = "o200k_base",
      ["ft:gpt-4o-mini-2024-07-18:org::abc"] = "o200k_base", ["gpt-oss-20b"] = "o200k_harmony",
      ["gpt-4"] = "cl100k_base", ["gpt-4-0613"] = "cl100k_base", ["gpt-4-turbo"] = "cl100k_base",
      ["gpt-3.5-turbo"] = "cl100k_base", ["gpt-3.5-turbo-0125"] = "cl100k_base",
      ["gpt-35-turbo"] = "cl100k_base", ["text-embedding-3-small"] = "cl100k_base",
      ["davinci-002"] = "cl100k_base", ["ft:gpt-3.5-turbo-0613:org::x"] = "cl100k_base",
    }
    for name, enc in pairs(want) do
      local tok, err = chatgpt.tokenizer(name)
      assert.is_nil(err, name)
      assert.equal(enc, tok.name, name)
    end
  end)

  it("gives every caller of a state the same tokenizer for an encoding", function()
    assert.equal(chatgpt.tokenizer("o200k_base"), chatgpt.tokenizer("gpt-4o"))
    assert.not_equal(chatgpt.tokenizer("o200k_base"), chatgpt.tokenizer("cl100k_base"))
    assert.matches("^chatgpt%.tokenizer %(o200k_base%)", tostring(chatgpt.tokenizer("gpt-4o")))
  end)

  it("shares one vocabulary between o200k_base and o200k_harmony", function()
    local a, b = chatgpt.tokenizer("o200k_base"), chatgpt.tokenizer("o200k_harmony")
    assert.equal(a:memory(), b:memory())
    assert.same(a:encode("Hello, world"), b:encode("Hello, world"))
  end)

  it("returns nil, err for an unknown name, never a guess", function()
    for _, name in ipairs { "", "llama3", "claude-3-opus", "GPT-4O", "o200k", "gpt4" } do
      local tok, err = chatgpt.tokenizer(name)
      assert.is_nil(tok, name)
      assert.equal("no known encoding for '" .. name .. "'", err)
    end
  end)

  it("returns nil, err naming the encoding of a model whose vocabulary is not shipped", function()
    local tok, err = chatgpt.tokenizer("text-davinci-003")
    assert.is_nil(tok)
    assert.matches("p50k_base", err)
    assert.matches("not shipped", err)
  end)

  it("raises for a name that is not a string", function()
    assert.has_error(function() chatgpt.tokenizer(nil) end,
      "bad argument #1 to 'tokenizer' (string expected, got nil)")
    assert.has_error(function() chatgpt.tokenizer("gpt-4o", 1) end,
      "bad argument #2 to 'tokenizer' (string expected, got number)")
  end)
end)

describe("tok:encode and tok:decode", function()
  local o200k = chatgpt.tokenizer("o200k_base")

  it("encode special tokens' text as text", function()
    local ids = o200k:encode("<|endoftext|>")
    assert.is_true(#ids > 1)
    for _, id in ipairs(ids) do assert.is_true(id < 199998) end
    assert.equal("<|endoftext|>", o200k:decode(ids))
  end)

  it("decode special tokens to their text", function()
    assert.equal("<|endoftext|>x", o200k:decode { 199999, 87 })
    assert.equal("<|endofprompt|>", o200k:decode { 200018 })
    assert.equal("<|fim_middle|>", chatgpt.tokenizer("cl100k_base"):decode { 100259 })
    local harmony = chatgpt.tokenizer("gpt-oss-120b")
    assert.equal("<|start|>assistant<|channel|>", harmony:decode { 200006, 173781, 200005 })
    assert.equal("<|reserved_201087|>", harmony:decode { 201087 })
    assert.equal("", o200k:decode {})
  end)

  it("raise for an id that is no token", function()
    assert.has_error(function() o200k:decode { 1, 199998 } end,
      "bad argument #1 to 'decode' (no token 199998 in o200k_base (at index 2))")
    assert.has_error(function() o200k:decode { -1 } end)
    assert.has_error(function() o200k:decode { 1.5 } end)
    assert.has_error(function() o200k:decode { "1" } end)
    assert.has_error(function() o200k:decode { 201088 } end)
    assert.has_error(function() o200k:decode "1" end)
  end)

  it("raise for a text that is not a string", function()
    assert.has_error(function() o200k:encode {} end)
    assert.has_error(function() o200k:count() end)
  end)

  it("decode a text cut between tokens to its bytes, a character split or not", function()
    local ids = o200k:encode("日本語 text")
    local bytes = {}
    for i = 1, #ids do bytes[#bytes + 1] = o200k:decode { ids[i] } end
    assert.equal("日本語 text", table.concat(bytes))
  end)
end)

describe("the vocabularies", function()
  local dir = "lua/chatgpt/vocab"

  it("are read from the folder given, or from $CHATGPT_VOCAB_DIR", function()
    local tok, err = chatgpt.tokenizer("o200k_base", "/nonexistent")
    assert.is_nil(tok)
    assert.equal("cannot load the o200k_base vocabulary: /nonexistent/o200k_base.bpe: "
      .. "No such file or directory", err)
    local out = T.run("CHATGPT_VOCAB_DIR=/nowhere", [[
      print(select(2, require("chatgpt").tokenizer("cl100k_base")))]])
    assert.matches("/nowhere/cl100k_base.bpe: No such file or directory", out)
    out = T.run("CHATGPT_VOCAB_DIR=" .. dir, [[
      print(require("chatgpt").tokenizer("cl100k_base"):count("hello world"))]])
    assert.equal("2\n", out)
  end)

  it("are found beside tokenizer.lua without any setting", function()
    local out = T.run("", [[print(require("chatgpt.tokenizer").vocab_dir())]])
    assert.equal("lua/chatgpt/vocab\n", out)
  end)

  it("that are damaged give nil, err", function()
    local real = T.read(dir .. "/cl100k_base.bpe")
    local bytes256 = {}
    for b = 0, 255 do bytes256[#bytes256 + 1] = "\1" .. string.char(b) end
    bytes256 = table.concat(bytes256)
    local cases = {
      ["not a vocabulary file"] = "hello",
      ["truncated at token 100255"] = real:sub(1, -2),
      ["trailing bytes after 100256 tokens"] = real .. "x",
      ["bad number of tokens (2)"] = "lua-chatgpt bpe 1\n\2\0\0\0\1a\1b",
      ["holds 256 tokens, not 100256"] = "lua-chatgpt bpe 1\n\0\1\0\0" .. bytes256,
      ["token 1 repeats an earlier one"] = real:sub(1, 24) .. "\1!" .. real:sub(27),
    }
    for why, bytes in pairs(cases) do
      local tmp = os.tmpname()
      os.remove(tmp)
      assert.is_true(os.execute("mkdir " .. tmp) ~= false)
      local f = assert(io.open(tmp .. "/cl100k_base.bpe", "wb"))
      f:write(bytes)
      f:close()
      local tok, err = chatgpt.tokenizer("cl100k_base", tmp)
      os.remove(tmp .. "/cl100k_base.bpe")
      os.remove(tmp)
      assert.is_nil(tok, why)
      assert.matches(why, err, 1, true)
    end
  end)

  it("are the files SOURCES.md records, by SHA-256", function()
    local sources = T.read(dir .. "/SOURCES.md")
    for _, name in ipairs(ENCODINGS) do
      local out = T.capture("sha256sum " .. dir .. "/" .. name .. ".bpe")
      local sum = out:match("^(%x+)")
      assert.is_truthy(sum)
      assert.is_truthy(sources:find("`" .. name .. ".bpe`.-" .. sum), name)
    end
  end)
end)

describe("tokenizers in threads", function()
  it("load, share and free the vocabularies while four threads open and close states", function()
    local build = os.getenv("CHATGPT_BUILD") or "build"
    local host = (os.getenv("CHATGPT_HOSTS") or "build") .. "/tokenizer_threads"
    local f = io.open(host)
    assert.truthy(f, host .. " missing: run make ctest")
    f:close()
    local out = T.capture(("%s 'lua/?.lua;lua/?/init.lua' '%s/?.so'"):format(host, build))
    local totals = {}
    for n in out:gmatch("thread %d: (%d+) tokens") do totals[#totals + 1] = n end
    assert.equal(4, #totals, out)
    for i = 2, 4 do assert.equal(totals[1], totals[i]) end
    assert.falsy(out:find("Sanitizer", 1, true), out)
  end)
end)

describe("src/unicode_class.c", function()
  local ucd = "/usr/share/unicode"
  local have = T.read(ucd .. "/ReadMe.txt")
  local version = have and have:match("Version (%d+%.%d+%.%d+) of the Unicode")
  local made = T.read("src/unicode_class.c"):match("%(Unicode ([%d.]+)%)")
  local check = version == made and it or pending

  check("is what src/unicode_class.py makes from the Unicode data it names (Debian's unicode-data)", function()
    local out, ok = T.capture("python3 src/unicode_class.py " .. ucd)
    assert.is_true(ok, out)
    assert.is_true(out == T.read("src/unicode_class.c"), "src/unicode_class.c is out of date")
  end)
end)

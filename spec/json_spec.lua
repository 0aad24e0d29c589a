-- JSON codec of the C core (src/json_encode.c, src/json_decode.c):
-- core.encode / core.decode.
local core = require "chatgpt.core"
local cjson = require "cjson"

local compat = require "chatgpt.compat"
local versions = require "spec.support.versions"

local encode, decode = core.encode, core.decode
local null = cjson.null
local math_type = compat.math_type
local it_ints = versions.gate(versions.INTS, versions.INTS_WHY, it, pending)

-- bit-exact comparison of two floats (%.17g reads back as the same double)
local function bits(x)
  if x ~= x then return "nan" end
  if x == 0 then return 1 / x < 0 and "-0" or "0" end
  return ("%.17g"):format(x)
end

-- encode's refusal: nil and why, never an error
local function refused(v, keys)
  local ok, json, why = pcall(encode, v, keys)
  assert.is_true(ok, "encode raised: " .. tostring(json))
  assert.is_nil(json, "expected a refusal")
  assert.is_string(why)
  return why
end

local function contains(s, part)
  assert.is_truthy(s:find(part, 1, true), ("%q does not contain %q"):format(s, part))
end

local function nested(n, inner)
  local t = inner or {}
  for _ = 2, n do t = { t } end
  return t
end

-- Canonical text of a decoded value (keys sorted), to compare documents
-- whose key order differs.
local function canon(v)
  if type(v) ~= "table" then
    if math_type(v) == "float" then return ("%.17g"):format(v) end
    return tostring(v)
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) then return a < b end
    return type(a) == "number"
  end)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = tostring(k) .. "=" .. canon(v[k]) end
  return "{" .. table.concat(out, ",") .. "}"
end

-- ours vs cjson's decode: same values (numbers compared with ==), except
-- that object members cjson reads as null are absent in ours.
local function agree(ours, theirs, path)
  path = path or "$"
  if type(theirs) ~= "table" then
    assert(ours == theirs, ("%s: %s ~= %s"):format(path, tostring(ours), tostring(theirs)))
    return
  end
  assert(type(ours) == "table", path .. ": not a table")
  for k, v in pairs(theirs) do
    local p = path .. "." .. tostring(k)
    if v == null and type(k) == "string" then
      assert(ours[k] == nil, p .. ": null member should be absent")
    else
      agree(ours[k], v, p)
    end
  end
  for k in pairs(ours) do
    assert(theirs[k] ~= nil, path .. "." .. tostring(k) .. ": extra key")
  end
end

-- Counts the number tokens of a JSON text outside strings: integer-looking
-- ones and those with a fraction or exponent.
local function number_tokens(text)
  local ints, floats, i = 0, 0, 1
  while true do
    i = text:find('["%-0-9]', i)
    if not i then break end
    if text:sub(i, i) == '"' then
      i = i + 1
      while true do
        local j = text:find('["\\]', i)
        if text:sub(j, j) == "\\" then i = j + 2 else i = j + 1 break end
      end
    else
      local tok = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
      if tok:find("[.eE]") then floats = floats + 1 else ints = ints + 1 end
      i = i + #tok
    end
  end
  return ints, floats
end

local wire = require "spec.support.wire"

-- Names of the captures ending in suffix (".json", ".sse"); raises when none.
local function wire_files(suffix)
  return wire.list(suffix:gsub("%p", "%%%0") .. "$")
end

describe("core.encode", function()
  describe("numbers", function()
    it_ints("sends seed = 9007199254740993 exactly", function()
      assert.are.equal('{"seed":9007199254740993}', encode({ seed = 9007199254740993 }))
    end)

    it_ints("sends math.maxinteger and math.mininteger digit for digit", function()
      assert.are.equal("[9223372036854775807,-9223372036854775808]",
        encode({ math.maxinteger, math.mininteger }))
    end)

    it("writes 0.1, 1e300 and 5e-324 so that they read back bit-exact", function()
      for _, x in ipairs({ 0.1, 1e300, 5e-324, 1 / 3, 2 ^ -1074 * 3, 1.7976931348623157e308, 123.456 }) do
        local back = decode(encode(x))
        assert.are.equal(bits(x), bits(back))
      end
    end)

    it("writes the shortest text that reads back (0.1 -> 0.1, 0.7 -> 0.7)", function()
      assert.are.equal("0.1", encode(0.1))
      assert.are.equal("0.7", encode(0.7))
      assert.are.equal("1e+300", encode(1e300))
    end)

    it("round-trips 20000 random doubles bit for bit", function()
      math.randomseed(42)
      for _ = 1, 20000 do
        local x
        if string.pack then   -- any 64-bit pattern (5.3's random takes at most 2^63 - 1 values)
          x = string.unpack("<d", string.pack("<i4i4", math.random(0, 0xffffffff) - 0x80000000,
                                              math.random(0, 0xffffffff) - 0x80000000))
        else                  -- 5.1: a random mantissa at any binary exponent
          x = (math.random() - 0.5) * 2 ^ math.random(-1073, 1024)
        end
        if x == x and x ~= math.huge and x ~= -math.huge then
          assert(bits(decode(encode(x))) == bits(x), ("%.17g"):format(x))
        end
      end
    end)

    it("keeps the sign of -0.0", function()
      assert.are.equal("-0.0", encode(-0.0))
      assert.are.equal(bits(-0.0), bits(decode(encode(-0.0))))
    end)

    it("may send an integral float like 2.0 as 2, equal in value", function()
      local s = encode({ temperature = 2.0 })
      assert.are.equal(2, decode(s).temperature)
    end)

    it("sends integral numbers without a fraction, integer or float: 3, 3.0, 2^53, 1e20", function()
      assert.are.equal("[3,3,9007199254740992,-9007199254740992,1e+20,0.5]",
        encode({ 3, 3.0, 2 ^ 53, -2 ^ 53, 1e20, 0.5 }))
    end)

    it("refuses NaN, inf and -inf, naming the field", function()
      contains(refused({ temperature = 0 / 0 }), "NaN at temperature")
      contains(refused({ top_p = math.huge }), "inf at top_p")
      contains(refused({ { x = -math.huge } }), "-inf at [1].x")
    end)
  end)

  describe("tables", function()
    it("sends an empty table as [] under a key of the caller's array_keys set, else as {}", function()
      assert.are.equal('{"tools":[]}', encode({ tools = {} }, { tools = true }))
      assert.are.equal('{"tools":{}}', encode({ tools = {} }))           -- the codec knows no names
      assert.are.equal('{"tools":{}}', encode({ tools = {} }, { tools = false }))
      assert.are.equal('{"x":{"list":[]}}', encode({ x = { list = {} } }, { list = true }))
      assert.are.equal('{"list":[1]}', encode({ list = { 1 } }, { list = true }))
      assert.are.equal('{"tools":{"a":1}}', encode({ tools = { a = 1 } }, { tools = true }))
    end)

    it("reads the array_keys set raw, and raises when it is not a table", function()
      local keys = setmetatable({}, { __index = function() error("consulted") end })
      assert.are.equal('{"tools":{}}', encode({ tools = {} }, keys))
      assert.has_error(function() encode({}, "tools") end)
    end)

    it("sends an empty table under other keys (properties, items, type) as {}", function()
      assert.are.equal('{"properties":{}}', encode({ properties = {} }))
      assert.are.equal('{"items":{}}', encode({ items = {} }))
      assert.are.equal('{"type":{}}', encode({ type = {} }))
    end)

    it("sends a top-level {} and an empty table inside an array as {}", function()
      assert.are.equal("{}", encode({}))
      assert.are.equal("[{}]", encode({ {} }))
      assert.are.equal('{"messages":[{}]}', encode({ messages = { {} } }))
    end)

    it("sends a Lua sequence as a JSON array in order", function()
      assert.are.equal('[1,"two",true,[3]]', encode({ 1, "two", true, { 3 } }))
    end)

    it("honours __jsontype = 'array' for an empty table anywhere", function()
      local arr = setmetatable({}, { __jsontype = "array" })
      assert.are.equal("[]", encode(arr))
      assert.are.equal('{"properties":[]}', encode({ properties = arr }))
    end)

    it("honours __jsontype = 'object' for a sequence and under array keys", function()
      local obj = setmetatable({ "a", "b" }, { __jsontype = "object" })
      local back = decode(encode(obj))
      assert.are.same({ ["1"] = "a", ["2"] = "b" }, back)
      assert.are.equal('{"tools":{}}', encode({ tools = setmetatable({}, { __jsontype = "object" }) },
                                              { tools = true }))
    end)

    it("refuses a table with holes or named keys marked __jsontype = 'array'", function()
      local t = setmetatable({ [1] = 1, [3] = 3 }, { __jsontype = "array" })
      contains(refused({ stop = t }), "at stop")
      contains(refused({ x = setmetatable({}, { __jsontype = "list" }) }), "__jsontype")
    end)

    it("sends logit_bias = {[50256] = -100} with the key as a string", function()
      assert.are.equal('{"logit_bias":{"50256":-100}}', encode({ logit_bias = { [50256] = -100 } }))
    end)

    it("sends a sparse table {[1]=1,[3]=3} as an object with string keys", function()
      assert.are.same({ ["1"] = 1, ["3"] = 3 }, decode(encode({ [1] = 1, [3] = 3 })))
    end)

    it("sends a mixed table {1, 2, x = 3} as an object", function()
      assert.are.same({ ["1"] = 1, ["2"] = 2, x = 3 }, decode(encode({ 1, 2, x = 3 })))
    end)

    it("sends a table with key 0 or negative keys as an object", function()
      assert.are.same({ ["0"] = "a", ["-1"] = "b" }, decode(encode({ [0] = "a", [-1] = "b" })))
    end)

    it("refuses boolean, float and table keys, naming where", function()
      contains(refused({ a = { [true] = 1 } }), "a boolean key at a")
      contains(refused({ b = { [1.5] = 1 } }), "non-integer number key at b")
      contains(refused({ { [{}] = 1 } }), "a table key at [1]")
    end)

    it("returns nil, 'cannot encode: a function at tools[1].handler' and raises nothing", function()
      assert.are.equal("cannot encode: a function at tools[1].handler",
        refused({ tools = { { handler = print } } }))
    end)

    it("refuses userdata, threads and non-null light userdata", function()
      contains(refused({ f = io.stdout }), "a userdata at f")
      contains(refused({ co = coroutine.create(function() end) }), "a thread at co")
      contains(refused(print), "a function at (top level)")
    end)

    it("quotes odd keys in the error path", function()
      contains(refused({ ["my key"] = { print } }), '["my key"][1]')
    end)

    it("encodes 1000 nested tables and refuses 1001", function()
      local ok = encode(nested(1000))
      assert.are.equal(999 * 2 + 2, #ok)  -- [[...[{}]...]]
      contains(refused(nested(1001)), "nested too deeply")
    end)

    it("refuses a self-referencing table instead of crashing", function()
      local t = { role = "user" }
      t.self = t
      local msg = refused({ messages = { t } })
      contains(msg, "cannot encode: table nested too deeply (cycle?) at messages[1].self.self")
      contains(msg, "[...]")
    end)

    it("frees its buffer when it refuses (memory returns after a collect)", function()
      local big = { ("x"):rep(100000), print }  -- fails after 100 KB
      collectgarbage(); collectgarbage()
      local before = collectgarbage("count")
      for _ = 1, 200 do assert.is_nil((encode(big))) end
      collectgarbage(); collectgarbage()
      assert.is_true(collectgarbage("count") - before < 1024)  -- KB, vs 20 MB written
    end)
  end)

  describe("strings", function()
    it("escapes quote, backslash and control characters with short forms", function()
      assert.are.equal([["a\"b\\c\n\r\t\b\f"]], encode('a"b\\c\n\r\t\b\f'))
    end)

    it("escapes other control characters as \\u00XX, NUL included", function()
      assert.are.equal([["\u0000\u0001\u001f"]], encode("\0\1\31"))
      assert.are.equal("\0\1\31", decode(encode("\0\1\31")))
    end)

    it("keeps '/', DEL, U+2028 and non-ASCII text unescaped", function()
      local s = "a/b\127\226\128\168é😀"
      assert.are.equal('"' .. s .. '"', encode(s))
    end)

    it("round-trips a 1 MB string full of escapes", function()
      local parts = {}
      for i = 0, 255 do parts[#parts + 1] = i < 128 and string.char(i) or "é" end
      local s = table.concat(parts):rep(4000)
      assert.are.equal(s, decode(encode({ s }))[1])
    end)

    it("refuses invalid UTF-8 naming the path and byte: messages[2].content (byte 3)", function()
      assert.are.equal("cannot encode: invalid UTF-8 in messages[2].content (byte 3)",
        refused({ messages = { { content = "ok" }, { content = "ab\128c" } } }))
    end)

    it("refuses a lone continuation byte", function()
      contains(refused({ s = "\128" }), "invalid UTF-8 in s (byte 1)")
    end)

    it("refuses a truncated sequence", function()
      contains(refused({ s = "ab\226\130" }), "(byte 3)")
      contains(refused({ s = "\240\159\152" }), "(byte 1)")
      contains(refused({ s = "\195x" }), "(byte 1)")
    end)

    it("refuses overlong forms (C0 80, E0 80 80, F0 80 80 80)", function()
      for _, s in ipairs({ "\192\128", "\193\191", "\224\128\128", "\224\159\191", "\240\128\128\128", "\240\143\191\191" }) do
        contains(refused({ s = s }), "invalid UTF-8")
      end
    end)

    it("refuses UTF-16 surrogates encoded in UTF-8 (ED A0 80 .. ED BF BF)", function()
      contains(refused({ s = "\237\160\128" }), "invalid UTF-8")
      contains(refused({ s = "\237\191\191" }), "invalid UTF-8")
      assert.are.equal('"\237\159\191"', encode("\237\159\191"))  -- U+D7FF is fine
    end)

    it("refuses code points above U+10FFFF and F5..FF lead bytes", function()
      contains(refused({ s = "\244\144\128\128" }), "invalid UTF-8")
      contains(refused({ s = "\245\128\128\128" }), "invalid UTF-8")
      contains(refused({ s = "\255" }), "invalid UTF-8")
      assert.are.equal('"\244\143\191\191"', encode("\244\143\191\191"))  -- U+10FFFF is fine
    end)

    it("refuses invalid UTF-8 in a key, naming the object that holds it", function()
      contains(refused({ tools = { { parameters = { ["a\255"] = 1 } } } }),
        "invalid UTF-8 in a key (byte 2) at tools[1].parameters")
    end)
  end)

  it("sends nil and cjson.null as null, booleans as true/false", function()
    assert.are.equal("null", encode(nil))
    assert.are.equal("null", encode(null))
    assert.are.equal('[true,false,null]', encode({ true, false, null }))
  end)
end)

describe("core.decode", function()
  describe("numbers", function()
    it("reads integral response numbers as Lua integers (usage.prompt_tokens is 87, not 87.0)", function()
      local v = decode('{"created":1770747154,"usage":{"prompt_tokens":87,"total_tokens":0}}')
      assert.are.equal("integer", math_type(v.created))
      assert.are.equal("integer", math_type(v.usage.prompt_tokens))
      assert.are.equal(87, v.usage.prompt_tokens)
      assert.are.equal("87", tostring(v.usage.prompt_tokens))
      assert.are.equal("integer", math_type(v.usage.total_tokens))
    end)

    it_ints("reads 9223372036854775807 and -9223372036854775808 as exact integers", function()
      local v = decode("[9223372036854775807,-9223372036854775808,9007199254740993]")
      assert.are.equal(math.maxinteger, v[1])
      assert.are.equal(math.mininteger, v[2])
      assert.are.equal("integer", math_type(v[1]))
      assert.are.equal("integer", math_type(v[2]))
      assert.are.equal(9007199254740993, v[3])
    end)

    it("reads integers beyond int64 as floats", function()
      local v = decode("[9223372036854775808,-9223372036854775809,123456789012345678901234567890]")
      assert.are.equal("float", math_type(v[1]))
      assert.are.equal(2.0 ^ 63, v[1])
      assert.are.equal(-(2.0 ^ 63), v[2])
      assert.are.equal(1.2345678901234568e29, v[3])
    end)

    it_ints("reads numbers with a fraction or exponent as floats: 1.0, 1e2, 1E-2", function()
      local v = decode("[1.0,1e2,1E-2,-0.5,0e0]")
      for i = 1, #v do assert.are.equal("float", math_type(v[i])) end
      assert.are.equal(100, v[2])
      assert.are.equal(0.01, v[3])
    end)

    it("reads -0 as integer 0 and -0.0 as a negative zero", function()
      local v = decode("[-0,-0.0]")
      assert.are.equal("integer", math_type(v[1]))
      assert.is_true(1 / v[1] == math.huge)   -- +0 (no literal 0 here: 5.1 merges it with -0.0)
      assert.are.equal(bits(-0.0), bits(v[2]))
    end)

    it("reads floats correctly rounded, long mantissas and exponents included", function()
      assert.are.equal(math.pi, decode("3.14159265358979323846264338327950288419716939937510"))
      assert.are.equal(0.1, decode("0.1000000000000000055511151231257827021181583404541015625"))
      assert.are.equal(5e-324, decode("4.9406564584124654e-324"))
      assert.are.equal(1e-101, decode("0." .. ("0"):rep(100) .. "1"))
      assert.are.equal(math.huge, decode("1e400"))
      assert.are.equal(0.0, decode("1e-400"))
    end)

    it("rejects numbers JSON does not allow (01, 1., .5, +1, 1e, 0x10, NaN, Infinity)", function()
      for _, s in ipairs({ "01", "1.", ".5", "+1", "1e", "1e+", "0x10", "NaN", "Infinity", "-", "--1", "1.e5", "-.5" }) do
        local v, err = decode(s)
        assert(v == nil and type(err) == "string", s)
      end
      local _, err = decode("[1.x]")
      assert.are.equal("invalid number at byte 2", err)
    end)
  end)

  describe("strings", function()
    it("decodes \\u escapes, surrogate pairs included, to UTF-8", function()
      assert.are.equal("é€😀", decode([["\u00e9\u20AC\ud83d\ude00"]]))
      assert.are.equal("\0", decode([["\u0000"]]))
    end)

    it("turns a lone surrogate into U+FFFD", function()
      assert.are.equal("\239\191\189x", decode([["\ud800x"]]))
      assert.are.equal("\239\191\189", decode([["\udc00"]]))
      assert.are.equal("\239\191\189\239\191\189", decode([["\ud800\ud800"]]))
      assert.are.equal("\239\191\189A", decode([["\ud800\u0041"]]))
    end)

    it("decodes the short escapes \\\" \\\\ \\/ \\b \\f \\n \\r \\t", function()
      assert.are.equal('"\\/\b\f\n\r\t', decode([["\"\\\/\b\f\n\r\t"]]))
    end)

    it("rejects bad escapes and raw control characters", function()
      local _, err = decode([["a\qb"]])
      assert.are.equal("invalid escape at byte 3", err)
      _, err = decode([["\u12G4"]])
      assert.are.equal("invalid \\u escape at byte 2", err)
      _, err = decode('"a\nb"')
      assert.are.equal("unescaped control character in string at byte 3", err)
    end)

    it("returns nil, msg (never raises) when a long escaped string fails, at top level or in an array", function()
      local long = ("x"):rep(5000)  -- outgrows luaL_Buffer's inline space
      assert.are.same({ nil, "unterminated string at byte 1" }, { decode('"\\n' .. long) })
      assert.are.same({ nil, "invalid escape at byte 5004" }, { decode('"\\n' .. long .. '\\q"') })
      assert.are.same({ nil, "invalid escape at byte 5005" }, { decode('["\\n' .. long .. '\\q"]') })
      assert.are.same({ nil, "unexpected end of input at byte 5007" }, { decode('{"\\n' .. long .. '":') })
      assert.are.equal(5002, #decode('["\\n' .. long .. '\\t"]')[1])
    end)

    it("passes raw non-UTF-8 bytes through (lenient on the wire)", function()
      assert.are.equal("a\255b", decode('"a\255b"'))
    end)

    it("reports an unterminated string at its opening quote", function()
      local _, err = decode('{"a":"bcd')
      assert.are.equal("unterminated string at byte 6", err)
      _, err = decode('["x\\"]')
      assert.are.equal("unterminated string at byte 2", err)
    end)
  end)

  describe("null", function()
    it("leaves out object members whose value is null", function()
      local v = decode('{"content":null,"refusal":null,"role":"assistant"}')
      assert.are.same({ role = "assistant" }, v)
    end)

    it("reads null inside an array and at top level as cjson.null", function()
      local v = decode("[1,null,3]")
      assert.are.equal(3, #v)
      assert.are.equal(null, v[2])
      assert.are.equal(null, decode("null"))
      assert.are.equal(null, decode(" null "))
    end)

    it("lets the last of duplicate keys win, a null one included", function()
      assert.are.equal(2, decode('{"a":1,"a":2}').a)
      assert.is_nil(decode('{"a":1,"a":null}').a)
      assert.are.equal(3, decode('{"a":null,"a":3}').a)
    end)
  end)

  describe("structure", function()
    it("decodes long arrays and objects in order (1..100000)", function()
      local parts = {}
      for i = 1, 100000 do parts[i] = tostring(i) end
      local v = decode("[" .. table.concat(parts, ",") .. "]")
      assert.are.equal(100000, #v)
      for i = 1, 100000 do assert(v[i] == i) end
      local o = {}
      for i = 1, 1000 do o[i] = ('"k%d":%d'):format(i, i) end
      local obj = decode("{" .. table.concat(o, ",") .. "}")
      for i = 1, 1000 do assert(obj["k" .. i] == i) end
    end)

    it("accepts whitespace around and inside values", function()
      assert.are.same({ a = { 1, 2 } }, decode(' \t\r\n{ "a" : [ 1 , 2 ] }\n'))
    end)

    it("returns nil, 'empty input' for an empty or blank string", function()
      assert.are.same({ nil, "empty input" }, { decode("") })
      assert.are.same({ nil, "empty input" }, { decode(" \n\t ") })
    end)

    it("returns nil, 'trailing garbage at byte N' for text after the value", function()
      assert.are.same({ nil, "trailing garbage at byte 5" }, { decode('{}  x') })
      assert.are.same({ nil, "trailing garbage at byte 3" }, { decode('1 2') })
    end)

    it("names the unexpected byte and its 1-based offset", function()
      assert.are.same({ nil, "unexpected 'x' at byte 6" }, { decode('{"a":x}') })
      assert.are.same({ nil, "unexpected '}' at byte 8" }, { decode('{"a":1,}') })
      assert.are.same({ nil, "unexpected end of input at byte 6" }, { decode('{"a":') })
      assert.are.same({ nil, "unexpected byte 0x01 at byte 2" }, { decode('[\1]') })
      assert.are.same({ nil, "unexpected 'x' at byte 3" }, { decode('trxe') })
    end)

    it("never mixes up short strings, even ones that share length, head and tail", function()
      -- the decoder keeps recent short strings to push them again
      local seen = {}
      for round = 1, 3 do
        for i = 1, 3000 do
          local k = ("abcd%06dwxyz"):format(i)     -- same length, first and last 4 bytes
          local v = ("v%d"):format(i * 7 + round)
          local t = decode(('{"%s":"%s","id":"%s","n":{"%s":%d}}'):format(k, v, k, v, i))
          assert.equal(v, t[k])
          assert.equal(k, t.id)
          assert.equal(i, t.n[v])
          seen[#seen + 1] = t
        end
      end
      -- earlier results are intact after the cache moved on
      assert.equal("v8", seen[1]["abcd000001wxyz"])
      assert.equal(("v%d"):format(3000 * 7 + 3), seen[#seen]["abcd003000wxyz"])
    end)

    it("sizes objects of one shape alike whatever their member counts, big or small", function()
      for _, n in ipairs { 1, 40, 2, 300, 3, 0, 17 } do
        local parts = {}
        for i = 1, n do parts[i] = ('"k%d":%d'):format(i, i) end
        local src = "{" .. table.concat(parts, ",") .. "}"
        local t = decode(src)
        local count = 0
        for k, v in pairs(t) do count = count + 1; assert.equal(k, "k" .. v) end
        assert.equal(n, count)
      end
    end)

    it("decodes 1000 nested arrays and refuses 1001 with 'nested too deeply'", function()
      local ok = decode(("["):rep(1000) .. ("]"):rep(1000))
      assert.are.equal("table", type(ok))
      assert.are.same({ nil, "nested too deeply at byte 1001" },
        { decode(("["):rep(1001) .. ("]"):rep(1001)) })
      local _, err = decode(('{"a":'):rep(5000))
      contains(err, "nested too deeply")
    end)

    it("returns nil, msg for every truncated prefix of a document, never crashing", function()
      local doc = '{"id":"c1","n":[1,-2.5e3,true,false,null],"s":"a\\u00e9\\ud83d\\ude00\\n","o":{"k":{}}}'
      assert.is_table(decode(doc))
      for len = 0, #doc - 1 do
        local v, err = decode(doc:sub(1, len))
        assert(v == nil and type(err) == "string", "prefix " .. len)
      end
    end)

    it("raises (argument error) when given a non-string", function()
      assert.is_false(pcall(decode, {}))
      assert.is_false(pcall(decode))
    end)

    it("round-trips a realistic request", function()
      local req = {
        model = "gpt-4o-mini", seed = 9007199254740993, temperature = 0.7,
        messages = { { role = "system", content = "Be brief." }, { role = "user", content = "Héllo \"you\"\n" } },
        tools = { { type = "function", ["function"] = { name = "f", parameters = {
          type = "object", properties = { x = { type = "integer", enum = { 1, 2 } } }, required = { "x" } } } } },
        logit_bias = { [50256] = -100 }, stop = {},
      }
      local back = decode(encode(req))
      assert.are.equal(canon(decode(encode(back))), canon(back))
      assert.are.equal(9007199254740993, back.seed)
      assert.are.equal(-100, back.logit_bias["50256"])
      assert.are.same({}, back.stop)
    end)
  end)

  describe("wire captures (" .. wire.dir() .. ")", function()
    local files = wire_files(".json")

    it("decodes every *.json capture exactly as cjson does, value for value", function()
      for _, path in ipairs(files) do
        local text = wire.read(path)
        local ours, err = decode(text)
        assert(ours ~= nil, path .. ": " .. tostring(err))
        agree(ours, cjson.decode(text), path)
      end
    end)

    it_ints("reads every integer token of the captures as a Lua integer, every other number as a float", function()
      for _, path in ipairs(files) do
        local text = wire.read(path)
        local ints, floats = number_tokens(text)
        local seen = { integer = 0, float = 0 }
        local function walk(v)
          if type(v) == "table" then
            for _, x in pairs(v) do walk(x) end
          elseif math_type(v) then
            seen[math_type(v)] = seen[math_type(v)] + 1
          end
        end
        walk(decode(text))
        assert(seen.integer == ints and seen.float == floats,
          ("%s: %d/%d integers, %d/%d floats"):format(path, seen.integer, ints, seen.float, floats))
      end
    end)

    it("decodes every data: chunk of every *.sse capture as cjson does", function()
      local n = 0
      for _, path in ipairs(wire_files(".sse")) do
        for line in (wire.read(path) .. "\n"):gmatch("(.-)\n") do
          local data = line:match("^data: (.-)\r?$")
          if data and data ~= "[DONE]" then
            local ours, err = decode(data)
            assert(ours ~= nil, path .. ": " .. tostring(err))
            agree(ours, cjson.decode(data), path)
            n = n + 1
          end
        end
      end
      assert.is_true(n > 0)
    end)

    it("re-encodes every capture to text that decodes to the same value", function()
      for _, path in ipairs(files) do
        local v = decode(wire.read(path))
        local again = decode(encode(v))
        assert(canon(again) == canon(v), path)
      end
    end)
  end)
end)

describe("under a comma locale", function()
  local found
  for _, name in ipairs({ "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "nl_NL.UTF-8",
                          "ru_RU.UTF-8", "es_ES.UTF-8", "pt_BR.UTF-8", "it_IT.UTF-8", "de_DE" }) do
    if os.setlocale(name, "numeric") then
      local comma = ("%.1f"):format(0.5):find(",", 1, true)
      os.setlocale("C", "numeric")
      if comma then found = name break end
    end
  end
  if not found then
    pending("no comma locale installed (locale -a): decimal point check skipped")
    return
  end

  it("still writes 0.5 with a '.' and reads it back (" .. found .. ")", function()
    os.setlocale(found, "numeric")
    local ok, s, back, long = pcall(function()
      local text = encode({ temperature = 0.5, top_p = 1 / 3, big = 1e300 })
      return text, decode('[0.5,1e-7,3.14159265358979323846264338327950288419716939937510]'),
        decode("0." .. ("0"):rep(300) .. "1")
    end)
    os.setlocale("C", "numeric")
    assert(ok, s)
    assert.is_nil(s:find("0,5", 1, true))
    contains(s, '"temperature":0.5')
    assert.are.equal(1 / 3, decode(s).top_p)
    assert.are.equal(0.5, back[1])
    assert.are.equal(1e-7, back[2])
    assert.are.equal(math.pi, back[3])
    assert.are.equal(1e-301, long)
  end)
end)

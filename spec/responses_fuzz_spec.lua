-- Randomized sequences of Responses stream events (issue 19): the
-- accumulator fed directly, and whole streams through the fake server to
-- client:respond. Whatever the events hold (indices that are huge,
-- fractional, negative or not numbers, payloads of the wrong type, unknown
-- events, events after the terminal one, items of every shape), nothing
-- raises, no handler runs after the terminal event, the result is an answer
-- or nil, err, and no event costs time for its values.
--
-- The seeds are fixed, so a run is the same every time; CHATGPT_FUZZ_SECONDS
-- (make fuzz) runs on with fresh seeds for that long. A failure names its
-- seed: CHATGPT_FUZZ_SEED=n replays it.
local chatgpt = require "chatgpt"
local core = require "chatgpt.core"
local response_stream = require "chatgpt.response_stream"
local fake = require "spec.support.fake"
local T = require "spec.support.client"

local SECONDS = tonumber(os.getenv("CHATGPT_FUZZ_SECONDS") or "")
local ONE_SEED = tonumber(os.getenv("CHATGPT_FUZZ_SEED") or "")

-- A small generator of its own (xorshift-like on doubles' integer range),
-- so that every Lua version draws the same sequence from a seed.
local function rng(seed)
  local s = seed % 2147483647
  if s <= 0 then s = s + 2147483646 end
  local function nxt()
    s = (s * 16807) % 2147483647
    return s
  end
  local r = {}
  function r.int(lo, hi) return lo + nxt() % (hi - lo + 1) end
  function r.pick(list) return list[r.int(1, #list)] end
  function r.chance(p) return nxt() / 2147483647 < p end
  return r
end

local TERMINAL = { "response.completed", "response.incomplete", "response.failed" }
local TYPES = {
  "response.created", "response.in_progress", "response.queued",
  "response.output_item.added", "response.output_item.done",
  "response.content_part.added", "response.content_part.done",
  "response.output_text.delta", "response.output_text.delta", "response.output_text.delta",
  "response.output_text.done", "response.refusal.delta", "response.refusal.done",
  "response.reasoning_text.delta", "response.reasoning_text.done",
  "response.output_text.annotation.added",
  "response.function_call_arguments.delta", "response.function_call_arguments.done",
  "response.reasoning_summary_part.added", "response.reasoning_summary_part.done",
  "response.reasoning_summary_text.delta", "response.reasoning_summary_text.done",
  "response.web_search_call.searching", "response.something_new", "error",
}

-- Values of every JSON kind (and, for the direct feed, what JSON cannot
-- carry): indices that are fine most of the time and hostile the rest.
local function index(r, direct)
  if r.chance(0.8) then return r.int(0, 3) end
  local bad = { 1e12, 1e8, 2 ^ 53, 2 ^ 63, 1e308, -1, -1e9, 1.5, 0.25, 1048576, 1048577,
                "0", "x", true, {}, { 0 }, chatgpt.null }
  if direct then
    bad[#bad + 1] = math.huge
    bad[#bad + 1] = -math.huge
    bad[#bad + 1] = 0 / 0
  end
  return r.pick(bad)
end

local function some_text(r)
  return r.pick { "", "a", "Hé", "\0", "日本", ("z"):rep(r.int(1, 300)), "\240\159\142\137" }
end

local function any(r, depth)
  depth = depth or 0
  local k = r.int(1, depth > 2 and 5 or 7)
  if k == 1 then return some_text(r)
  elseif k == 2 then return r.pick { 0, -1, 1.5, 1e300, 42 }
  elseif k == 3 then return r.chance(0.5)
  elseif k == 4 then return chatgpt.null
  elseif k == 5 then return chatgpt.object({})
  elseif k == 6 then
    local t = {}
    for i = 1, r.int(0, 3) do t[i] = any(r, depth + 1) end
    return t
  else
    return { type = r.pick { "output_text", "refusal", "summary_text", "x" }, text = any(r, depth + 1) }
  end
end

local function item(r)
  if r.chance(0.15) then return any(r) end
  local t = r.pick { "message", "function_call", "reasoning", "web_search_call", "odd" }
  local it = { type = t, id = r.chance(0.9) and ("it_" .. r.int(1, 5)) or any(r) }
  if t == "message" then
    it.role = "assistant"
    it.content = r.chance(0.8) and {} or any(r)
  elseif t == "function_call" then
    it.call_id, it.name = "call_" .. r.int(1, 3), "f"
    it.arguments = r.chance(0.7) and "{}" or any(r)
  elseif t == "reasoning" then
    it.summary = r.chance(0.8) and {} or any(r)
  end
  return it
end

local function response(r, status)
  local out = {}
  if r.chance(0.7) then
    for i = 1, r.int(0, 2) do out[i] = item(r) end
  end
  return { id = "resp_f", object = "response", status = status or r.pick { "in_progress", "completed", "x" },
           output = r.chance(0.9) and out or any(r) }
end

local function event(r, direct)
  local typ = r.chance(0.04) and r.pick(TERMINAL) or r.pick(TYPES)
  local e = { type = typ }
  if r.chance(0.05) then e.type = any(r) end
  for _, k in ipairs { "output_index", "content_index", "summary_index", "annotation_index" } do
    if r.chance(0.6) then e[k] = index(r, direct) end
  end
  if typ:find("^response%.output_item") then e.item = r.chance(0.9) and item(r) or any(r)
  elseif typ:find("part%.") then e.part = r.chance(0.85) and any(r, 3) or any(r)
  elseif typ:find("delta$") then e.delta = r.chance(0.9) and some_text(r) or any(r)
  elseif typ:find("done$") then
    e.text, e.refusal, e.arguments = some_text(r), r.chance(0.5) and some_text(r) or nil, r.chance(0.5) and "{}" or nil
    if r.chance(0.1) then e.text = any(r) end
  elseif typ:find("annotation") then e.annotation = r.chance(0.9) and { type = "url_citation" } or any(r)
  elseif typ == "error" then e.code, e.message = "server_error", some_text(r)
  else
    e.response = r.chance(0.9) and response(r, typ:match("%.(%a+)$")) or any(r)
  end
  if r.chance(0.05) then e.sequence_number = any(r) end
  return e
end

-- A sequence: mostly a plausible stream (created, an item, its part,
-- deltas, the terminal event), with random events spliced in and more
-- after the end.
local function sequence(r, direct)
  local list = {}
  local function add(e) list[#list + 1] = e end
  if r.chance(0.9) then add { type = "response.created", response = response(r, "in_progress") } end
  if r.chance(0.8) then
    add { type = "response.output_item.added", output_index = 0,
          item = { id = "msg_f", type = "message", role = "assistant", content = {} } }
    add { type = "response.content_part.added", output_index = 0, content_index = 0,
          part = { type = "output_text", text = "", annotations = {} } }
  end
  for _ = 1, r.int(0, 40) do
    if r.chance(0.5) then
      add { type = "response.output_text.delta", output_index = 0, content_index = 0, delta = some_text(r) }
    else
      add(event(r, direct))
    end
  end
  if r.chance(0.8) then add { type = r.pick(TERMINAL), response = response(r) } end
  for _ = 1, r.int(0, 5) do add(event(r, direct)) end
  return list
end

local function seeds(count, base)
  if ONE_SEED then return { ONE_SEED } end
  local list = {}
  for i = 1, count do list[i] = base + i end
  return list
end

-- Runs fn(seed) over the fixed seeds, then on with fresh ones while
-- CHATGPT_FUZZ_SECONDS lasts.
local function each_seed(count, base, fn)
  for _, seed in ipairs(seeds(count, base)) do fn(seed) end
  if SECONDS and not ONE_SEED then
    local stop, seed = core.now() + SECONDS, os.time() * 1000
    while core.now() < stop do
      seed = seed + 1
      fn(seed)
    end
  end
end

local is_terminal = {}
for _, t in ipairs(TERMINAL) do is_terminal[t] = true end

describe("randomized Responses event sequences", function()
  it("fed to the accumulator: no raise, nothing after the terminal event, answer or BAD_EVENT", function()
    each_seed(3000, 1900000, function(seed)
      local r = rng(seed)
      local list = sequence(r, true)
      local over, seen, deltas = false, 0, 0
      local acc = response_stream.new {
        on_event = function(e)
          assert(not over, "seed " .. seed .. ": on_event after the terminal event")
          seen = seen + 1
          if type(e.type) == "string" and is_terminal[e.type] then over = true end
        end,
        on_delta = function(d)
          assert(not over, "seed " .. seed .. ": on_delta after the terminal event")
          assert(type(d) == "string" and d ~= "", "seed " .. seed .. ": on_delta got " .. type(d))
          deltas = deltas + 1
        end,
        on_tool_call = function(it) assert(type(it) == "table", "seed " .. seed) end,
      }
      local t0 = os.clock()
      for _, e in ipairs(list) do
        local ok, go, err = pcall(acc.add, acc, e)
        assert(ok, "seed " .. seed .. ": add raised: " .. tostring(go))
        if not go then
          assert(err and err.kind == "parse" and err.code == "BAD_EVENT",
                 "seed " .. seed .. ": stopped without BAD_EVENT")
          break
        end
      end
      for _, m in ipairs { "text", "snapshot", "complete", "over", "finish" } do
        local ok, v = pcall(acc[m], acc)
        assert(ok, "seed " .. seed .. ": " .. m .. " raised: " .. tostring(v))
        if m == "text" then assert(type(v) == "string", "seed " .. seed .. ": text is " .. type(v)) end
      end
      assert(seen <= #list and deltas <= #list, "seed " .. seed)
      -- no index costs time for its value (1e12 used to loop to it)
      assert(os.clock() - t0 < 5, "seed " .. seed .. ": took " .. (os.clock() - t0) .. " s")
    end)
  end)

  it("events for many items and parts cost time in proportion to their count only", function()
    -- n deltas into n parts, then n items done: the time taken, or as
    -- soon as it is over limit, a time over it
    local function run(n, limit)
      local acc = response_stream.new {}
      local t0 = os.clock()
      for i = 0, n - 1 do
        acc:add { type = "response.output_text.delta", output_index = i % 7, content_index = i, delta = "x" }
      end
      for i = 1, n do
        acc:add { type = "response.output_item.done", output_index = 7 + i, item = { type = "message" } }
        if i % 256 == 0 and os.clock() - t0 > limit then return os.clock() - t0 end
      end
      acc:finish()
      return os.clock() - t0
    end
    run(1000, math.huge)
    -- 16 times the events: linear is ~16 times the time; quadratic (every
    -- done scanning every buffer) was ~256 times, 140 s for 32,000
    local small = run(2000, math.huge)
    local limit = math.max(2, 64 * small)
    local big = run(32000, limit)
    assert.truthy(big < limit, ("2,000 events: %.3f s, 32,000: %.3f s"):format(small, big))
  end)

  describe("through the fake server to client:respond", function()
    before_each(function() T.drain(); fake.reset() end)
    after_each(T.drain)

    local function sse(list)
      local out = {}
      for i, e in ipairs(list) do
        local data = core.encode(e)
        if data then
          local typ = type(e.type) == "string" and e.type:match("^[%w%._]+$") or nil
          out[i] = (typ and ("event: " .. typ .. "\n") or "") .. "data: " .. data .. "\n\n"
        else
          out[i] = ""
        end
      end
      return table.concat(out)
    end

    local KINDS = { parse = true, api = true, network = true, limit = true, refusal = true, cancelled = true }

    it("wait and poll: an answer or nil, err of a known kind; no handler after the terminal event", function()
      local c = T.new { max_retries = 0, timeout = 20 }
      each_seed(120, 1950000, function(seed)
        local r = rng(seed)
        local body = sse(sequence(r, false))
        local async = r.chance(0.5)
        fake.script { sse_raw = body, split = r.pick { "events", "random", "bytes" }, seed = seed % 1000 + 1 }
        local over = false
        local params = {
          on_event = function(e)
            assert(not over, "seed " .. seed .. ": on_event after the terminal event")
            if type(e.type) == "string" and is_terminal[e.type] then over = true end
          end,
          on_delta = function() assert(not over, "seed " .. seed .. ": on_delta after the terminal event") end,
        }
        local ok, text, err
        if async then
          local req = c:respond_async("x", params)
          ok = pcall(function()
            while req.status == "pending" do chatgpt.poll(0.05) end
          end)
          assert(ok, "seed " .. seed .. ": poll raised")
          ok, text, err = pcall(req.wait, req)
        else
          ok, text, err = pcall(c.respond, c, "x", params)
        end
        assert(ok, "seed " .. seed .. ": raised: " .. tostring(text))
        if text == nil then          -- nil, err; or nil, response: an answer without text
          assert(type(err) == "table", "seed " .. seed .. ": nil, " .. type(err))
          assert(err.kind == nil or KINDS[err.kind],
                 "seed " .. seed .. ": err kind " .. tostring(err.kind))
        else
          assert(type(text) == "string", "seed " .. seed .. ": text is " .. type(text))
        end
        fake.reset()
      end)
    end)
  end)
end)

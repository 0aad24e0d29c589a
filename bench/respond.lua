-- What a streamed Responses event costs next to a streamed chat chunk,
-- through the public API (client:respond / client:chat with on_delta),
-- against the fake server on 127.0.0.1 (spec/support/fake_openai.py).
--
--   lua5.4 bench/respond.lua [N] [ROUNDS]      from the repository root
--
-- The streams have the 2026 shapes of the real captures: chat chunks as in
-- chat_stream_include_usage_gpt-5.1_2026-07.sse, Responses events as in
-- responses_stream_gpt-4.1-nano_2026-03.sse, with the four done events that
-- repeat the whole text. Each round runs a stream of N units and one of
-- N/10 for both APIs, alternating; the cost per unit is the difference of
-- their CPU times (os.clock: this process, libcurl included, the server
-- not) over the difference of their sizes, median of the rounds. With
-- valgrind installed it also counts instructions per unit under callgrind
-- (`one` mode below), which no other load on the machine moves.
--
--   lua5.4 bench/respond.lua one chat|respond N   one stream, for callgrind

if not os.getenv("LUA_PATH") then package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path end
if not os.getenv("LUA_CPATH") then
  package.cpath = (os.getenv("CHATGPT_BUILD") or "build") .. "/?.so;" .. package.cpath
end

local chatgpt = require "chatgpt"
local fake = require "spec.support.fake"

local WORD = " word"

local function chat_sse(n)
  local head = '{"id":"chatcmpl-E3sGF577gSw6Gdwhv6IS5eC14yUOO","object":"chat.completion.chunk",'
    .. '"created":1784592271,"model":"gpt-5.1-2025-11-13","service_tier":"default",'
    .. '"system_fingerprint":null,"choices":[{"index":0,"delta":'
  local out = { "data: " .. head .. '{"role":"assistant","content":"","refusal":null},"finish_reason":null}],'
                .. '"usage":null,"obfuscation":"b5n4VhWv"}\n\n' }
  local chunk = "data: " .. head .. '{"content":"' .. WORD .. '"},"finish_reason":null}],"usage":null,'
                .. '"obfuscation":"cPjOdbd9c"}\n\n'
  for i = 1, n do out[i + 1] = chunk end
  out[#out + 1] = "data: " .. head .. '{},"finish_reason":"stop"}],"usage":null,"obfuscation":"x"}\n\n'
  out[#out + 1] = "data: [DONE]\n\n"
  return table.concat(out)
end

local RESPONSE = '{"id":"resp_0e054c0b7ea15b350069cbcbfbc338819898e8a9ab6185e5d3","object":"response",'
  .. '"created_at":1774963707,"status":"%s","background":false,"completed_at":null,"error":null,'
  .. '"frequency_penalty":0.0,"incomplete_details":null,"instructions":null,"max_output_tokens":null,'
  .. '"max_tool_calls":null,"model":"gpt-4.1-nano-2025-04-14","output":[%s],"parallel_tool_calls":true,'
  .. '"presence_penalty":0.0,"previous_response_id":null,"prompt_cache_key":null,'
  .. '"prompt_cache_retention":null,"reasoning":{"effort":null,"summary":null},"safety_identifier":null,'
  .. '"service_tier":"auto","store":true,"temperature":1.0,"text":{"format":{"type":"text"},'
  .. '"verbosity":"medium"},"tool_choice":"auto","tools":[],"top_logprobs":0,"top_p":1.0,'
  .. '"truncation":"disabled","usage":%s,"user":null,"metadata":{}}'
local MSG = "msg_0e054c0b7ea15b350069cbcbfcc8a48198b9c5807cc9ed8de5"

local function event(t, data) return "event: " .. t .. "\ndata: " .. data .. "\n\n" end

local function respond_sse(n)
  local text = WORD:rep(n)
  local part = '{"type":"output_text","annotations":[],"logprobs":[],"text":"' .. text .. '"}'
  local item = '{"id":"' .. MSG .. '","type":"message","status":"completed","content":[' .. part
    .. '],"role":"assistant"}'
  local seq = -1
  local function s() seq = seq + 1 return seq end
  local out = {
    event("response.created", '{"type":"response.created","response":'
      .. RESPONSE:format("in_progress", "", "null") .. ',"sequence_number":' .. s() .. '}'),
    event("response.in_progress", '{"type":"response.in_progress","response":'
      .. RESPONSE:format("in_progress", "", "null") .. ',"sequence_number":' .. s() .. '}'),
    event("response.output_item.added", '{"type":"response.output_item.added","item":{"id":"' .. MSG
      .. '","type":"message","status":"in_progress","content":[],"role":"assistant"},"output_index":0,'
      .. '"sequence_number":' .. s() .. '}'),
    event("response.content_part.added", '{"type":"response.content_part.added","content_index":0,'
      .. '"item_id":"' .. MSG .. '","output_index":0,"part":{"type":"output_text","annotations":[],'
      .. '"logprobs":[],"text":""},"sequence_number":' .. s() .. '}'),
  }
  for _ = 1, n do
    out[#out + 1] = event("response.output_text.delta", '{"type":"response.output_text.delta",'
      .. '"content_index":0,"delta":"' .. WORD .. '","item_id":"' .. MSG .. '","logprobs":[],'
      .. '"obfuscation":"wzXPJv6cD8diYFm","output_index":0,"sequence_number":' .. s() .. '}')
  end
  out[#out + 1] = event("response.output_text.done", '{"type":"response.output_text.done","content_index":0,'
    .. '"item_id":"' .. MSG .. '","logprobs":[],"output_index":0,"sequence_number":' .. s()
    .. ',"text":"' .. text .. '"}')
  out[#out + 1] = event("response.content_part.done", '{"type":"response.content_part.done",'
    .. '"content_index":0,"item_id":"' .. MSG .. '","output_index":0,"part":' .. part
    .. ',"sequence_number":' .. s() .. '}')
  out[#out + 1] = event("response.output_item.done", '{"type":"response.output_item.done","item":' .. item
    .. ',"output_index":0,"sequence_number":' .. s() .. '}')
  out[#out + 1] = event("response.completed", '{"type":"response.completed","response":'
    .. RESPONSE:format("completed", item, '{"input_tokens":14,"output_tokens":' .. n
    .. ',"total_tokens":' .. (n + 14) .. '}') .. ',"sequence_number":' .. s() .. '}')
  return table.concat(out)
end

local client = chatgpt.new { base_url = fake.start(), auth = "none", max_retries = 0 }

local function queue(api, n)
  fake.script { path = api == "chat" and "/chat/completions" or "/responses",
                sse_raw = api == "chat" and chat_sse(n) or respond_sse(n) }
end

-- One call, its stream queued already; CPU seconds.
local function call(api, n)
  local pieces = 0
  local function on_delta() pieces = pieces + 1 end
  local t0 = os.clock()
  local text, err
  if api == "chat" then
    text, err = client:chat("x", { on_delta = on_delta })
  else
    text, err = client:respond("x", { on_delta = on_delta })
  end
  local cpu = os.clock() - t0
  if text ~= WORD:rep(n) or pieces ~= n then
    error(api .. " " .. n .. ": " .. tostring(err or ("got " .. pieces .. " pieces")))
  end
  return cpu
end

local function run(api, n)
  queue(api, n)
  return call(api, n)
end

local function median(list)
  table.sort(list)
  return list[math.ceil(#list / 2)]
end

if arg[1] == "one" then                  -- the stream was queued by the parent
  call(arg[2], tonumber(arg[3]))
  io.write("ok\n")
  os.exit(0)
end

local N = tonumber(arg[1] or "5000")
local ROUNDS = tonumber(arg[2] or "9")
local small = math.floor(N / 10)
local per = { chat = {}, respond = {} }
run("chat", small)                                   -- warm up: connections, modules
run("respond", small)
for _ = 1, ROUNDS do
  for _, api in ipairs { "chat", "respond" } do
    local big = run(api, N)
    local little = run(api, small)
    per[api][#per[api] + 1] = (big - little) / (N - small) * 1e6
  end
end
local c, r = median(per.chat), median(per.respond)
io.write(string.format("ok n=%d rounds=%d chat_us=%.2f respond_us=%.2f ratio=%.2f", N, ROUNDS, c, r, r / c))

-- Instructions per unit: one stream per process under callgrind (the fake
-- server this process started serves it, queued from here, so that making
-- the stream is not counted), big minus small.
local function instructions(api, n)
  queue(api, n)
  local out = os.tmpname()
  local cmd = string.format("FAKE_OPENAI_PORT=%d valgrind --tool=callgrind --callgrind-out-file=%s "
    .. "lua5.4 bench/respond.lua one %s %d >/dev/null 2>&1", fake.port(), out, api, n)
  local ok = os.execute(cmd)
  local f = io.open(out)
  local text = f and f:read("*a") or ""
  if f then f:close() end
  os.remove(out)
  local total = tonumber(text:match("\ntotals: (%d+)") or text:match("\nsummary: (%d+)"))
  if not ok or not total then return nil end
  return total
end
if not os.getenv("BENCH_NO_CALLGRIND") and os.execute("command -v valgrind >/dev/null 2>&1") then
  local ir = {}
  for _, api in ipairs { "chat", "respond" } do
    local big, little = instructions(api, N), instructions(api, small)
    if big and little then ir[api] = (big - little) / (N - small) end
  end
  if ir.chat and ir.respond then
    io.write(string.format(" chat_ir=%.0f respond_ir=%.0f ir_ratio=%.2f", ir.chat, ir.respond,
                           ir.respond / ir.chat))
  end
end
io.write("\n")

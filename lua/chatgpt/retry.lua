-- chatgpt.retry: the retry policy (which failures to try again, how long to
-- wait) and the server's pacing headers (retry-after, x-should-retry,
-- x-ratelimit-*), which info.ratelimit and the errors read.

local type, pairs, tostring, tonumber = type, pairs, tostring, tonumber
local find, match, lower, sub = string.find, string.match, string.lower, string.sub
local floor, min, huge, random = math.floor, math.min, math.huge, math.random
local tointeger = require("chatgpt.compat").tointeger   -- an integral double on 5.1/LuaJIT
local os_time = os.time

local M = {}

-- Headers ------------------------------------------------------------------

-- Header values are strings; tolerate a list for a repeated header.
function M.header(headers, name)
  local v = type(headers) == "table" and headers[name] or nil
  if type(v) == "table" then v = v[#v] end
  if type(v) == "number" then return tostring(v) end
  return type(v) == "string" and v or nil
end

-- s without blanks around it. Linear: "^%s*(.-)%s*$" backtracks over every
-- run of blanks inside s, quadratic on a hostile 100 KB header value.
local function trim(s)
  local i, j = find(s, "%S"), #s
  if not i then return "" end
  while find(s, "^%s", j) do j = j - 1 end
  return sub(s, i, j)
end

local function finite(x)
  return x ~= nil and x == x and x ~= huge and x ~= -huge
end

-- Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
-- days_from_civil): os.time would read the fields as local time.
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local MONTHS = {
  jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6,
  jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12,
}

-- An HTTP date (RFC 1123, RFC 850 or asctime) -> epoch seconds, or nil.
local function http_date(s)
  local d, mon, y, hh, mm, ss =
    match(s, "^%a+, (%d%d?) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if not d then
    d, mon, y, hh, mm, ss =
      match(s, "^%a+, (%d%d?)%-(%a%a%a)%-(%d%d) (%d%d):(%d%d):(%d%d) GMT$")
    if y then
      y = tonumber(y)
      y = y + (y < 70 and 2000 or 1900)
    end
  end
  if not d then
    mon, d, hh, mm, ss, y =
      match(s, "^%a+ (%a%a%a) +(%d%d?) (%d%d):(%d%d):(%d%d) (%d%d%d%d)$")
  end
  if not d then return nil end
  local m = MONTHS[lower(mon)]
  if not m then return nil end
  return days_from_civil(tonumber(y), m, tonumber(d)) * 86400
    + tonumber(hh) * 3600 + tonumber(mm) * 60 + tonumber(ss)
end

--- retry.retry_after(headers [, now]) -> seconds | nil
-- "retry-after-ms" first, else "retry-after" in seconds or as an HTTP date
-- (relative to `now`, default os.time()). Never negative.
function M.retry_after(headers, now)
  local v = M.header(headers, "retry-after-ms")
  local secs = v and tonumber(v)
  if finite(secs) then
    secs = secs / 1000
  else
    secs = nil
    v = M.header(headers, "retry-after")
    if v then
      v = trim(v)
      secs = tonumber(v)
      if not finite(secs) then
        local t = http_date(v)
        secs = t and (t - (now or os_time())) or nil
      end
    end
  end
  if secs == nil then return nil end
  if secs < 0 then secs = 0 end
  return secs
end

-- Retry policy -------------------------------------------------------------

--- retry.retryable(err) -> bool
function M.retryable(err)
  local kind = err.kind
  if kind == "network" then
    -- curl's errors come with the verdict of src/curl_errors.h; a network
    -- failure of ours (a stream cut short) is worth another try
    if err.retryable ~= nil then return err.retryable end
    return true
  elseif kind == "timeout" then
    -- once bytes arrived the server did work (and maybe our callbacks ran)
    return not err.received
  elseif kind == "http" or kind == "api" then
    if err._should_retry ~= nil then return err._should_retry end
    local status = tonumber(err.status)
    if status == nil or status < 400 then
      -- an error inside a 200 body or an SSE error event
      return err.type == "server_error" or err.code == "server_error"
    end
    if status == 429 then
      return err.code ~= "insufficient_quota" and err.type ~= "insufficient_quota"
    end
    return status == 408 or status == 409 or status >= 500
  end
  return false -- parse, limit, cancelled, callback, refusal
end

-- x-should-retry: true | false (any case, blanks around) overrides the
-- status rule; anything else is ignored.
function M.should_retry(headers)
  local v = M.header(headers, "x-should-retry")
  if v == nil then return nil end
  v = lower(trim(v))
  if v == "true" then return true elseif v == "false" then return false end
  return nil
end

--- retry.backoff(n [, r]) -> seconds: exponential with jitter (0.5 s .. 8 s,
-- minus up to 25 %), n = retries so far (0-based), r in [0, 1).
function M.backoff(n, r)
  r = r or random()
  return min(0.5 * 2 ^ (n or 0), 8) * (1 - 0.25 * r)
end

--- retry.retry_delay(err, n [, r]) -> seconds | nil (do not retry)
function M.retry_delay(err, n, r)
  local ok = err.retryable
  if ok == nil then ok = M.retryable(err) end
  if not ok then return nil end
  local ra = err.retry_after
  if type(ra) == "number" then
    if ra > 60 then return nil end -- too long to wait: give the error back now
    if ra > 0 then return ra end   -- 0 falls back to backoff: no hammering
  end
  return M.backoff(n or 0, r)
end

-- Durations and rate limits --------------------------------------------------

local UNITS = {
  ns = 1e-9, us = 1e-6, ["\194\181s"] = 1e-6, ms = 1e-3,
  s = 1, m = 60, h = 3600, d = 86400,
}

--- retry.parse_duration(s) -> seconds | nil
-- Go-style durations as in OpenAI's x-ratelimit-reset-* headers ("20s",
-- "0.65s", "104ms", "1m30s", "1h2m3.5s", "2d"), or a plain number of seconds.
function M.parse_duration(s)
  if type(s) == "number" then return finite(s) and s or nil end
  if type(s) ~= "string" then return nil end
  s = trim(s)
  if s == "" then return nil end
  -- one greedy class per step and tonumber to check the number: patterns
  -- like "%d*%.?%d*" backtrack, quadratic on a long run of digits
  local total
  if find(s, "^[%d%.]+$") then
    total = tonumber(s)
  else
    total = 0
    local pos, len = 1, #s
    while total and pos <= len do
      local num, unit, nxt = match(s, "^([%d%.]*)([%a\194\181]*)()", pos)
      local x, scale = tonumber(num), UNITS[unit]
      total = x and scale and total + x * scale
      pos = nxt
    end
  end
  return finite(total) and total or nil
end

local function count(v)
  local x = v and tonumber(v)
  if not finite(x) then return nil end
  if tointeger then return tointeger(x) or x end
  return x
end

--- retry.ratelimit(headers) -> table | nil (no x-ratelimit-* header)
function M.ratelimit(headers)
  if type(headers) ~= "table" then return nil end
  local any = false
  for k in pairs(headers) do
    if type(k) == "string" and sub(k, 1, 12) == "x-ratelimit-" then
      any = true
      break
    end
  end
  if not any then return nil end
  return {
    limit_requests = count(M.header(headers, "x-ratelimit-limit-requests")),
    remaining_requests = count(M.header(headers, "x-ratelimit-remaining-requests")),
    reset_requests = M.parse_duration(M.header(headers, "x-ratelimit-reset-requests")),
    limit_tokens = count(M.header(headers, "x-ratelimit-limit-tokens")),
    remaining_tokens = count(M.header(headers, "x-ratelimit-remaining-tokens")),
    reset_tokens = M.parse_duration(M.header(headers, "x-ratelimit-reset-tokens")),
  }
end

return M

-- The request handle that chat_async and friends return: one logical call,
-- made of one or more attempts (retries) of a C request on the engine.
-- Blocking calls are request:wait() on it: there is one code path.

local core    = require "chatgpt.core"
local lazy    = require "chatgpt.lazy"
local loop    = require "chatgpt.loop"
local pending = require "chatgpt.pending"
local errors  = lazy "chatgpt.error"
local log     = lazy "chatgpt.log"
local retry   = lazy "chatgpt.retry"
local stream  = lazy "chatgpt.stream"

local next, rawset, setmetatable, tostring, type = next, rawset, setmetatable, tostring, type
local compat  = require "chatgpt.compat"
local xpcall, has_pairs_mm = compat.xpcall, compat.has_pairs_mm
local decode, now, parse_headers = core.decode, core.now, core.headers
local track, untrack, settle = loop.track, loop.untrack, pending.settle

-- The xpcall handler for user callbacks: any error value becomes text
-- (loading chatgpt.error only when a callback fails).
local function traceback(e) return errors.traceback(e) end

local Request = { kind = "request" }
Request.__index = Request

-- A Request dropped while in flight is collected (the loop and the engine
-- hold it and its C transfer weakly), and the C transfer's __gc then stops
-- the transfer. No finalizer on the Request itself: an object with __gc
-- outlives its last reference by a whole GC cycle, with all it refers to
-- (the heap of a loop of chats grew to several times its size), and costs
-- a call more per request.

-- ud: an idle C transfer (core.transfer). job: {
--   stream = "chat" | "completion" | nil, or a constructor
--     function(callbacks) -> accumulator (response_stream.lua, endpoints.lua),
--   callbacks = {on_delta, on_chunk, on_tool_call, ...},
--   finish = function(response) -> results... | nil, err,
--   max_retries = n, clean = function(s) -> s with the client's key redacted,
--   bytes = true: a 2xx answer that is not JSON is the response, as bytes,
--   keep_error_field = true: a 2xx JSON body is the answer even when it has
--     an `error` field (a Responses object's own),
--   pair = true: the results are (r1, info), not (r1, r2, info),
--   done = function(err) run when the call settles (err nil on success),
--   log = emit | nil, bodies = bool (log.lua's setup), method, path,
--   auth, origin, remake: a client whose key changes (auth.lua, call.start):
--     its auth, the origin whose key the transfer carries, and a function
--     that makes the transfer again from the client's origin of the moment }
-- An accumulator has add(chunk) -> go_on [, err] (err: why it stopped, a
-- malformed chunk), text() -> partial, whole(response) -> go_on, finish()
-- -> response; and, for streams that do not end with data: [DONE],
-- complete(done_seen) -> ended, why, and over() -> whether its own end
-- came (no later event is handed to it then); raw = true takes the events
-- undecoded (the pieces of a "bytes" endpoint).
-- Everything from the wire that reaches an error or info passes through
-- job.clean: a server may echo the key anywhere (body, headers, events).
function Request.new(ud, job)
  local self = setmetatable({
    status = "pending",
    _ud = ud,
    _job = job,
    _attempts = 0,
    _t0 = now(),
  }, Request)
  self:_start()
  return self
end

-- An attempt. keyed: the client's key was just fetched for it (auth.lua),
-- whatever its lifetime says now.
function Request:_start(keyed)
  local job, ud = self._job, self._ud
  local auth = job.auth
  if auth then
    if not keyed and not auth:ready(self) then return end   -- on_key, from the loop
    if job.origin ~= auth.origin then                       -- a new key: a new transfer
      ud:close()
      ud = job.remake()
      self._ud, job.origin = ud, auth.origin
    end
  end
  self._attempts = self._attempts + 1
  local s = job.stream
  if s then
    if type(s) == "function" then self._acc = s(job.callbacks)
    else self._acc = stream.new(s, job.callbacks) end
  end
  ud:start()
  track(ud, self)
end

-- info.headers, info.request_id and info.ratelimit are made from the raw
-- header block on first use: most callers read none of them, and parsing
-- the headers costs more than the rest of a call. The key's redaction
-- (job.clean) waits for that first use too. pairs(info) makes them first,
-- so that a dump shows every field.
local raw_headers = setmetatable({}, { __mode = "k" })   -- info -> header block
local cleaners = setmetatable({}, { __mode = "k" })      -- info -> job.clean
local info_mt = {}
info_mt.__index = function(t, k)
  local v
  if k == "headers" then
    v = parse_headers(cleaners[t](raw_headers[t]))
  elseif k == "request_id" then
    v = t.headers["x-request-id"]
  elseif k == "ratelimit" then
    v = retry.ratelimit(t.headers)
  else
    return nil
  end
  rawset(t, k, v)
  return v
end
info_mt.__pairs = function(t)
  local _ = t.headers
  _ = t.request_id
  _ = t.ratelimit
  return next, t, nil
end

local function new_info(self, status, raw, http_version)
  local info = setmetatable({
    status = status,
    http_version = http_version,
    attempts = self._attempts,
    elapsed = now() - self._t0,
  }, info_mt)
  raw_headers[info], cleaners[info] = raw, self._job.clean
  if not has_pairs_mm then info_mt.__pairs(info) end   -- 5.1: pairs sees every field
  return info
end

-- One event for the client's log function (log.lua); only when it has one.
function Request:_log(ev)
  local job = self._job
  ev.method, ev.path = job.method, job.path
  job.log(ev, job.clean)
end

-- The end of the call: results (a packed list) or err.
function Request:_settle(results, err)
  local ud = self._ud
  untrack(ud)
  ud:close()
  if err then
    err.attempts = err.attempts or self._attempts
    if err.retryable == nil then err.retryable = false end
    if self._acc and err.partial == nil then err.partial = self._acc:text() end
    errors.scrub(err, self._job.clean)
  end
  if self._job.log then
    local info = results and results[self._job.pair and 2 or 3]
    self:_log { event = "request", status = info and info.status or err and err.status,
                duration = now() - self._t0, attempts = self._attempts,
                request_id = info and info.request_id or err and err.request_id,
                error = err and log.reason(err) }
  end
  self._acc = nil
  local done = self._job.done
  if done then done(err) end
  settle(self, results, err)
end

-- auth.lua's answer once the key this request waits for was fetched: the
-- attempt goes, or the request fails with err{kind = "auth"}.
function Request:on_key(err)
  if err then return self:_settle(nil, err) end
  self:_start(true)
end

-- Schedules the next attempt on the loop's timer when err allows one: a
-- retryable error, no chunk handed to a callback yet, retries left, and a
-- delay (a retry-after over 60 s gives the error back at once). Returns
-- true when a retry is scheduled. The attempt again after a 401 with a
-- new key is not one of the retries.
function Request:_retry(err)
  local retries = self._attempts - 1 - (self._rekeyed and 1 or 0)
  if not err.retryable or self._delivered or retries >= self._job.max_retries then
    return false
  end
  local delay = retry.retry_delay(err, retries)
  if not delay then return false end
  if self._job.log then
    self:_log { event = "retry", attempt = self._attempts, status = err.status,
                reason = log.reason(err), delay = delay }
  end
  untrack(self._ud)
  self._timer = loop.after(delay, function()     -- holds: poll counts it as running
    self._timer = nil
    if self.status == "pending" then self:_start() end
  end, true)
  return true
end

-- A failure seen while the transfer runs (an error event, a bad chunk, a
-- callback error or stop): the transfer ends at once. Only an error event
-- that comes before any chunk may be retried.
function Request:_fail(err)
  self._ud:cancel()
  if not self:_retry(err) then self:_settle(nil, err) end
  return false
end

local function callback_error(msg)      -- msg: text, made by traceback above
  return errors.new { kind = "callback", code = "CALLBACK_ERROR", message = msg }
end

function Request:_event(data, typ)
  if self._job.bodies then self:_log { event = "response_event", data = data, type = typ } end
  local acc = self._acc
  if acc.raw then return self:_add(data) end
  local chunk, perr = decode(data)
  if typ == "error" or (type(chunk) == "table" and (chunk.error ~= nil or chunk.type == "error")) then
    local status, raw = self._ud:response()
    local clean = self._job.clean
    return self:_fail(errors.from_api(type(chunk) == "table" and chunk or { message = data },
                                      status, parse_headers(clean(raw)), clean))
  end
  if type(chunk) ~= "table" then
    return self:_fail(errors.new {
      kind = "parse", code = "BAD_CHUNK", status = (self._ud:response()),
      message = "stream chunk is not a JSON object: " .. (perr or data:sub(1, 80)) })
  end
  return self:_add(chunk)
end

-- Hands one chunk (or piece of bytes) to the accumulator: from then on the
-- call is never retried.
function Request:_add(chunk)
  self._delivered = true
  return self:_handed(xpcall(self._acc.add, traceback, self._acc, chunk))
end

-- What the accumulator's xpcall gave: go on, or fail on a callback's error,
-- a stop, or the error the accumulator gave (why).
function Request:_handed(ok, go, why)
  if not ok then return self:_fail(callback_error(go)) end
  if go == false then
    return self:_fail(why or errors.new { kind = "cancelled", code = "STOPPED",
                                          message = "stopped by a callback" })
  end
  return true
end

-- Is a 2xx answer JSON? Its content type says so; without one, a body
-- that opens with { or [.
local function is_json(raw, body)
  local ct = raw:match("\n[Cc][Oo][Nn][Tt][Ee][Nn][Tt]%-[Tt][Yy][Pp][Ee]:[ \t]*([^\r\n]*)")
  if ct then return ct:lower():find("json", 1, true) ~= nil end
  return body:find("^%s*[{%[]") ~= nil
end

-- Decodes a whole (non-SSE) 2xx body into the call's results.
function Request:_body(status, raw, body)
  local job = self._job
  if job.bytes and not is_json(raw, body) then return body end
  local response, perr = decode(body)
  if type(response) ~= "table" then
    local excerpt = body:sub(1, 60):gsub("%s+", " ")
    return nil, errors.new {
      kind = "parse", code = "BAD_JSON", status = status,
      message = "the response is not a JSON object: " .. (perr or excerpt) }
  end
  if response.error ~= nil and not job.keep_error_field then
    local clean = self._job.clean
    return nil, errors.from_api(response, status, parse_headers(clean(raw)), clean)
  end
  local acc = self._acc
  if acc then                        -- a stream request answered with plain JSON
    local ok, e = xpcall(acc.whole, traceback, acc, response)
    if not ok then return nil, callback_error(e) end
  end
  return response
end

-- A plain text event, read by the transfer's fast path (ud:delta) into
-- the values acc:delta takes: from then on, as in _add, no retry.
function Request:_delta(...)
  if not ... then return false end   -- nothing queued, or not such an event
  self._delivered = true
  local acc = self._acc
  return self:_handed(xpcall(acc.delta, traceback, acc, ...))
end

-- Called by the loop when the C transfer has news; with an error, when the
-- loop can no longer drive it (a host callback raised).
function Request:on_news(fail)
  if fail then return self:_fail(fail) end
  local ud = self._ud
  local acc = self._acc
  if acc then
    local own_end = acc.over       -- a stream that ends with an event of its own
    -- the common text events take the fast path, unless the log wants
    -- every event's data
    local fast = not self._job.bodies and acc.fast
    while self.status == "pending" do
      -- after its end nothing counts, an error event included
      local over = own_end and acc:over()
      if not (fast and not over and self:_delta(ud:delta(fast))) then
        if self.status ~= "pending" then return end
        local data, typ = ud:event()
        if data == nil then break end
        if not over and not self:_event(data, typ) then return end
      end
    end
  end
  if self.status ~= "pending" or ud:state() ~= "done" then return end

  local status, raw, body, http_version, terr = ud:response()
  local err, response
  if self._job.bodies and body then
    self:_log { event = "response_body", status = status, body = body }
  end
  local events = body == nil and acc and not acc.raw      -- read as SSE
  if terr and not (events and (ud:stream_done() or (acc.over and acc:over()))) then
    -- (once a stream has had its end, a later failure does not matter)
    err = errors.from_transport(terr)
    if status ~= 0 then err.status = status end
    if events and err.code == "PARTIAL_FILE" then   -- cut inside its framing
      err.code = "STREAM_TRUNCATED"
      err.message = "the stream was cut before its end (" .. tostring(err.message) .. ")"
    end
  elseif status < 200 or status > 299 then
    local clean = self._job.clean
    err = errors.from_http(status, parse_headers(clean(raw)), body or "", clean)
  elseif body == nil then            -- read as SSE (or handed on as bytes)
    local ended, why
    if acc.complete then
      ended, why = acc:complete(ud:stream_done())
    else
      ended, why = ud:stream_done(), "the stream ended before data: [DONE]"
    end
    if not ended then
      err = errors.new { kind = "network", code = "STREAM_TRUNCATED", status = status,
                         message = why }
    else
      local ok, r = xpcall(acc.finish, traceback, acc)
      if ok then response = r else err = callback_error(r) end
    end
  else
    response, err = self:_body(status, raw, body)
  end
  if err then
    err.request_id = err.request_id or parse_headers(raw)["x-request-id"]   -- scrubbed at _settle
    local auth = self._job.auth
    if status == 401 and auth and not self._rekeyed then
      -- the key was refused: once, with a new one (a second 401 is the answer)
      self._rekeyed = true
      if self._job.log then
        self:_log { event = "retry", attempt = self._attempts, status = status,
                    reason = log.reason(err) .. " (a new key)", delay = 0 }
      end
      auth:refused(self._job.origin)
      untrack(ud)
      return self:_start()
    end
    if err.kind == "timeout" and self._job.log then
      self:_log { event = "timeout", attempt = self._attempts, code = err.code,
                  duration = now() - self._t0 }
    end
    if self:_retry(err) then return end
    return self:_settle(nil, err)
  end
  local info = new_info(self, status, raw, http_version)
  local r1, r2 = self._job.finish(response)
  if r1 == nil and errors.is(r2) then
    r2.request_id = r2.request_id or info.request_id
    r2.status = r2.status or status
    return self:_settle(nil, r2)
  end
  self:_settle(self._job.pair and { r1, info, n = 2 } or { r1, r2, info })
end

-- ---- the public methods: status, done, result, wait (pending.lua) -------

-- Idempotent; also __close. (A request dropped in flight is stopped by
-- its C transfer's __gc: see the top of this file.)
function Request:cancel()
  if self.status ~= "pending" then return end
  if self._timer then
    self._timer:cancel()
    self._timer = nil
  end
  self._ud:cancel()
  self:_settle(nil, errors.new { kind = "cancelled", code = "CANCELLED",
                                 message = "request cancelled" })
end

pending.into(Request)

return Request

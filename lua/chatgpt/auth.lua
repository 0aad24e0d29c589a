-- chatgpt.auth: keys that change. A client whose api_key is a function (a
-- token provider: Azure AD / Entra tokens, a gateway's short-lived keys) or
-- whose key comes from api_key_cmd gets one of these: it says when the key
-- must be fetched again (before the first request of a provider, when the
-- lifetime it gave has passed, after a 401), fetches it once for every
-- request that waits, and hands the requests on.
--
-- The key itself stays in C (key.c) and bound to the client's origin
-- (origin.c): a new key makes a new origin of the same URL, scheme and auth,
-- taken from the old origin (never from the client's fields, which a
-- caller may change), and the client's prepared endpoints, which carry the
-- old key in their headers, are made again (client.set_origin).
--
-- A provider is Lua, so it runs where Lua runs: from the engine's turn (a
-- loop timer, in chatgpt.poll, a wait or a host's drive), under xpcall. It
-- holds up that turn (a game's frame, an editor's loop) for as long as it
-- runs, and may not wait on this module (poll and wait raise inside a
-- turn). A provider that raises, or gives no key, fails the requests that
-- wait on it with err{kind = "auth"}; the next request asks again.
--
-- Its interface, for client.lua and request.lua:
--   auth.new(client, fetch, lifetime, keyed, mode) -> auth
--   a:ready(req) -> true when the key may be used now; else false, and
--                   req:on_key(err) runs from the loop once it is fetched
--                   (err nil), or could not be (err{kind = "auth"})
--   a:refused(origin) a request sent with origin's key got a 401: fetch
--                   again, unless that key was replaced since
--   a.origin        the origin holding the current key
--   a:redact(s)     s with the current and the previous key hidden

local core   = require "chatgpt.core"
local loop   = require "chatgpt.loop"
local compat = require "chatgpt.compat"
local errors = require "chatgpt.lazy" "chatgpt.error"

local setmetatable, tostring, type = setmetatable, tostring, type
local xpcall = compat.xpcall
local huge = math.huge
local now = core.now

local M = {}

local Auth = {}
Auth.__index = Auth

local function traceback(e) return errors.traceback(e) end

-- A lifetime in seconds: nil (none), or a finite number > 0.
local function bad_lifetime(t)
  return t ~= nil and not (type(t) == "number" and t > 0 and t < huge)
end
M.bad_lifetime = bad_lifetime

-- fetch for api_key = function(client) return key [, expires_in] end:
-- -> key userdata, lifetime | nil, why. Never raises.
function M.provider(fn)
  return function(client)
    local ok, s, lifetime = xpcall(fn, traceback, client)
    if not ok then return nil, "the api_key function raised: " .. tostring(s) end
    if type(s) ~= "string" then
      return nil, "the api_key function returned " .. type(s) .. ", not a key"
    end
    local key, why = core.key(s)
    if not key then return nil, "the api_key function's key: " .. why end
    if bad_lifetime(lifetime) then
      return nil, "the api_key function's lifetime: a number of seconds > 0 expected, got "
                  .. (type(lifetime) == "number" and tostring(lifetime) or type(lifetime))
    end
    return key, lifetime
  end
end

-- fetch for api_key_cmd, run again: -> key userdata | nil, why.
function M.command(argv, timeout)
  return function()
    local ok, key, why = xpcall(core.key_cmd, traceback, argv, timeout)
    if not ok then return nil, "api_key_cmd: " .. tostring(key) end
    return key, why
  end
end

-- auth.new(client, fetch, lifetime, keyed, mode): fetch(client) -> key,
-- lifetime | nil, why. keyed: the client's origin holds the first key,
-- else the first request fetches one. lifetime: of the first key (nil:
-- forever), and of every key whose fetch gives none. mode: the client's
-- auth option ("bearer", "api-key"), as new() checked it.
function M.new(client, fetch, lifetime, keyed, mode)
  return setmetatable({
    client = client, fetch = fetch, lifetime = lifetime, mode = mode,
    origin = client._origin, previous = nil,
    expires = keyed and (lifetime and now() + lifetime or huge) or -huge,
    waiting = {}, timer = nil,
  }, Auth)
end

function Auth:ready(req)
  if now() < self.expires then return true end
  if self.fetching then      -- the provider asks its own client: it would wait for itself
    req:on_key(errors.new { kind = "auth", code = "NO_KEY", retryable = false,
                            message = "a request of this client made by its own api_key function" })
    return false
  end
  local waiting = self.waiting
  waiting[#waiting + 1] = req
  if not self.timer then
    -- holds: poll counts the refresh as work in flight
    self.timer = loop.after(0, function() self:_refresh() end, true)
  end
  return false
end

function Auth:refused(origin)
  if origin == self.origin then self.expires = -huge end
end

function Auth:redact(s)
  s = self.origin:redact(s)
  local p = self.previous
  if p then s = p:redact(s) end
  return s
end

-- From the loop: one fetch for every request waiting.
function Auth:_refresh()
  self.timer = nil
  local waiting = self.waiting
  self.waiting = {}
  self.fetching = true
  local key, lifetime = self.fetch(self.client)
  self.fetching = false
  local err
  if key then
    local o = self.origin
    local origin, why = core.origin { url = o:url(), key = key, auth = self.mode,
                                      allow_insecure = true }   -- new() judged this URL, key_later
    if origin then
      self.previous, self.origin = o, origin
      lifetime = lifetime or self.lifetime
      self.expires = lifetime and now() + lifetime or huge
      require("chatgpt.client").set_origin(self.client, origin)
    else
      err = why
    end
  else
    err = lifetime
  end
  for i = 1, #waiting do
    local req = waiting[i]
    if req.status == "pending" then
      req:on_key(err and errors.new { kind = "auth", code = "NO_KEY", message = err,
                                      retryable = false })
    end
  end
end

return M

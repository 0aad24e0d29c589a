-- HTTPS with HTTP/2: requests in flight together share one multiplexed
-- connection; TLS verification stays on (a private CA through ca_file).
local chatgpt = require "chatgpt"
local tls = require "spec.support.tls"

describe("https and HTTP/2", function()
  local base, ca = tls.start()
  teardown(tls.stop)
  local function case(name, fn)
    if base then it(name, fn) else pending(name .. " (" .. tostring(ca) .. ")") end
  end

  case("answers over HTTP/2 when the server offers it", function()
    local c = chatgpt.new { base_url = base, ca_file = ca, api_key = "sk-test-h2-0000000000" }
    local text, _, info = c:chat("x")
    assert.equal("over h2", text)
    assert.equal("2", info.http_version)
  end)

  case("multiplexes requests in flight together over one connection", function()
    local c = chatgpt.new { base_url = base, ca_file = ca, api_key = "sk-test-h2-0000000000" }
    local reqs = {}
    for i = 1, 10 do reqs[i] = c:chat_async("x" .. i) end
    local conns = {}
    for i = 1, 10 do
      local text, _, info = reqs[i]:wait()
      assert.equal("over h2", text)
      conns[info.headers["x-conn"]] = true
    end
    local n = 0
    for _ in pairs(conns) do n = n + 1 end
    assert.equal(1, n)
  end)

  case("refuses a server whose certificate it cannot verify", function()
    local c = chatgpt.new { base_url = base, api_key = "sk-test-h2-0000000000", max_retries = 0 }
    local text, err = c:chat("x")
    assert.is_nil(text)
    assert.equal("network", err.kind)
    assert.equal("PEER_FAILED_VERIFICATION", err.code)
    assert.is_false(err.retryable)
  end)
end)

-- nginx on 127.0.0.1 over TLS with HTTP/2, behind a throwaway CA, for the
-- specs that need a real https server (spec/http2_spec.lua).
--   local tls = require "spec.support.tls"
--   local base, ca = tls.start()   -- nil, why when nginx or openssl is missing
--   tls.stop()
local M = {}

local dir, port

local function sh(cmd)
  local r = os.execute(cmd .. " >/dev/null 2>&1")
  return r == true or r == 0      -- 5.2+ say true; 5.1 and LuaJIT the status, 0
end

local function free_port()
  local socket = require "socket"
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, p = s:getsockname()
  s:close()
  return tonumber(p)
end

local BODY = '{"id":"chatcmpl-h2","object":"chat.completion","created":1,"model":"m",'
  .. '"choices":[{"index":0,"message":{"role":"assistant","content":"over h2"},"finish_reason":"stop"}]}'

local CONF = [[
worker_processes 1;
daemon on;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %s/body;
  server {
    listen 127.0.0.1:%d ssl http2;
    ssl_certificate %s/cert.pem;
    ssl_certificate_key %s/key.pem;
    location = /v1/chat/completions {
      default_type application/json;
      add_header X-Conn $connection;
      return 200 '%s';
    }
  }
}
]]

function M.start()
  if dir then return ("https://localhost:%d/v1"):format(port), dir .. "/cert.pem" end
  local p = io.popen("command -v nginx || ls /usr/sbin/nginx 2>/dev/null")
  local nginx = p:read("*l")
  p:close()
  if not nginx or nginx == "" then return nil, "nginx is not installed" end
  if not sh("command -v openssl") then return nil, "openssl is not installed" end
  dir = os.tmpname()
  os.remove(dir)
  assert(sh("mkdir -p " .. dir))
  -- one self-signed certificate that is its own CA, for localhost only
  if not sh(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      .. "-addext subjectAltName=DNS:localhost -keyout %s/key.pem -out %s/cert.pem"):format(dir, dir)) then
    return nil, "openssl could not make a certificate"
  end
  port = free_port()
  local f = assert(io.open(dir .. "/nginx.conf", "w"))
  f:write(CONF:format(dir, dir, dir, port, dir, dir, BODY))
  f:close()
  if not sh(("%s -p %s -c %s/nginx.conf"):format(nginx, dir, dir)) then
    local log = io.open(dir .. "/error.log")
    return nil, "nginx did not start: " .. (log and log:read("*a") or "?")
  end
  M.nginx = nginx
  return ("https://localhost:%d/v1"):format(port), dir .. "/cert.pem"
end

function M.stop()
  if not dir then return end
  sh(("%s -p %s -c %s/nginx.conf -s stop"):format(M.nginx, dir, dir))
  sh("rm -rf " .. dir)
  dir = nil
end

return M

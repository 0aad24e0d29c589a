-- A throwaway CA with a server certificate (localhost, 127.0.0.1 and
-- 203.0.113.5) and a client certificate, and nginx configurations that
-- use them: for the specs of client certificates (mutual TLS) and of
-- https through a proxy (spec/network_spec.lua).
--
--   local pki = require "spec.support.pki"
--   local dir, why = pki.make()      -- nil, why without openssl or nginx
--   local base = pki.nginx { listen = "127.0.0.1:PORT", verify_client = true }
--   pki.stop()
-- Files in dir: ca.pem, server.pem/.key, client.pem/.key.
local M = {}

local dir, running = nil, {}

local function sh(cmd)
  local r = os.execute(cmd .. " >/dev/null 2>&1")
  return r == true or r == 0      -- 5.2+ say true; 5.1 and LuaJIT the status, 0
end

local function write(path, s)
  local f = assert(io.open(path, "w"))
  f:write(s)
  f:close()
end

function M.nginx_path()
  local p = io.popen("command -v nginx || ls /usr/sbin/nginx 2>/dev/null")
  local nginx = p:read("*l")
  p:close()
  if nginx and nginx ~= "" then return nginx end
end

-- pki.make() -> dir | nil, why
function M.make()
  if dir then return dir end
  if not M.nginx_path() then return nil, "nginx is not installed" end
  if not sh("command -v openssl") then return nil, "openssl is not installed" end
  local d = os.tmpname()
  os.remove(d)
  assert(sh("mkdir -p " .. d))
  write(d .. "/server.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:203.0.113.5\n")
  write(d .. "/client.ext", "extendedKeyUsage=clientAuth\n")
  local steps = {
    "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=lua-chatgpt-test-ca "
      .. "-keyout %s/ca.key -out %s/ca.pem",
    "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout %s/server.key -out %s/server.csr",
    "openssl x509 -req -in %s/server.csr -CA %s/ca.pem -CAkey %s/ca.key -CAcreateserial -days 1 "
      .. "-extfile %s/server.ext -out %s/server.pem",
    "openssl req -newkey rsa:2048 -nodes -subj /CN=lua-chatgpt-client -keyout %s/client.key "
      .. "-out %s/client.csr",
    "openssl x509 -req -in %s/client.csr -CA %s/ca.pem -CAkey %s/ca.key -CAcreateserial -days 1 "
      .. "-extfile %s/client.ext -out %s/client.pem",
  }
  for _, step in ipairs(steps) do
    local cmd = step:gsub("%%s", d)
    if not sh(cmd) then return nil, "openssl failed: " .. cmd end
  end
  dir = d
  return dir
end

local BODY = '{"id":"chatcmpl-tls","object":"chat.completion","created":1,"model":"m",'
  .. '"choices":[{"index":0,"message":{"role":"assistant","content":"over tls"},"finish_reason":"stop"}]}'

local CONF = [[
worker_processes 1;
daemon %s;
pid %s/nginx-%s.pid;
error_log %s/error-%s.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %s/body;
  server {
    listen %s ssl;
    ssl_certificate %s/server.pem;
    ssl_certificate_key %s/server.key;
    %s
    location = /v1/chat/completions {
      default_type application/json;
      add_header X-Client-Subject $ssl_client_s_dn;
      return 200 '%s';
    }
  }
}
]]

-- pki.conf{listen = "ADDR:PORT", verify_client = bool, daemon = bool} -> path
-- of an nginx.conf for the server certificate (and client verification).
function M.conf(o)
  local name = o.listen:gsub("[^%w]", "_")
  local verify = o.verify_client
    and ("ssl_client_certificate " .. dir .. "/ca.pem; ssl_verify_client on;") or ""
  local path = dir .. "/nginx-" .. name .. ".conf"
  write(path, CONF:format(o.daemon == false and "off" or "on", dir, name, dir, name, dir,
                          o.listen, dir, dir, verify, BODY))
  return path
end

-- pki.nginx{listen, verify_client} starts nginx -> true | nil, why. Not as
-- a daemon: a child of this process, which reaps it in pki.stop.
function M.nginx(o)
  o.daemon = false
  local conf = M.conf(o)
  local nginx = M.nginx_path()
  local proc = io.popen(("exec %s -p %s -c %s 2>/dev/null"):format(nginx, dir, conf), "r")
  local host, port = o.listen:match("^(.*):(%d+)$")
  local socket = require "socket"
  for _ = 1, 100 do
    local c = socket.connect(host, tonumber(port))
    if c then
      c:close()
      running[#running + 1] = { conf = conf, proc = proc }
      return true
    end
    socket.sleep(0.05)
  end
  proc:close()
  local f = io.open(dir .. "/error-" .. o.listen:gsub("[^%w]", "_") .. ".log")
  return nil, "nginx did not start: " .. (f and f:read("*a") or "?")
end

function M.stop()
  local nginx = M.nginx_path()
  for _, r in ipairs(running) do
    sh(("%s -p %s -c %s -s stop"):format(nginx, dir, r.conf))
    r.proc:close()
  end
  running = {}
end

function M.cleanup()
  M.stop()
  if dir then sh("rm -rf " .. dir) end
  dir = nil
end

return M

-- Where the examples send their requests: the real API when OPENAI_API_KEY
-- is set, else the fake OpenAI server bundled for the tests (started here,
-- stopped when this process exits). Says which on stderr.
--
--   local base_url = require("examples.server").base_url()
--   local client = chatgpt.new { base_url = base_url }   -- nil: the real API

local M = {}

local proc                       -- the server's stdin pipe: it exits at EOF

local function sleep(s)
  local ok, socket = pcall(require, "socket")
  if ok then socket.sleep(s) else os.execute("sleep " .. s) end
end

-- Starts the bundled server; returns its base URL.
function M.start()
  local portfile = os.tmpname()
  local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "examples"
  local script = here .. "/../spec/support/fake_openai.py"
  proc = assert(io.popen("exec python3 '" .. script .. "' --exit-on-stdin-eof --port-file '"
                         .. portfile .. "' >/dev/null", "w"))
  for _ = 1, 100 do
    local f = io.open(portfile)
    local port = f and tonumber(f:read("a"))
    if f then f:close() end
    if port then
      os.remove(portfile)
      return "http://127.0.0.1:" .. port .. "/v1"
    end
    sleep(0.05)
  end
  error("the bundled server did not start (is python3 installed?)")
end

function M.base_url()
  local key = os.getenv("OPENAI_API_KEY")
  if key and key ~= "" then
    io.stderr:write("[using the OpenAI API: OPENAI_API_KEY is set]\n")
    return os.getenv("OPENAI_BASE_URL")
  end
  local url = M.start()
  io.stderr:write("[no OPENAI_API_KEY: using the bundled local server at " .. url .. "]\n")
  return url
end

return M

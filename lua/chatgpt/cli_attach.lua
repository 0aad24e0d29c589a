-- chatgpt.cli_attach: -a FILE, -a URL and -a - (standard input), made into
-- content parts by the module's own helpers (chatgpt.file_part,
-- parts.of_bytes), with what the chosen API does not take refused first.

local chatgpt = require "chatgpt"
local core    = require "chatgpt.core"
local parts   = require "chatgpt.parts"
local words   = require "chatgpt.cli_words"

local io, ipairs, tostring = io, ipairs, tostring

local M = {}

-- attach.parts(run) -> list of parts | nil, exit status (said)
function M.parts(run)
  local o, list = run.o, {}
  for _, a in ipairs(o.attach) do
    local part, why
    if a == "-" then
      local data, err = io.stdin:read("*a")
      if core.interrupted() then return nil, run:interrupted() end
      if not data then return nil, run:fail("-a -: cannot read standard input: " .. tostring(err)) end
      part, why = parts.of_bytes(data, "standard input")
    else
      part, why = chatgpt.file_part(a)
    end
    if not part then return nil, run:fail((a == "-" and "-a -: " or "-a ") .. why) end
    if part.type == "file" and part.file.file_url and not o.responses then
      return nil, run:fail("-a " .. a .. ": Chat Completions takes no file by URL; use --responses, "
                           .. "or download it and give the file", words.EXIT.usage)
    end
    list[#list + 1] = part
  end
  return list
end

return M

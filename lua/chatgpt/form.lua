-- chatgpt.form and chatgpt.file: multipart bodies for client:request and
-- the upload helpers.
--
--   client:request("POST", "/audio/transcriptions", chatgpt.form {
--     model = "whisper-1", file = chatgpt.file("talk.mp3"),
--   })
--
-- A form is only a description: the parts are built in C (src/form.c) for
-- each request, with libcurl's MIME API, which reads a file from disk as
-- it sends it (never into Lua) and sends the whole body again on a retry.
-- Field values: strings as they are; numbers and booleans as text; a list
-- becomes one `name[]` part per element and a table `name[key]` parts, as
-- the official SDKs send them (timestamp_granularities[], chunking_strategy
-- [type]). Plain fields go first, then files, each sorted by name.

local args = require "chatgpt.args"
local form_file = require("chatgpt.core").form_file

local floor, huge = math.floor, math.huge
local getmetatable, ipairs, next, pairs, setmetatable, string, table, tostring, type =
      getmetatable, ipairs, next, pairs, setmetatable, string, table, tostring, type

local M = {}

local Form = { __name = "chatgpt.form" }
Form.__index = Form
local File = { __name = "chatgpt.file" }
File.__index = File

-- Content types by file extension: the API reads the format from the file
-- name, but a type keeps proxies and other servers honest.
local TYPES = {
  mp3 = "audio/mpeg", mpga = "audio/mpeg", mpeg = "audio/mpeg", mp4 = "audio/mp4",
  m4a = "audio/mp4", wav = "audio/wav", webm = "audio/webm", ogg = "audio/ogg",
  oga = "audio/ogg", flac = "audio/flac", opus = "audio/opus", aac = "audio/aac",
  png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg", gif = "image/gif",
  webp = "image/webp", pdf = "application/pdf", json = "application/json",
  jsonl = "application/jsonl", txt = "text/plain", md = "text/markdown",
  csv = "text/csv", html = "text/html",
}

local function nonul(level, n, fname, what, v)
  if type(v) ~= "string" or v:find("\0", 1, true) then
    args.error(level + 1, n, fname, what .. ": a string without NUL bytes expected, got " .. type(v))
  end
end

-- What goes into a part's header lines (its name, file name and type) is
-- checked as a request header's value is: CR or LF there would start
-- header lines, or body lines, of their own.
local function header_value(level, n, fname, what, v)
  nonul(level + 1, n, fname, what, v)
  if v:find("[\r\n]") then
    args.error(level + 1, n, fname, what .. ": a string without CR or LF expected, got " .. ("%q"):format(v))
  end
end

--- chatgpt.file(path [, mime [, filename]]) -> a file part for chatgpt.form
-- mime: the part's content type (default: from the extension);
-- filename: the name sent (default: path's last component).
function M.file(path, mime, filename)
  nonul(2, 1, "file", "path", path)
  if mime ~= nil then header_value(2, 2, "file", "mime", mime) end
  if filename ~= nil then
    header_value(2, 3, "file", "filename", filename)
  elseif path:match("[^/]*$"):find("[\r\n]") then
    args.error(2, 1, "file", "path: its last part is the file name sent, and has CR or LF; give a filename")
  end
  if mime == nil then
    local ext = path:match("%.([%w]+)$")
    mime = ext and TYPES[ext:lower()] or "application/octet-stream"
  end
  return setmetatable({ path = path, type = mime, filename = filename }, File)
end

function M.is_file(v) return getmetatable(v) == File end
function M.is_form(v) return getmetatable(v) == Form end

local function field_text(v)
  if type(v) == "string" then return v end
  if type(v) == "boolean" then return tostring(v) end
  if type(v) == "number" then
    if v == floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then return string.format("%d", v) end
    if v ~= v or v == huge or v == -huge then return nil end
    return string.format("%.17g", v)
  end
end

--- form.flatten(name, v [, out]) -> {{name, value}, ...}: the leaves of a
-- field (or query parameter) as the SDKs name them: a list's elements
-- name[], a table's fields name[key] (sorted by key), an empty table none;
-- a chatgpt.file is a leaf.
function M.flatten(name, v, out)
  out = out or {}
  if type(v) ~= "table" or M.is_file(v) then
    out[#out + 1] = { name, v }
  elseif v[1] ~= nil or next(v) == nil then
    for _, x in ipairs(v) do M.flatten(name .. "[]", x, out) end
  else
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do M.flatten(name .. "[" .. tostring(k) .. "]", v[k], out) end
  end
  return out
end

local function check_name(level, n, fname, name)
  if name:find("[%z\r\n\"]") then
    args.error(level + 1, n, fname, "field names are strings without NUL, CR, LF or '\"', got "
               .. string.format("%q", name))
  end
end

-- Appends the parts of one field to plain / files; raises at level as
-- argument n of fname.
local function add_field(level, n, fname, name, v, plain, files)
  for _, leaf in ipairs(M.flatten(name, v)) do
    local lname, x = leaf[1], leaf[2]
    check_name(level + 1, n, fname, lname)         -- a table's keys are in it: name[key]
    if M.is_file(x) then
      files[#files + 1] = { name = lname, file = x.path, type = x.type, filename = x.filename }
    else
      local text = field_text(x)
      if text ~= nil then
        plain[#plain + 1] = { name = lname, data = text }
      elseif type(x) ~= "userdata" then              -- chatgpt.null: no part
        args.error(level + 1, n, fname, "field '" .. lname .. "': a string, number, boolean, list, "
                   .. "table or chatgpt.file expected, got " .. (type(x) == "number" and tostring(x) or type(x)))
      end
    end
  end
end

local function by_name(a, b) return a.name < b.name end

--- form.build(fields, level, fname, n) -> form: chatgpt.form for the
-- helpers, raising at `level` as argument n of fname.
function M.build(fields, level, fname, n)
  if type(fields) ~= "table" then args.error(level + 1, n, fname, "table expected, got " .. type(fields)) end
  local plain, files = {}, {}
  local names = {}
  for k in pairs(fields) do
    if type(k) ~= "string" or k == "" then
      args.error(level + 1, n, fname, "field names are strings without NUL, CR, LF or '\"', got "
                 .. (type(k) == "string" and string.format("%q", k) or type(k)))
    end
    names[#names + 1] = k
  end
  table.sort(names)
  for _, k in ipairs(names) do add_field(level + 1, n, fname, k, fields[k], plain, files) end
  table.sort(plain, by_name)
  table.sort(files, by_name)
  for _, f in ipairs(files) do plain[#plain + 1] = f end
  return setmetatable({ parts = plain }, Form)
end

--- chatgpt.form(fields) -> a multipart body for client:request
-- Checked at once (a wrong value raises here); the parts are made per request.
function M.form(fields)
  local f = M.build(fields, 2, "form", 1)
  return f
end

--- form.parts(form) -> the list core.transfer takes
function M.parts(form) return form.parts end

--- form.unreadable(form) -> nil, or the first file that cannot be sent and
-- why: checked before a request goes out, so a wrong path costs no upload.
-- Only a regular file is sent; a FIFO, a device or a directory is refused,
-- without blocking (core.form_file).
function M.unreadable(form)
  for _, p in ipairs(form.parts) do
    if p.file then
      local size, why = form_file(p.file)
      if not size then return p.file, why end
    end
  end
end

--- form.field(form, name) -> the text of a plain field, or nil
function M.field(form, name)
  for _, p in ipairs(form.parts) do
    if p.name == name and p.data then return p.data end
  end
end

return M

-- chatgpt.parts: content parts for images and files (chatgpt.image,
-- chatgpt.file_part), and their spelling for the Responses API.
--
-- A part is made in Chat Completions' spelling ({type = "image_url",
-- image_url = {url, detail}}, {type = "file", file = {filename,
-- file_data}}, {type = "text", text}); client:respond and Responses
-- conversations send every such part in the Responses spelling
-- (input_image, input_file, input_text), so that one part works in both.
-- The type of a file is told by its first bytes, not by its name.

local core   = require "chatgpt.core"
local args   = require "chatgpt.args"
local compat = require "chatgpt.compat"

local io, ipairs, pairs, string, type = io, ipairs, pairs, string, type
local format, sub, find = string.format, string.sub, string.find

local M = {}

local MiB = 1024 * 1024
-- What one part may hold (the API's own limits, as OpenAI documents them,
-- are 50 MB of images and 32 MB of files a request).
M.MAX = { image = 20 * MiB, pdf = 32 * MiB, text = 1 * MiB }

local DETAIL = { auto = true, low = true, high = true }

-- The MIME type of an image or a PDF by its first bytes, or nil.
local function sniff(b)
  if sub(b, 1, 8) == "\137PNG\r\n\26\n" then return "image/png" end
  if sub(b, 1, 3) == "\255\216\255" then return "image/jpeg" end
  if sub(b, 1, 6) == "GIF87a" or sub(b, 1, 6) == "GIF89a" then return "image/gif" end
  if sub(b, 1, 4) == "RIFF" and sub(b, 9, 12) == "WEBP" then return "image/webp" end
  if sub(b, 1, 5) == "%PDF-" then return "application/pdf" end
end

local function size(n)
  if n >= MiB then return format("%.1f MiB", n / MiB) end
  return format("%d bytes", n)
end

local function basename(path) return path:match("([^/]+)$") or path end

-- Reads a regular file (a FIFO or a device would block or never end).
local function slurp(path, max)
  local st, why = core.stat(path)
  if not st then return nil, path .. ": " .. why end
  if st.type ~= "file" then return nil, path .. ": not a regular file (a " .. st.type .. ")" end
  if st.size > max then
    return nil, format("%s: %s, over the %s this kind of file may have", path, size(st.size), size(max))
  end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local data = f:read(max + 1)
  f:close()
  return data or ""
end

local function image_part(url, detail)
  return { type = "image_url", image_url = { url = url, detail = detail } }
end

-- parts.of_bytes(bytes, name [, detail]) -> part | nil, why: the part for
-- a file's content (an image, a PDF, or UTF-8 text), name naming it.
function M.of_bytes(data, name, detail)
  local mime = sniff(data)
  if mime then
    local kind = mime == "application/pdf" and "pdf" or "image"
    if #data > M.MAX[kind] then
      return nil, format("%s: %s, over the %s a%s may have", name, size(#data), size(M.MAX[kind]),
                         kind == "pdf" and " PDF" or "n image")
    end
    local url = "data:" .. mime .. ";base64," .. core.base64(data)
    if kind == "image" then return image_part(url, detail) end
    return { type = "file", file = { filename = basename(name), file_data = url } }
  end
  if find(data, "\0", 1, true) or not compat.utf8_len(data) then
    return nil, name .. ": the API takes images (png, jpeg, webp, gif), PDF and UTF-8 text, "
                .. "and this is none of them"
  end
  if #data > M.MAX.text then
    return nil, format("%s: %s, over the %s a text file may have", name, size(#data), size(M.MAX.text))
  end
  return { type = "text", text = "File " .. basename(name) .. ":\n\n" .. data }
end

local function url_of(s)
  return type(s) == "string" and (s:match("^[Hh][Tt][Tt][Pp][Ss]?://") or s:match("^data:")) and s
end

local function check_detail(fname, opts)
  if opts == nil then return nil end
  args.options(3, 2, fname, opts, { detail = "string" })
  if opts.detail ~= nil and not DETAIL[opts.detail] then
    args.error(3, 2, fname, "detail must be \"auto\", \"low\" or \"high\"")
  end
  return opts.detail
end

-- chatgpt.image(path_or_url [, {detail = "auto" | "low" | "high"}])
-- -> part | nil, why
function M.image(src, opts)
  if type(src) ~= "string" then args.error(2, 1, "image", "string expected, got " .. type(src)) end
  local detail = check_detail("image", opts)
  if url_of(src) then return image_part(src, detail) end
  local data, why = slurp(src, M.MAX.image)
  if not data then return nil, why end
  local mime = sniff(data)
  if not mime or mime == "application/pdf" then
    return nil, src .. ": not an image the API takes (png, jpeg, webp or gif)"
  end
  return M.of_bytes(data, src, detail)
end

-- chatgpt.file_part(path_or_url [, {detail}]) -> part | nil, why: an
-- image, a PDF (a file part) or a text file (a text part naming the
-- file); a URL ending in .pdf is a file part by URL (Responses only).
function M.file_part(src, opts)
  if type(src) ~= "string" then args.error(2, 1, "file_part", "string expected, got " .. type(src)) end
  local detail = check_detail("file_part", opts)
  if url_of(src) then
    local path = src:match("^[^?#]*"):lower()
    if path:match("%.pdf$") then
      return { type = "file", file = { file_url = src, filename = basename(src:match("^[^?#]*")) } }
    end
    return image_part(src, detail)
  end
  local data, why = slurp(src, M.MAX.pdf)
  if not data then return nil, why end
  return M.of_bytes(data, src, detail)
end

-- ---- the Responses spelling ---------------------------------------------------

local TO_RESPONSES = {
  text = function(p) return { type = "input_text", text = p.text } end,
  image_url = function(p)
    local i = type(p.image_url) == "table" and p.image_url or { url = p.image_url }
    return { type = "input_image", image_url = i.url, detail = i.detail or "auto" }
  end,
  file = function(p)
    local f = type(p.file) == "table" and p.file or {}
    return { type = "input_file", filename = f.filename, file_data = f.file_data,
             file_id = f.file_id, file_url = f.file_url }
  end,
}

-- A message's content with chat-spelled parts respelled; the same table
-- when none is.
local function content_for_responses(content)
  local out
  for i, p in ipairs(content) do
    local to = type(p) == "table" and TO_RESPONSES[p.type]
    if to then
      if not out then
        out = {}
        for j = 1, i - 1 do out[j] = content[j] end
      end
      out[i] = to(p)
    elseif out then
      out[i] = p
    end
  end
  return out or content
end

-- parts.for_responses(input) -> input with every chat-spelled part of its
-- messages in the Responses spelling. The caller's tables are never
-- changed: what is respelled is copied.
function M.for_responses(input)
  if type(input) ~= "table" then return input end
  local out
  for i, item in ipairs(input) do
    local c = type(item) == "table" and item.content
    local fixed = type(c) == "table" and content_for_responses(c) or c
    if fixed ~= c then
      if not out then
        out = {}
        for j = 1, i - 1 do out[j] = input[j] end
      end
      local copy = {}
      for k, v in pairs(item) do copy[k] = v end
      copy.content = fixed
      out[i] = copy
    elseif out then
      out[i] = item
    end
  end
  return out or input
end

return M

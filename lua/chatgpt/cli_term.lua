-- chatgpt.cli_term: what the `chatgpt` command writes on stdout and stderr.
--
-- A terminal obeys the escape sequences in what it is given: an answer, a
-- server's error message or a model id could set the window's title, write
-- the clipboard (OSC 52), clear the screen or hide text, and an answer can
-- be steered by the text under review (`git diff | chatgpt -s "Review
-- this"`). So what goes to a terminal has its control characters shown, not
-- obeyed: C0 but newline and tab as ^X (a lone carriage return too; \r\n
-- stays), DEL as ^?, C1 (U+0080 to U+009F) and bytes that are not UTF-8 as
-- \xNN. A pipe or a file gets the bytes unchanged, and so does a terminal
-- with --raw (stdout only).
--
-- Both streams remember whether they stand at the start of a line, shared
-- when both are the same terminal: a log line or an error then starts on a
-- line of its own, never glued to the answer. The reasoning text some
-- servers stream goes to stderr dimmed on a terminal (stream:dim), the one
-- escape sequence of ours.

local core   = require "chatgpt.core"
local compat = require "chatgpt.compat"

local io, setmetatable, type = io, setmetatable, type
local byte, char, find, format, gsub, sub = string.byte, string.char, string.find,
      string.format, string.gsub, string.sub
local utf8_len = compat.utf8_len

local M = {}

local function hex(s)
  return (gsub(s, ".", function(c) return format("\\x%02x", byte(c)) end))
end

local function caret(c)
  local b = byte(c)
  if b == 127 then return "^?" end
  return "^" .. char(b + 64)
end

-- A run of bytes from 0x80: one UTF-8 character is kept (but C1's, which
-- is a control); anything else is shown byte by byte.
local function high(seq)
  local lead = byte(seq)
  if lead >= 0xC2 and lead <= 0xF4 and utf8_len(seq) == 1 then
    if lead == 0xC2 and byte(seq, 2) < 0xA0 then return hex(seq) end
    return seq
  end
  -- a character followed by stray continuation bytes: the character stays
  local n = lead >= 0xF0 and 4 or lead >= 0xE0 and 3 or lead >= 0xC2 and 2 or 1
  if n > 1 and #seq > n and utf8_len(sub(seq, 1, n)) == 1 then
    return high(sub(seq, 1, n)) .. hex(sub(seq, n + 1))
  end
  return hex(seq)
end

-- term.neutral(s) -> s with its control characters shown (see above); a
-- whole text, with nothing held back.
function M.neutral(s)
  if not find(s, "[%z\1-\8\11-\31\127-\255]") then return s end
  s = gsub(s, "\r\n", "\0\n")                      -- \r\n stays: marked, put back below
  s = gsub(s, "[\1-\8\11-\31\127]", caret)
  s = gsub(s, "%z\n", "\r\n")
  s = gsub(s, "%z", "^@")
  return (gsub(s, "[\128-\255][\128-\191]*", high))
end

-- The tail of s that may be the start of a character or of \r\n cut by
-- the end of a piece (held until the next piece), and the rest.
local function split_tail(s)
  local n = #s
  if sub(s, n) == "\r" then return sub(s, 1, n - 1), "\r" end
  for i = n, n - 2 > 0 and n - 2 or 1, -1 do
    local b = byte(s, i)
    if b >= 0xC0 then
      local need = b >= 0xF0 and 4 or b >= 0xE0 and 3 or 2
      if n - i + 1 < need then return sub(s, 1, i - 1), sub(s, i) end
      break
    elseif b < 0x80 then
      break
    end
  end
  return s, ""
end

local Stream = {}
Stream.__index = Stream

-- stream:write(text): a piece of a longer text (an answer's delta)
function Stream:write(text)
  if type(text) ~= "string" or text == "" then return end
  if self.clean then
    local s
    s, self.held = split_tail(self.held .. text)
    text = M.neutral(s)
    if text == "" then return end
  end
  self.file:write(text)
  self.file:flush()
  self.screen.last = sub(text, -1)
end

-- stream:dim(): on a terminal, what is written next is dimmed, up to the
-- next finish or line; nothing elsewhere.
function Stream:dim()
  if self.tty and not self.dimmed then
    self.file:write("\27[2m")
    self.dimmed = true
  end
end

local function undim(self)
  if self.dimmed then
    self.file:write("\27[0m")
    self.dimmed = false
  end
end

-- stream:finish(): what was held written, and a newline when the stream
-- stands in the middle of a line (the shell's prompt, the next log line).
function Stream:finish()
  if self.held ~= "" then
    local held = self.held
    self.held = ""
    self.file:write(M.neutral(held))
    self.screen.last = sub(held, -1)
  end
  undim(self)
  if self.screen.last ~= "\n" then
    self.file:write("\n")
    self.screen.last = "\n"
  end
  self.file:flush()
end

-- stream:line(text): one whole line, on a line of its own (text without
-- its newline; several lines are written as they are, each shown clean).
function Stream:line(text)
  undim(self)
  if self.screen.last ~= "\n" then self.file:write("\n") end
  self.file:write(self.clean and M.neutral(text) or text, "\n")
  self.file:flush()
  self.screen.last = "\n"
end

local function stream(file, fd, raw, screen)
  local tty = core.isatty(fd)
  return setmetatable({ file = file, tty = tty, clean = tty and not raw, held = "", dimmed = false,
                        screen = screen or { last = "\n" } }, Stream)
end

-- term.new{raw = bool} -> {out = stream, err = stream}
function M.new(o)
  o = o or {}
  local out = stream(io.stdout, 1, o.raw)
  local shared = out.tty and core.isatty(2) and out.screen or nil
  return { out = out, err = stream(io.stderr, 2, false, shared) }
end

return M

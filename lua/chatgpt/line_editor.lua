-- chatgpt.line_editor: the line editor of `chatgpt -i`, on a terminal put
-- in raw mode (src/terminal.c). Written here rather than bound to a
-- library: readline is GPL, libedit is not on every machine and neither
-- knows bracketed paste or lets Ctrl-C come back as a key; a page of Lua
-- does what the chat needs, and nothing is to install.
--
-- Keys: the arrows, Home/End, Ctrl-A/E/B/F (move), Backspace, Delete,
-- Ctrl-K/U/W (cut to the end, to the start, a word), Ctrl-L (clear),
-- Up/Down and Ctrl-P/N (history), Ctrl-R (search the history), Alt-Enter
-- (a new line in the message), Enter or Ctrl-J (send), Ctrl-C (drop what
-- was typed), Ctrl-D (the end, on an empty line; else delete). The caller
-- gives the terminal back (core.tty_restore) when the chat ends.
-- A paste (bracketed paste mode) is taken whole, newlines and all: a long
-- one shows as "[pasted N lines]" until it is sent.

local core = require "chatgpt.core"

local ipairs, setmetatable, table, type = ipairs, setmetatable, table, type
local byte, concat, find, format, gsub, rep, sub =
      string.byte, table.concat, string.find, string.format, string.gsub, string.rep, string.sub

local M = {}

local ESC_WAIT = 50           -- ms to wait for the rest of an escape sequence
local PASTE_INLINE = 400      -- bytes of a paste shown as they are (more: a placeholder)
local TAB = "    "

local Editor = {}
Editor.__index = Editor

-- editor.new{history = list (oldest first), fd = 0, out = io.stdout}
function M.new(o)
  o = o or {}
  return setmetatable({ history = o.history or {}, fd = o.fd or 0, out = o.out or io.stdout,
                        queue = "" }, Editor)
end

-- editor.usable(fd_in, fd_out) -> whether the editor can run: both ends a
-- terminal that is not "dumb"
function M.usable(fd_in, fd_out)
  local t = os.getenv("TERM")
  return core.isatty(fd_in) and core.isatty(fd_out) and t ~= "dumb" and t ~= nil and t ~= ""
end

-- ---- the buffer ------------------------------------------------------------
-- self.chars: one entry per character (a UTF-8 string), or a paste shown
-- as a label ({text = ..., label = ...}); self.pos: the cursor, 1 ..
-- #chars + 1.

local function chars_of(s)
  local t = {}
  for ch in s:gmatch("[%z\1-\127\192-\255][\128-\191]*") do t[#t + 1] = ch end
  return t
end

local function text_of(chars, shown)
  local t = {}
  for i, ch in ipairs(chars) do
    if type(ch) == "table" then t[i] = shown and ch.label or ch.text else t[i] = ch end
  end
  return concat(t)
end

-- What a character shows on the screen, and its width.
local function glyph(ch)
  if type(ch) == "table" then return ch.label, #ch.label end
  if ch == "\t" then return TAB, #TAB end
  local b = byte(ch)
  if b < 32 or b == 127 then return "^" .. string.char(b == 127 and 63 or b + 64), 2 end
  return ch, 1
end

-- ---- drawing ---------------------------------------------------------------

function Editor:write(s)
  self.out:write(s)
end

-- Draws the prompt and the buffer from the prompt's first row, and puts
-- the cursor where self.pos is. Rows are broken here, not by the
-- terminal: a row that fills the width is followed by an explicit new
-- line, so that the cursor's row is always known.
function Editor:refresh()
  local cols = core.tty_size(self.fd) or 80
  local prompt, cont = self.prompt_text, self.cont_text
  local out = {}
  if self.row > 0 then out[#out + 1] = format("\27[%dA", self.row) end
  out[#out + 1] = "\r\27[J"
  local row, col = 0, 0
  local cur_row, cur_col
  local function put(s, w)
    if col + w > cols and col > 0 then
      out[#out + 1] = "\r\n"
      row, col = row + 1, 0
    end
    out[#out + 1] = s
    col = col + w
  end
  put(prompt, #prompt)
  for i, ch in ipairs(self.chars) do
    if ch == "\n" then
      if i == self.pos then cur_row, cur_col = row, col end
      out[#out + 1] = "\r\n"
      row, col = row + 1, 0
      put(cont, #cont)
    else
      local s, w = glyph(ch)
      if i == self.pos then      -- where this character goes, wrapped or not
        if col + w > cols and col > 0 then cur_row, cur_col = row + 1, 0 else cur_row, cur_col = row, col end
      end
      put(s, w)
    end
  end
  if col >= cols then               -- the last row is full: the cursor goes below it
    out[#out + 1] = "\r\n"
    row, col = row + 1, 0
  end
  if cur_row == nil then cur_row, cur_col = row, col end
  if cur_col >= cols then cur_col = cols - 1 end
  if row > cur_row then out[#out + 1] = format("\27[%dA", row - cur_row) end
  out[#out + 1] = "\r"
  if cur_col > 0 then out[#out + 1] = format("\27[%dC", cur_col) end
  self.row = cur_row
  self:write(concat(out))
  self.out:flush()
end

-- ---- editing ---------------------------------------------------------------

function Editor:set(text)
  self.chars = chars_of(text)
  self.pos = #self.chars + 1
end

function Editor:insert(list)
  for _, ch in ipairs(list) do
    table.insert(self.chars, self.pos, ch)
    self.pos = self.pos + 1
  end
end

function Editor:delete(from, to)       -- chars from .. to - 1
  local n = to - from
  for _ = 1, n do table.remove(self.chars, from) end
  if self.pos >= to then self.pos = self.pos - n elseif self.pos > from then self.pos = from end
end

local function blank(ch) return ch == " " or ch == "\t" or ch == "\n" end

function Editor:word_start()
  local i = self.pos
  while i > 1 and blank(self.chars[i - 1]) do i = i - 1 end
  while i > 1 and not blank(self.chars[i - 1]) do i = i - 1 end
  return i
end

function Editor:line_start()
  local i = self.pos
  while i > 1 and self.chars[i - 1] ~= "\n" do i = i - 1 end
  return i
end

function Editor:line_end()
  local i = self.pos
  while i <= #self.chars and self.chars[i] ~= "\n" do i = i + 1 end
  return i
end

-- A paste: \r\n and \r are newlines, other control bytes but tab go.
function Editor:paste(s)
  s = gsub(gsub(s, "\r\n?", "\n"), "[%z\1-\8\11-\31\127]", "")
  local _, lines = gsub(s, "\n", "")
  if #s > PASTE_INLINE or lines >= 4 then
    self:insert { { text = s, label = format("[pasted %d lines, %d bytes]", lines + 1, #s) } }
  else
    self:insert(chars_of(s))
  end
end

function Editor:go_history(step)
  local n = #self.history
  local i = self.hist_i + step
  if i < 1 or i > n + 1 then return end
  if self.hist_i == n + 1 then self.draft = text_of(self.chars) end
  self.hist_i = i
  self:set(i == n + 1 and self.draft or self.history[i])
end

-- ---- keys -------------------------------------------------------------------

-- The next chunk of input into the queue; false at the end of input.
function Editor:fill(wait)
  local got = core.tty_read(self.fd, wait)
  if got == nil then return false end
  self.queue = self.queue .. got
  return true
end

-- The next key: a byte, an escape sequence, a UTF-8 character, or a
-- paste ({paste = text}); nil at the end of input; "" when a signal
-- (or nothing, within wait ms) came.
function Editor:key(wait)
  if self.queue == "" then
    if not self:fill(wait or -1) then return nil end
    if self.queue == "" then return "" end
  end
  local q = self.queue
  local b = byte(q)
  if b == 27 then
    if #q == 1 then self:fill(ESC_WAIT) q = self.queue end
    if sub(q, 1, 6) == "\27[200~" then
      local stop = find(q, "\27[201~", 7, true)
      while not stop do
        if not self:fill(-1) then break end
        q = self.queue
        stop = find(q, "\27[201~", 7, true)
      end
      local text = sub(q, 7, (stop or #q + 1) - 1)
      self.queue = stop and sub(q, stop + 6) or ""
      return { paste = text }
    end
    -- CSI: ESC [ params final; SS3: ESC O x; Alt-x: ESC x
    local seq = q:match("^\27%[[%d;]*[%a~]") or q:match("^\27O%a") or q:match("^\27[^%[O]")
    if not seq and (q == "\27[" or q:match("^\27%[[%d;]*$")) then
      self:fill(ESC_WAIT)
      q = self.queue
      seq = q:match("^\27%[[%d;]*[%a~]")
    end
    seq = seq or "\27"
    self.queue = sub(q, #seq + 1)
    return seq
  end
  local n = b >= 0xF0 and 4 or b >= 0xE0 and 3 or b >= 0xC0 and 2 or 1
  if #q < n then self:fill(ESC_WAIT) q = self.queue end
  local ch = sub(q, 1, n)
  self.queue = sub(q, n + 1)
  return ch
end

local KEYS = {
  ["\1"] = "home", ["\27[H"] = "home", ["\27OH"] = "home", ["\27[1~"] = "home", ["\27[7~"] = "home",
  ["\5"] = "end", ["\27[F"] = "end", ["\27OF"] = "end", ["\27[4~"] = "end", ["\27[8~"] = "end",
  ["\2"] = "left", ["\27[D"] = "left", ["\27OD"] = "left",
  ["\6"] = "right", ["\27[C"] = "right", ["\27OC"] = "right",
  ["\16"] = "up", ["\27[A"] = "up", ["\27OA"] = "up",
  ["\14"] = "down", ["\27[B"] = "down", ["\27OB"] = "down",
  ["\127"] = "backspace", ["\8"] = "backspace",
  ["\4"] = "ctrl-d", ["\27[3~"] = "delete",
  ["\11"] = "kill-end", ["\21"] = "kill-start", ["\23"] = "kill-word",
  ["\12"] = "clear", ["\3"] = "interrupt", ["\18"] = "search",
  ["\r"] = "enter", ["\n"] = "enter", ["\27\r"] = "newline", ["\27\n"] = "newline",
  ["\9"] = "tab",
}

local ACTIONS = {}

function ACTIONS.home(self) self.pos = self:line_start() end
function ACTIONS.left(self) if self.pos > 1 then self.pos = self.pos - 1 end end
function ACTIONS.right(self) if self.pos <= #self.chars then self.pos = self.pos + 1 end end
ACTIONS["end"] = function(self) self.pos = self:line_end() end
function ACTIONS.up(self) self:go_history(-1) end
function ACTIONS.down(self) self:go_history(1) end
function ACTIONS.backspace(self)
  if self.pos > 1 then self:delete(self.pos - 1, self.pos) end
end
function ACTIONS.delete(self)
  if self.pos <= #self.chars then self:delete(self.pos, self.pos + 1) end
end
ACTIONS["kill-end"] = function(self) self:delete(self.pos, self:line_end()) end
ACTIONS["kill-start"] = function(self) self:delete(self:line_start(), self.pos) end
ACTIONS["kill-word"] = function(self) self:delete(self:word_start(), self.pos) end
function ACTIONS.clear(self)
  self:write("\27[H\27[2J")
  self.row = 0
end
function ACTIONS.newline(self) self:insert { "\n" } end
function ACTIONS.tab(self) self:insert { "\t" } end

-- Ctrl-R: the newest history entry holding what is typed; Ctrl-R again,
-- an older one. Enter sends the one found, Ctrl-G or Ctrl-C leaves the
-- search, any other key takes it into the line to edit.
function Editor:search()
  local query, at = "", #self.history + 1
  local saved_prompt, saved = self.prompt_text, text_of(self.chars)
  local found
  local function look(from)
    for i = from, 1, -1 do
      if query == "" or find(self.history[i], query, 1, true) then return i end
    end
  end
  while true do
    self.prompt_text = "(search) " .. query .. ": "
    self:set(found and self.history[found] or "")
    self:refresh()
    local k = self:key()
    if k == nil then return nil end
    if k == "\18" then
      found = look((found or at) - 1) or found
    elseif k == "\127" or k == "\8" then
      query = sub(query, 1, #query - 1)
      found = look(#self.history)
    elseif k == "\7" or k == "\3" then
      self.prompt_text = saved_prompt
      self:set(saved)
      return "cancel"
    elseif type(k) == "string" and #k >= 1 and (byte(k) >= 32 and byte(k) ~= 127) then
      query = query .. k
      found = look(found or #self.history)
    else
      self.prompt_text = saved_prompt
      if found then self.hist_i = found end
      return k == "\r" and "enter" or "edit"
    end
  end
end

-- editor:read(prompt [, continuation]) -> text | nil, "eof" | nil,
-- "interrupt". Bracketed paste is on while a line is read; after it the
-- terminal stays raw but for Ctrl-C, which is a signal again.
function Editor:read(prompt, cont)
  local ok, why = core.tty_raw(self.fd)
  if not ok then return nil, "eof", why end
  self.prompt_text, self.cont_text = prompt, cont or rep(" ", #prompt)
  self.chars, self.pos, self.row = {}, 1, 0
  self.hist_i, self.draft = #self.history + 1, ""
  self:write("\27[?2004h")
  self:refresh()
  local result, reason
  while true do
    local k = self:key()
    if k == nil then
      reason = "eof"
      break
    end
    local name = type(k) == "table" and "paste" or KEYS[k]
    if name == "search" then
      local r = self:search()
      if r == nil then reason = "eof" break end
      if r == "enter" then name = "enter" end
      self:refresh()
    end
    if name == "enter" then
      result = text_of(self.chars)
      break
    elseif name == "interrupt" then
      reason = "interrupt"
      break
    elseif name == "ctrl-d" then
      if #self.chars == 0 then
        reason = "eof"
        break
      end
      ACTIONS.delete(self)
    elseif name == "paste" then
      self:paste(k.paste)
    elseif name and ACTIONS[name] then
      ACTIONS[name](self)
    elseif name == nil and k ~= "" and byte(k) >= 32 and byte(k) ~= 127 and not (#k == 1 and byte(k) >= 128) then
      self:insert { k }
    end
    if name ~= "search" then self:refresh() end
  end
  -- leave the cursor below what was typed (pastes shown as labels)
  self.pos = #self.chars + 1
  self:refresh()
  self:write((reason == "interrupt" and "^C" or "") .. "\r\n\27[?2004l")
  self.out:flush()
  -- not back to the line mode until the chat ends: keys typed during an
  -- answer wait as keys (a Ctrl-D or an Enter typed ahead is not turned
  -- into an end of input or a line feed), and Ctrl-C stays a signal
  core.tty_raw(self.fd, true)
  if result and find(result, "%S") then
    local h = self.history
    if h[#h] ~= result then h[#h + 1] = result end
  end
  if result then return result end
  return nil, reason
end

return M

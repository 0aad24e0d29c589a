-- What the Neovim host scripts share (loaded with dofile beside them):
-- checks collected by name, and the one line each writes to $HOST_RESULT,
-- "ok LABEL: the checks" or "FAILED the failures", before Neovim quits.
-- luacheck: read globals vim
return function(label)
  local out = assert(os.getenv("HOST_RESULT"))
  local failures, notes = {}, {}
  local v = {}
  function v.check(name, ok, detail)
    if ok then notes[#notes + 1] = name else failures[#failures + 1] = name .. ": " .. tostring(detail) end
  end
  -- ok, err: what the script's pcall gave
  function v.finish(ok, err)
    if not ok then failures[#failures + 1] = tostring(err) end
    local f = assert(io.open(out, "w"))
    if #failures == 0 then
      f:write("ok ", label, ": ", table.concat(notes, "; "), "\n")
    else
      f:write("FAILED ", table.concat(failures, "; "), "\n")
    end
    f:close()
    vim.cmd("qa!")
  end
  return v
end

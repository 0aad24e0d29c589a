-- spec/fixtures/wire is the repository's copy of the captures in
-- ../shared/wire (all but openapi.yaml: openapi_spec.lua checks its copy):
-- when that folder is beside the repository, the two must hold the same
-- files, byte for byte.
-- `make fixtures` brings the copy in step.
local T = require "spec.support.client"

local SHARED = os.getenv("SHARED_WIRE") or "../shared/wire"
local FIXTURES = "spec/fixtures/wire"
local SKIP = { ["openapi.yaml"] = true }     -- spec/fixtures/openapi.yaml: openapi_spec.lua

-- The file names in a folder, as a set; nil when the folder is missing.
-- (The first line says the folder is there: on 5.1 and LuaJIT a popen's
-- close does not give the command's status.)
local function names(dir)
  local p = io.popen("cd '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null && echo . && ls -1A")
  local there = p:read("*l") == "."
  local set, n = {}, 0
  for name in p:lines() do
    if not SKIP[name] then set[name], n = true, n + 1 end
  end
  p:close()
  if not there then return nil end
  return set, n
end

describe("spec/fixtures/wire", function()
  it("holds the captures and their SOURCES.md", function()
    local set, n = names(FIXTURES)
    assert.is_table(set, "no " .. FIXTURES)
    assert.is_true(set["SOURCES.md"])
    assert.truthy(n > 100, n .. " files")
  end)

  local shared = names(SHARED)
  if not shared then
    pending("no " .. SHARED .. " beside the repository: nothing to compare " .. FIXTURES .. " with")
    return
  end

  it("has an identical copy of every capture in " .. SHARED .. " (else: make fixtures)", function()
    local missing, differ = {}, {}
    for name in pairs(shared) do
      local want = assert(T.read(SHARED .. "/" .. name))
      local got = T.read(FIXTURES .. "/" .. name)
      if got == nil then missing[#missing + 1] = name
      elseif got ~= want then differ[#differ + 1] = name end
    end
    table.sort(missing)
    table.sort(differ)
    assert.are.same({}, missing, "missing from " .. FIXTURES)
    assert.are.same({}, differ, "different in " .. FIXTURES)
  end)

  it("holds no file that " .. SHARED .. " lacks (else: make fixtures)", function()
    local extra = {}
    for name in pairs(assert(names(FIXTURES))) do
      if not shared[name] then extra[#extra + 1] = name end
    end
    table.sort(extra)
    assert.are.same({}, extra, "only in " .. FIXTURES)
  end)
end)

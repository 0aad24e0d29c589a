-- lazy(name) -> a stand-in for require(name) that loads the module on its
-- first field access. Most calls never fail and many never stream, and
-- parsing the error and stream modules was half the cost of `require
-- "chatgpt"` (bench/RESULTS.md).

local require, setmetatable = require, setmetatable

return function(name)
  return setmetatable({}, { __index = function(proxy, k)
    local m = require(name)
    setmetatable(proxy, { __index = m })
    return m[k]
  end })
end

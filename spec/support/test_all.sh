#!/bin/sh
# make test-all: the C tests and every spec under each Lua version that is
# installed (LUAS, default "lua5.4 lua5.3 lua5.2 lua5.1 luajit"), each
# against the module built for it (build/<lua>, 5.4's in build/). Ends with
# one "N passed, N failed" line over all of them; a version not installed
# is named and skipped.
#   sh spec/support/test_all.sh [MAKE]
make=${1:-make}
luas=${LUAS:-"lua5.4 lua5.3 lua5.2 lua5.1 luajit"}
passed=0 failed=0 summary=""
for lua in $luas; do
  if ! command -v "$lua" >/dev/null 2>&1; then
    echo "test-all: $lua is not installed (make deps installs it): skipped"
    summary="$summary $lua: not installed;"
    continue
  fi
  echo "==== $lua"
  log=$(mktemp)
  if $make --no-print-directory LUA="$lua" all ctest >"$log" 2>&1; then
    build=$([ "$lua" = lua5.4 ] && echo build || echo "build/$lua")
    CHATGPT_HOSTS=$build sh spec/support/run.sh "$lua" "$build" "$build"/*_test 2>&1 | tee "$log"
  else
    cat "$log"
    echo "0 passed, 1 failed"
  fi
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  rm -f "$log"
  p=$(printf '%s' "$line" | cut -d' ' -f1) f=$(printf '%s' "$line" | cut -d' ' -f3)
  p=${p:-0} f=${f:-1}
  summary="$summary $lua: $p passed, $f failed;"
  passed=$((passed + p)) failed=$((failed + f))
done
echo "test-all:$summary"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

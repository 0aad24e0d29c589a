#!/bin/sh
# Runs the C unit tests and the busted specs against one build, and ends
# with the line "N passed, N failed" (busted's errors count as failed).
#   sh spec/support/run.sh LUA BUILD_DIR [C test programs...]
# LUA may carry a wrapper ("valgrind ... lua5.4"); busted runs inside it.
lua=$1 build=$2
shift 2
passed=0 failed=0

# the C tests read the captures from $WIRE_DIR (sse_test.c's own default is
# ../shared/wire, outside the repository)
wire=${WIRE_DIR:-spec/fixtures/wire}

for t in "$@"; do
  out=$(WIRE_DIR=$wire "$t" 2>&1)
  rc=$?
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  p=$(printf '%s' "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
  f=$(printf '%s' "$line" | sed -n 's/^[0-9]* passed, \([0-9]*\) failed.*/\1/p')
  p=${p:-0} f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  [ "$f" -ne 0 ] && printf '%s\n' "$out" | tail -n 40
  echo "$(basename "$t"): $p passed, $f failed"
  passed=$((passed + p)) failed=$((failed + f))
done

# the interpreter (without a wrapper) for the specs that start a fresh one
CHATGPT_LUA=${lua##* }
export CHATGPT_LUA

log=$(mktemp)
CHATGPT_BUILD=$build $lua "$(command -v busted)" --ignore-lua -o utfTerminal 2>&1 | tee "$log"
summary=$(grep -E '[0-9]+ successes? / [0-9]+ failures? / [0-9]+ errors?' "$log" | tail -n 1)
# the names of what failed again, last: a CI log shows only its tail
grep -A1 -E '^(Failure|Error) → ' "$log" | grep -v -- '^--$' | sed 's/^/failed: /'
rm -f "$log"
if [ -z "$summary" ]; then
  echo "busted printed no summary (it crashed)"
  failed=$((failed + 1))
else
  s=$(printf '%s' "$summary" | sed -n 's/^\([0-9]*\) success.*/\1/p')
  fl=$(printf '%s' "$summary" | sed -n 's/.* \([0-9]*\) failures\{0,1\} \/.*/\1/p')
  e=$(printf '%s' "$summary" | sed -n 's/.* \([0-9]*\) errors\{0,1\}.*/\1/p')
  passed=$((passed + ${s:-0})) failed=$((failed + ${fl:-0} + ${e:-0}))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

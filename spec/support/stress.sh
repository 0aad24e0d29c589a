#!/bin/sh
# make test-stress: the whole suite (C tests and every spec) RUNS times in a
# row (STRESS_RUNS, default 5) while the same suite runs beside it, again
# and again, as the load of a busy machine: a spec that meets network
# timing must pass under it. Every run counts, those beside too (one still
# going when the last run ends is stopped and not counted). Ends with one
# "N passed, N failed" line: the runs' counts, summed.
#   sh spec/support/stress.sh LUA BUILD_DIR [C test programs...]
lua=$1 build=$2
shift 2
runs=${STRESS_RUNS:-5}
dir=$(mktemp -d)

# beside: its own session, so that the whole of it (busted and the fake
# server it started) is stopped with one kill of its process group
setsid sh -c '
  i=0
  while :; do
    i=$((i + 1))
    sh spec/support/run.sh "$@" >"'"$dir"'/beside.log" 2>&1
    line=$(grep -E "^[0-9]+ passed, [0-9]+ failed\$" "'"$dir"'/beside.log" | tail -n 1)
    echo "beside $i: ${line:-0 passed, 1 failed}" >>"'"$dir"'/beside.txt"
    case $line in
      *" 0 failed") ;;
      *) cp "'"$dir"'/beside.log" "'"$dir"'/beside-failed-$i.log" ;;
    esac
  done' stress "$lua" "$build" "$@" &
beside=$!

passed=0 failed=0 summary=""
i=0
while [ "$i" -lt "$runs" ]; do
  i=$((i + 1))
  echo "==== stress run $i of $runs (the suite runs beside it)"
  sh spec/support/run.sh "$lua" "$build" "$@" >"$dir/run.log" 2>&1
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$dir/run.log" | tail -n 1)
  p=$(printf '%s' "$line" | cut -d' ' -f1) f=$(printf '%s' "$line" | cut -d' ' -f3)
  p=${p:-0} f=${f:-1}
  [ "$f" -ne 0 ] && grep -E '^(failed: |.*: [0-9]+ passed, [1-9])' "$dir/run.log" | tail -n 40
  echo "run $i: $p passed, $f failed"
  summary="$summary run $i: $p passed, $f failed;"
  passed=$((passed + p)) failed=$((failed + f))
done

kill -TERM -- "-$beside" 2>/dev/null
wait "$beside" 2>/dev/null
if [ -f "$dir/beside.txt" ]; then
  cat "$dir/beside.txt"
  for log in "$dir"/beside-failed-*.log; do
    [ -f "$log" ] && grep -E '^(failed: |.*: [0-9]+ passed, [1-9])' "$log" | tail -n 40
  done
  bp=$(sed -n 's/^beside [0-9]*: \([0-9]*\) passed.*/\1/p' "$dir/beside.txt" | awk '{s += $1} END {print s + 0}')
  bf=$(sed -n 's/^beside [0-9]*: [0-9]* passed, \([0-9]*\) failed$/\1/p' "$dir/beside.txt" | awk '{s += $1} END {print s + 0}')
  summary="$summary beside: $bp passed, $bf failed;"
  passed=$((passed + bp)) failed=$((failed + bf))
fi
rm -rf "$dir"
echo "test-stress:$summary"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

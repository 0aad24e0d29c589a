#!/bin/sh
# make test-stress: the whole suite (C tests and every spec) RUNS times in a
# row (STRESS_RUNS, default 5) while the same suite runs beside it, again
# and again (STRESS_BESIDE copies, default 1), as the load of a busy
# machine: no spec may depend on how network timing meets curl. Every run
# counts, those beside too (one still going when the last run ends is
# stopped and not counted). Ends with one "N passed, N failed" line: the
# runs' counts, summed.
#   sh spec/support/stress.sh LUA BUILD_DIR [C test programs...]
lua=$1 build=$2
shift 2
runs=${STRESS_RUNS:-5}
copies=${STRESS_BESIDE:-1}
dir=$(mktemp -d)

# The counts of a run's log: "P F" (a run with no count line failed once).
counts() {
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
  echo "${line:-0 passed, 1 failed}" | cut -d' ' -f1,3
}

# What failed in a run's log, for the tail of a CI log.
failures() {
  grep -E '^(failed: |.*: [0-9]+ passed, [1-9])' "$1" | tail -n 40
}

# beside: each copy in a session of its own, so that the whole of it
# (busted, and the fake server it started) stops with one kill of its
# process group
groups=""
c=0
while [ "$c" -lt "$copies" ]; do
  c=$((c + 1))
  setsid sh -c '
    dir=$1 c=$2
    shift 2
    i=0
    while :; do
      i=$((i + 1))
      sh spec/support/run.sh "$@" >"$dir/beside$c.log" 2>&1
      cp "$dir/beside$c.log" "$dir/beside$c-$i.done"
    done' stress "$dir" "$c" "$lua" "$build" "$@" &
  groups="$groups $!"
done

passed=0 failed=0 summary=""
i=0
while [ "$i" -lt "$runs" ]; do
  i=$((i + 1))
  echo "==== stress run $i of $runs ($copies beside it)"
  sh spec/support/run.sh "$lua" "$build" "$@" >"$dir/run.log" 2>&1
  pf=$(counts "$dir/run.log")
  p=${pf% *} f=${pf#* }
  [ "$f" -ne 0 ] && failures "$dir/run.log"
  echo "run $i: $p passed, $f failed"
  summary="$summary run $i: $p passed, $f failed;"
  passed=$((passed + p)) failed=$((failed + f))
done

for g in $groups; do kill -TERM "-$g" 2>/dev/null; done   # dash's kill takes no --
wait
n=0 bp=0 bf=0
for log in "$dir"/beside*-*.done; do
  [ -f "$log" ] || continue
  pf=$(counts "$log")
  p=${pf% *} f=${pf#* }
  n=$((n + 1)) bp=$((bp + p)) bf=$((bf + f))
  [ "$f" -ne 0 ] && { echo "beside (${log##*/}): $p passed, $f failed"; failures "$log"; }
done
echo "beside: $n whole runs, $bp passed, $bf failed"
summary="$summary beside ($n runs): $bp passed, $bf failed;"
passed=$((passed + bp)) failed=$((failed + bf))
rm -rf "$dir"
echo "test-stress:$summary"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

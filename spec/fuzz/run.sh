#!/bin/sh
# Builds and runs every libFuzzer target spec/fuzz/<name>_fuzz.c for SECONDS
# seconds each, seeded from the wire captures; exits nonzero if a target
# failed to build or found a crash.
#
#   sh spec/fuzz/run.sh SECONDS [NAME ...]     (from the repository root)
#
# NAME limits the run to those targets (e.g. "sse"). Environment: CC_FUZZ
# (default clang), WIRE_DIR (default spec/fixtures/wire), FUZZ_ARGS (extra
# libFuzzer flags, e.g. "-jobs=2"). spec/fuzz/<name>.dict is used if present,
# and so are the flags in spec/fuzz/<name>.options; a target whose header
# comment has a " * sources: a.c b.c" line is built from those files.
# Everything is written under build/fuzz/: the binary, <name>_corpus/,
# <name>.log and crash artifacts (<name>-crash-*).

set -u

if [ $# -lt 1 ]; then
  echo "usage: sh spec/fuzz/run.sh SECONDS [NAME ...]" >&2
  exit 2
fi
seconds=$1
shift
case $seconds in
  '' | *[!0-9]*) echo "run.sh: SECONDS must be a whole number" >&2; exit 2 ;;
esac

cc=${CC_FUZZ:-clang}
wire=${WIRE_DIR:-spec/fixtures/wire}
out=build/fuzz
mkdir -p "$out" || exit 1

status=0
ran=0
for src in spec/fuzz/*_fuzz.c; do
  [ -f "$src" ] || continue
  name=${src#spec/fuzz/}
  name=${name%_fuzz.c}
  if [ $# -gt 0 ]; then
    wanted=no
    for w in "$@"; do [ "$w" = "$name" ] && wanted=yes; done
    [ $wanted = yes ] || continue
  fi
  ran=$((ran + 1))
  bin=$out/$name
  corpus=$out/${name}_corpus
  log=$out/$name.log

  # the sources: src/<name>.c, unless the target lists them on a
  # " * sources: ..." line of its header comment
  srcs=$(sed -n 's/^ \* sources: //p' "$src" | head -n 1)
  [ -n "$srcs" ] || srcs="$src src/$name.c"

  echo "== $name: building $bin"
  # shellcheck disable=SC2086
  if ! "$cc" -g -O1 -fsanitize=fuzzer,address,undefined \
      -fno-sanitize-recover=undefined -Isrc -I/usr/include/lua5.4 \
      $srcs -llua5.4 -o "$bin"; then
    echo "== $name: BUILD FAILED"
    status=1
    continue
  fi

  mkdir -p "$corpus"
  if [ -d "$wire" ]; then
    for f in "$wire"/*.sse "$wire"/*.json; do
      [ -f "$f" ] && cp "$f" "$corpus/"
    done
  fi

  flags="-max_total_time=$seconds -print_final_stats=1 -artifact_prefix=$out/$name-"
  if [ -f "spec/fuzz/$name.dict" ]; then
    flags="$flags -dict=spec/fuzz/$name.dict"
  fi
  if [ -f "spec/fuzz/$name.options" ]; then    # the target's own flags, e.g. -max_len
    flags="$flags $(cat "spec/fuzz/$name.options")"
  fi

  echo "== $name: fuzzing for $seconds s (log: $log)"
  # $flags and $FUZZ_ARGS are split on purpose: they are lists of options.
  # shellcheck disable=SC2086
  "$bin" $flags ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  echo "== $name: ${execs:-?} executions, exit status $rc"
  if [ $rc -ne 0 ]; then
    status=1
    echo "== $name: FAILED; the end of $log:"
    tail -n 40 "$log"
    ls "$out/$name-"* 2>/dev/null
  fi
done

if [ $ran -eq 0 ]; then
  echo "run.sh: no fuzz target found (or none matched)" >&2
  exit 1
fi
exit $status

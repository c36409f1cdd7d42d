#!/usr/bin/env bash
# Compiles every model in models/ with ssmc and checks it on its stored test data set(s).
# A model's check options (tolerances) come from models/NAME/check-options if present (default: --rel-to-max 1e-4),
# its compile options (e.g. the --input-shape of each shape variant) from models/NAME/compile-options.
# Prints one line per model and the summary line "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ssmc=${SSMC:-.build/debug/ssmc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0; failed=0; failures=()
for dir in models/*/; do
  name=$(basename "$dir")
  [ -f "$dir/model.onnx" ] || continue
  options="--rel-to-max 1e-4"
  [ -f "$dir/check-options" ] && options=$(cat "$dir/check-options")
  compile_options=()
  # read splits words without expanding the ? of --input-shape as a file pattern.
  [ -f "$dir/compile-options" ] && read -ra compile_options < "$dir/compile-options"
  lib="$work/lib$name.so"
  if ! "$ssmc" compile "$dir/model.onnx" -o "$lib" "${compile_options[@]}" > "$work/$name.log" 2>&1; then
    echo "FAIL $name: compile"; sed 's/^/    /' "$work/$name.log" | tail -20
    failed=$((failed + 1)); failures+=("$name"); continue
  fi
  ok=1
  for data in "$dir"/test_data_set_*; do
    # shellcheck disable=SC2086
    if ! "$ssmc" check "$lib" "$data" $options > "$work/$name.check" 2>&1; then ok=0; fi
    sed 's/^/    /' "$work/$name.check"
  done
  if [ $ok = 1 ]; then echo "PASS $name"; passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); failures+=("$name"); fi
done
[ ${#failures[@]} -gt 0 ] && echo "failed models: ${failures[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]

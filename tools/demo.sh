#!/usr/bin/env bash
# The main job: set up, build ssmc, compile a model from models/ and run it on its stored test input,
# printing the outputs' shapes and the error against the stored reference output.
# Usage: tools/demo.sh [MODEL_NAME]   (default: the first of vmamba-tiny-micro, vim-tiny-micro, cnn-mlp found)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
swift build -c release --product ssmc 2>&1 | tail -1
ssmc=.build/release/ssmc
name=${1:-}
if [ -z "$name" ]; then
  for candidate in vmamba-tiny-micro vim-tiny-micro cnn-mlp; do
    if [ -f "models/$candidate/model.onnx" ]; then name=$candidate; break; fi
  done
fi
dir=models/$name
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
compile_options=()
[ -f "$dir/compile-options" ] && read -ra compile_options < "$dir/compile-options"
echo "== ssmc compile $dir/model.onnx ${compile_options[*]}"
"$ssmc" compile "$dir/model.onnx" -o "$out/lib$name.so" "${compile_options[@]}"
echo "== ssmc run (input: $dir/test_data_set_0/input_0.pb)"
inputs=()
for f in "$dir"/test_data_set_0/input_*.pb; do inputs+=(-i "$f"); done
"$ssmc" run "$out/lib$name.so" "${inputs[@]}" -o "$out"
echo "== ssmc check against the stored reference output"
options="--rel-to-max 1e-4"
[ -f "$dir/check-options" ] && options=$(cat "$dir/check-options")
# shellcheck disable=SC2086
"$ssmc" check "$out/lib$name.so" "$dir/test_data_set_0" $options

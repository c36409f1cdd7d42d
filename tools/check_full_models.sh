#!/usr/bin/env bash
# The slow end-to-end check (not in CI; needs PyTorch: tools/setup.sh --export):
# for each full-size model with random weights, export -> compile -> run, and compare with the PyTorch
# forward stored by the exporter. Also times ssmc against onnxruntime on the same input.
#   tools/check_full_models.sh [MODEL ...]     (default: all five families)
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --export
swift build -c release --product ssmc 2>&1 | tail -1
ssmc=$PWD/.build/release/ssmc
models=("$@")
[ ${#models[@]} -eq 0 ] && models=(vim-tiny vim-small vmamba-tiny vmamba-tiny-v0 s4nd-convnext-tiny)
status=0
for m in "${models[@]}"; do
  dir=build/models/$m
  if [ ! -f "$dir/model.onnx" ]; then
    tools/py-export tools/export.py "$m" --seed 0 -o "$dir/model.onnx" --test-data || { status=1; continue; }
  fi
  echo "== $m"
  start=$(date +%s)
  if ! "$ssmc" compile "$dir/model.onnx" -o "$dir/lib$m.so"; then status=1; continue; fi
  echo "compiled in $(( $(date +%s) - start )) s"
  tolerance="--rel-to-max 1e-4"
  case $m in s4nd*) tolerance="--rel-to-max 1e-3" ;; esac
  # shellcheck disable=SC2086
  "$ssmc" check "$dir/lib$m.so" "$dir/test_data_set_0" $tolerance || status=1
  PYTHONPATH=tools tools/py tools/bench_model.py "$dir/lib$m.so" "$dir/model.onnx" "$dir/test_data_set_0" || status=1
done
exit $status

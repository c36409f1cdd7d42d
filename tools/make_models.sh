#!/usr/bin/env bash
# Re-makes the model zoo with the PyTorch exporters (needs `tools/setup.sh --export`).
#   tools/make_models.sh          the committed -micro models: models/NAME/{model.onnx,test_data_set_0/}
#   tools/make_models.sh --full   the full-size models (random weights, seed 0) into build/models/NAME/
#                                 (not committed; each export also prints its onnxruntime-vs-PyTorch error)
# Each export prints a JSON line: parameters, GFLOPs, file size, op histogram, ORT max-abs/max-rel.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bases=(vim-tiny vim-small vmamba-tiny vmamba-tiny-v0 s4nd-convnext-tiny)
if [ "${1:-}" = "--full" ]; then
  for m in "${bases[@]}"; do
    "$here/py-export" "$here/export.py" "$m" --seed 0 -o "$root/build/models/$m/model.onnx" --test-data
  done
elif [ -z "${1:-}" ]; then
  for m in "${bases[@]}"; do
    "$here/py-export" "$here/export.py" "$m-micro" --seed 0 -o "$root/models/$m-micro/model.onnx" --test-data
  done
  # Batch 2 at a non-square size the other way round (H > W), for the VMamba cross-scan index maps.
  for m in vmamba-tiny vmamba-tiny-v0; do
    "$here/py-export" "$here/export.py" "$m-micro" --seed 1 --size 64x48 --batch 2 -o "$root/models/$m-micro-b2/model.onnx" --test-data
  done
  # A batch size given at run time: one file, data sets at batch 2 and 1.
  for m in vim-tiny vmamba-tiny; do
    "$here/py-export" "$here/export.py" "$m-micro" --seed 2 --batch dynamic -o "$root/models/$m-micro-dyn/model.onnx" --test-data
  done
  # A batch and an input size given at run time: compiled for two sizes (compile-options), data sets at
  # batch 2 and 1 at 48x80 and at batch 2 at 80x64.
  "$here/py-export" "$here/export.py" vmamba-tiny-micro --seed 3 --batch dynamic --dynamic-size 80x64 \
    -o "$root/models/vmamba-tiny-micro-sizes/model.onnx" --test-data
  echo "--input-shape input=?x3x48x80 --input-shape input=?x3x80x64" > "$root/models/vmamba-tiny-micro-sizes/compile-options"
  # The same S4ND model with its layers as ai.ssmc::S4ND2D (raw SSM parameters; ssmc computes the kernels).
  "$here/py-export" "$here/export.py" s4nd-convnext-tiny-micro --seed 0 --s4nd-form ssm \
    -o "$root/models/s4nd-convnext-tiny-micro-ssm/model.onnx" --test-data
else
  echo "usage: tools/make_models.sh [--full]" >&2
  exit 2
fi

#!/usr/bin/env bash
# The test command: sets up what is missing, builds ssmc, then runs every test suite and prints one summary.
#   Swift unit tests (IR, frontend, passes, codegen, runtime), Python op and kernel tests against onnxruntime /
#   numpy float64, the ONNX backend node tests for every claimed op, and the model zoo checks.
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export SSMC="$PWD/.build/debug/ssmc"
export PYTHONPATH="$PWD/tools${PYTHONPATH:+:$PYTHONPATH}"

failed=()
step() {
  local name=$1; shift
  echo "=== $name"
  if "$@"; then echo "=== $name: ok"; else echo "=== $name: FAILED"; failed+=("$name"); fi
}

step "swift build" swift build
step "swift test" swift test
step "python tests" tools/py -m pytest -q -p no:cacheprovider -n "$(nproc)" tests/python
if [ -f tools/onnx_backend_tests.py ]; then
  step "onnx backend node tests" tools/py tools/onnx_backend_tests.py --ssmc "$SSMC"
fi
if [ -f tools/check_models.sh ]; then
  step "model zoo" bash tools/check_models.sh
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED steps: ${failed[*]}"
  exit 1
fi
echo "all test steps passed"

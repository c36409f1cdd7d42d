"""Runs every models/NAME/model.onnx in onnxruntime on its test_data_set_0 and compares with the stored
output (which came from PyTorch, not from onnxruntime). Needs no torch: `tools/py tools/check_models_ort.py`.
Tolerance: max-abs error <= 1e-4 of the expected output's max magnitude (1e-3 for S4ND models).
Models with ai.ssmc::S4ND2D nodes (which onnxruntime cannot run) are run with those nodes rewritten into plain
ONNX by tools/s4nd_separable.py (kernels from the Python float64 reference)."""
import glob
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from s4nd_separable import to_separable  # noqa: E402

root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models")
failed = 0
folders = sorted(glob.glob(os.path.join(root, "*", "model.onnx")))
for path in folders:
    folder = os.path.dirname(path)
    name = os.path.basename(folder)
    ds = os.path.join(folder, "test_data_set_0")
    inputs = [numpy_helper.to_array(onnx.load_tensor(p)) for p in sorted(glob.glob(os.path.join(ds, "input_*.pb")))]
    expected = [numpy_helper.to_array(onnx.load_tensor(p)) for p in sorted(glob.glob(os.path.join(ds, "output_*.pb")))]
    model = onnx.load(path)
    if any(n.domain == "ai.ssmc" and n.op_type == "S4ND2D" for n in model.graph.node):
        model = to_separable(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), inputs)})
    limit = 1e-3 if "s4nd" in name else 1e-4
    for k, (e, g) in enumerate(zip(expected, got)):
        max_abs = float(np.abs(e.astype(np.float64) - g).max())
        rel = max_abs / max(float(np.abs(e).max()), 1e-30)
        ok = g.shape == e.shape and rel <= limit
        failed += not ok
        print(f"{name:28s} output_{k} {str(g.shape):12s} max-abs {max_abs:.2e} max-rel {rel:.2e} {'ok' if ok else 'FAIL'}")
print(f"{len(folders)} models, {failed} failed")
sys.exit(1 if failed or not folders else 0)

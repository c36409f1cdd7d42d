"""Shared by the tools/make_*_model.py scripts: save a model with its test_data_set_0.

The expected outputs come from onnxruntime with every graph optimization off, so ORT acts as a
plain reference; onnx's ReferenceEvaluator runs as a second, independent opinion and the largest
difference between the two is printed (it should be at float32 rounding level).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

REPO_ROOT = Path(__file__).resolve().parent.parent


def parameter_count(model: onnx.ModelProto) -> int:
    return int(sum(np.prod(t.dims, dtype=np.int64) for t in model.graph.initializer))


def save_with_data(model: onnx.ModelProto, feeds: dict[str, np.ndarray], out_dir: Path) -> None:
    """Checks `model`, writes OUT/model.onnx and OUT/test_data_set_0/{input_K,output_K}.pb."""
    onnx.checker.check_model(model, full_check=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / "model.onnx"
    onnx.save(model, model_path)

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    ort_out = session.run(None, feeds)
    ref_out = ReferenceEvaluator(model).run(None, feeds)

    ds = out_dir / "test_data_set_0"
    ds.mkdir(exist_ok=True)
    for k, vi in enumerate(model.graph.input):
        (ds / f"input_{k}.pb").write_bytes(numpy_helper.from_array(feeds[vi.name], vi.name).SerializeToString())
    for k, vi in enumerate(model.graph.output):
        (ds / f"output_{k}.pb").write_bytes(numpy_helper.from_array(ort_out[k], vi.name).SerializeToString())

    rel = model_path.relative_to(REPO_ROOT) if model_path.is_relative_to(REPO_ROOT) else model_path
    print(f"wrote {rel} ({model_path.stat().st_size} bytes, {parameter_count(model)} parameters, "
          f"opset {model.opset_import[0].version})")
    for k, (a, b) in enumerate(zip(ort_out, ref_out)):
        diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
        print(f"output {k} {model.graph.output[k].name} {list(a.shape)}: "
              f"max |onnxruntime - ReferenceEvaluator| = {diff:.3g} (max |value| {float(np.max(np.abs(a))):.3g})")

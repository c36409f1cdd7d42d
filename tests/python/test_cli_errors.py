"""Bad input gets a clear error and a non-zero exit, never a crash or a partial output file."""
import os
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from ssmc_testing import SSMC, compile_model, save


def ssmc(*args):
    return subprocess.run([SSMC, *args], capture_output=True, text=True)


def small_model(op="Relu", opset=17, domain=""):
    x = h.make_tensor_value_info("x", T.FLOAT, [2, 3])
    node = h.make_node(op, ["x"], ["y"], name="n0", domain=domain)
    graph = h.make_graph([node], "g", [x], [h.make_tensor_value_info("y", T.FLOAT, None)])
    imports = [h.make_opsetid("", opset)] + ([h.make_opsetid(domain, 1)] if domain else [])
    return h.make_model(graph, opset_imports=imports)


def assert_fails_cleanly(result, out_dir, *needles):
    assert result.returncode != 0
    assert result.returncode < 128, f"crashed with signal: {result.stderr}"
    for needle in needles:
        assert needle in result.stderr, f"{needle!r} not in:\n{result.stderr}"
    assert not [f for f in os.listdir(out_dir) if f.endswith((".so", ".h")) or ".tmp" in f], os.listdir(out_dir)


@pytest.mark.parametrize("content", [b"", b"garbage\x00\xff not a protobuf at all" * 10, "truncated"])
def test_garbage_and_truncated_files(content, tmp_path):
    path = tmp_path / "bad.onnx"
    if content == "truncated":
        good = small_model().SerializeToString()
        content = good[: len(good) // 2]
    path.write_bytes(content)
    out = tmp_path / "out"
    out.mkdir()
    result = ssmc("compile", str(path), "-o", str(out / "lib.so"))
    assert_fails_cleanly(result, out, "bad.onnx")


def test_missing_external_data_file(tmp_path):
    model = small_model("Add")
    model.graph.node[0].input.append("w")
    weights = nh.from_array(np.ones((2, 3), np.float32), "w")
    model.graph.initializer.append(weights)
    onnx.save(model, str(tmp_path / "ext.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="ext.bin", size_threshold=0)
    os.remove(tmp_path / "ext.bin")
    out = tmp_path / "out"
    out.mkdir()
    assert_fails_cleanly(ssmc("compile", str(tmp_path / "ext.onnx"), "-o", str(out / "lib.so")), out, "ext.bin")


def test_unsupported_opset(tmp_path):
    path = save(small_model("Add", opset=6), tmp_path, "old.onnx")
    out = tmp_path / "out"
    out.mkdir()
    assert_fails_cleanly(ssmc("compile", path, "-o", str(out / "lib.so")), out, "Add version 6 (selected by opset 6) is not supported")


def test_every_unsupported_op_is_listed_at_once(tmp_path):
    x = h.make_tensor_value_info("x", T.FLOAT, [2, 3])
    nodes = [h.make_node("Frobnicate", ["x"], ["a"], name="first", domain="com.example"),
             h.make_node("Relu", ["a"], ["b"], name="ok"),
             h.make_node("Blorp", ["b"], ["y"], name="second", domain="com.example")]
    graph = h.make_graph(nodes, "g", [x], [h.make_tensor_value_info("y", T.FLOAT, None)])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("com.example", 1)])
    path = save(model, tmp_path, "unsupported.onnx")
    out = tmp_path / "out"
    out.mkdir()
    result = ssmc("compile", path, "-o", str(out / "lib.so"))
    assert_fails_cleanly(result, out, "com.example.Frobnicate", "node 'first'", "com.example.Blorp", "node 'second'", "opset 1")
    inspect = ssmc("inspect", path)
    assert inspect.returncode == 0 and "Frobnicate" in inspect.stdout and "Blorp" in inspect.stdout


def test_shape_error_names_the_node(tmp_path):
    a = h.make_tensor_value_info("a", T.FLOAT, [2, 3])
    b = h.make_tensor_value_info("b", T.FLOAT, [4])
    graph = h.make_graph([h.make_node("Add", ["a", "b"], ["y"], name="bad_add")], "g", [a, b],
                         [h.make_tensor_value_info("y", T.FLOAT, None)])
    path = save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), tmp_path, "shape.onnx")
    out = tmp_path / "out"
    out.mkdir()
    assert_fails_cleanly(ssmc("compile", path, "-o", str(out / "lib.so")), out, "bad_add", "broadcast")


def test_wrong_shaped_input_at_run_time(tmp_path):
    compiled_dir = tmp_path / "m"
    compiled_dir.mkdir()
    compile_model(small_model(), compiled_dir)
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((3, 2), np.float32))
    out = tmp_path / "out"
    out.mkdir()
    result = ssmc("run", str(compiled_dir / "libmodel.so"), "-i", str(bad), "-o", str(out))
    assert result.returncode == 1 and "shape" in result.stderr
    assert os.listdir(out) == []


def test_unknown_target_cpu(tmp_path):
    path = save(small_model(), tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    assert_fails_cleanly(ssmc("compile", path, "-o", str(out / "lib.so"), "--target-cpu", "pentium9000"), out, "pentium9000")


def test_symbolic_dims_need_input_shape(tmp_path):
    # A leading batch symbol may stay for run time (test_runtime_batch.py), and other symbolic dims where every
    # op on them takes run-time extents (test_runtime_dims.py); LpNormalization does not yet, so it needs --input-shape.
    x = h.make_tensor_value_info("x", T.FLOAT, [4, "width"])
    graph = h.make_graph([h.make_node("LpNormalization", ["x"], ["y"], axis=-1)], "g", [x], [h.make_tensor_value_info("y", T.FLOAT, None)])
    path = save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), tmp_path, "dyn.onnx")
    out = tmp_path / "out"
    out.mkdir()
    assert_fails_cleanly(ssmc("compile", path, "-o", str(out / "lib.so")), out, "--input-shape")
    fixed = ssmc("compile", path, "-o", str(out / "lib.so"), "--input-shape", "x=4x3")
    assert fixed.returncode == 0, fixed.stderr
    from ssmc_py import CompiledModel
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    x64 = x.astype(np.float64)
    want = x64 / np.sqrt((x64 * x64).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(CompiledModel(str(out / "lib.so")).run(x)[0], want, rtol=1e-6, atol=1e-7)

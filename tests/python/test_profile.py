"""`ssmc compile --profile`: the library times every node; the profile lists each node once per run and its
times add up to (at most) the run's wall time. No timing thresholds: only structure and consistency."""
import os
import re
import subprocess
import time

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from ssmc_testing import SSMC, assert_close, compile_model, run_onnxruntime, save


def small_model():
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((64, 64)).astype(np.float32), "w")
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    # Relu before the MatMul: after it, fuse-epilogue would merge the two into one node.
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="act"),
        helper.make_node("MatMul", ["r", "w"], ["mm"], name="project"),
        helper.make_node("Transpose", ["mm"], ["t"], perm=[1, 0], name="flip"),
        helper.make_node("ReduceSum", ["t", "axes"], ["y"], keepdims=0, name=""),  # unnamed: reported as node.N
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [32, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [64])], initializer=[w, axes])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_profile_lists_every_node_and_adds_up(tmp_path):
    model = small_model()
    compiled = compile_model(model, tmp_path, "--profile", threads=1)
    x = np.random.default_rng(1).standard_normal((32, 64)).astype(np.float32)
    assert_close(compiled.run(x)[0], run_onnxruntime(model, tmp_path, x)[0], rtol=1e-4, atol=1e-4)
    compiled.reset_profile()
    assert all(n["calls"] == 0 and n["ms"] == 0 and n["cpu_ms"] == 0 for n in compiled.profile())
    runs = 7
    start, cpu_start = time.perf_counter(), time.thread_time()
    for _ in range(runs):
        compiled.run(x)
    wall_ms = (time.perf_counter() - start) * 1e3
    cpu_ms = (time.thread_time() - cpu_start) * 1e3
    nodes = compiled.profile()
    assert [n["op"] for n in nodes] == ["Relu", "MatMul", "Transpose", "ReduceSum"]
    assert [n["name"] for n in nodes] == ["act", "project", "flip", "node.3"]
    assert nodes[1]["shapes"] == "32x64, 64x64 -> 32x64"
    assert nodes[3]["shapes"] == "64x32, 1 -> 64"
    assert all(n["calls"] == runs for n in nodes)
    total = sum(n["ms"] for n in nodes)
    assert 0 < total <= wall_ms, (total, wall_ms)
    # One thread: the nodes' CPU time is part of this thread's (same clock as thread_time; 1 ms of slack).
    total_cpu = sum(n["cpu_ms"] for n in nodes)
    assert 0 < total_cpu <= cpu_ms + 1.0, (total_cpu, cpu_ms)
    assert all(n["cpu_ms"] <= n["ms"] * 1.01 + 0.01 for n in nodes), nodes


def test_profile_of_unprofiled_library_is_empty(tmp_path):
    compiled = compile_model(small_model(), tmp_path)
    compiled.run(np.zeros((32, 64), np.float32))
    assert compiled._lib.ssmc_profile_num_nodes() == 0
    assert compiled.profile() == []


def test_header_declares_profile_functions(tmp_path):
    path = save(small_model(), tmp_path)
    header = os.path.join(str(tmp_path), "m.h")
    result = subprocess.run([SSMC, "compile", path, "--emit", "header", "--name", "m", "--profile", "-o", header],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    text = open(header).read()
    for symbol in ["m_profile_num_nodes", "m_profile(", "m_profile_reset", "typedef struct ssmc_node_profile"]:
        assert symbol in text
    assert re.search(r"\(4 in this library\)", text)


def test_profile_tool_prints_tables(tmp_path):
    compile_model(small_model(), tmp_path, "--profile")
    tools = os.path.join(os.path.dirname(__file__), "..", "..", "tools")
    result = subprocess.run([os.path.join(tools, "py"), os.path.join(tools, "profile_model.py"),
                             os.path.join(str(tmp_path), "libmodel.so"), "-", "--runs", "2"],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": tools})
    assert result.returncode == 0, result.stderr
    assert "4 nodes" in result.stdout
    for op in ["MatMul", "Relu", "Transpose", "ReduceSum"]:
        assert re.search(rf"^\s*[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+1\s+{op}$", result.stdout, re.M), result.stdout

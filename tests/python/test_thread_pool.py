"""The generated thread pool: work is claimed dynamically by the caller and whichever workers arrive, so
results must not depend on the thread count or on which thread ran which part. Runs with more threads than
the machine has cores (workers get preempted mid-job and join late), in two contexts used from two Python
threads at once, and against onnxruntime."""
import threading

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from ssmc_testing import assert_close, compile_model, run_onnxruntime
from ssmc_py import CompiledModel


def parallel_model():
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array((rng.standard_normal((64, 32, 3, 3)) * 0.1).astype(np.float32), "w")
    m = numpy_helper.from_array((rng.standard_normal((24, 40)) * 0.2).astype(np.float32), "m")
    axes = numpy_helper.from_array(np.array([-1], np.int64), "axes")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),      # GEMM tiles over the pool
        helper.make_node("Sigmoid", ["c"], ["s"]),                          # elementwise over the pool
        helper.make_node("Mul", ["c", "s"], ["silu"]),
        helper.make_node("ReduceSum", ["silu", "axes"], ["r"], keepdims=1),  # 1x64x24x1
        helper.make_node("Transpose", ["silu"], ["t"], perm=[0, 1, 3, 2]),  # 1x64x24x24
        helper.make_node("MatMul", ["t", "m"], ["mm"]),                     # 1x64x24x40
        helper.make_node("Add", ["mm", "r"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32, 24, 24])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64, 24, 40])],
                              initializer=[w, m, axes])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_results_do_not_depend_on_threads_or_scheduling(tmp_path):
    model = parallel_model()
    x = np.random.default_rng(1).standard_normal((1, 32, 24, 24)).astype(np.float32)
    serial = compile_model(model, tmp_path, threads=1).run(x)[0]
    assert_close(serial, run_onnxruntime(model, tmp_path, x)[0], rtol=1e-4, atol=1e-4)
    lib = str(tmp_path / "libmodel.so")
    for threads in [2, 3, 8]:
        compiled = CompiledModel(lib, threads=threads)
        for _ in range(30):
            np.testing.assert_array_equal(compiled.run(x)[0], serial)


def test_two_contexts_run_concurrently(tmp_path):
    model = parallel_model()
    x = np.random.default_rng(2).standard_normal((1, 32, 24, 24)).astype(np.float32)
    expected = compile_model(model, tmp_path, threads=1).run(x)[0]
    lib = str(tmp_path / "libmodel.so")
    failures = []

    def worker():
        compiled = CompiledModel(lib, threads=3)
        for _ in range(30):
            if not np.array_equal(compiled.run(x)[0], expected):
                failures.append("mismatch")

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures

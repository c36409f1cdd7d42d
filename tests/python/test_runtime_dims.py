"""Symbolic dims given at run time: a graph whose inputs keep symbolic dims after the leading one compiles once,
and the library runs it at any sizes, matching onnxruntime; wrong sizes get errors, and graphs with ops that
cannot take run-time extents yet are refused at compile time with --input-shape named as the way out."""
import ctypes
import os
import subprocess

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from ssmc_py import CompiledModel, SSMCError
from ssmc_testing import SSMC, compile_model, errors, run_onnxruntime, save

RNG = np.random.default_rng(7)


def model(nodes, inputs, inits=(), outputs=("y",)):
    outs = [h.make_tensor_value_info(name, T.FLOAT, None) for name in outputs]
    graph = h.make_graph(nodes, "runtime_dims", inputs, outs, list(inits))
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 18)])


def f32(name, dims):
    return h.make_tensor_value_info(name, T.FLOAT, dims)


def weight(name, *shape, scale=0.2):
    return nh.from_array((RNG.standard_normal(shape) * scale).astype(np.float32), name)


def token_mlp():
    """Two dense layers over tokens: [B, T, 32] -> [B, T, 16]."""
    nodes = [
        h.make_node("MatMul", ["x", "w1"], ["m1"]), h.make_node("Add", ["m1", "b1"], ["a1"]),
        h.make_node("Relu", ["a1"], ["r1"]), h.make_node("MatMul", ["r1", "w2"], ["m2"]),
        h.make_node("Sigmoid", ["m2"], ["y"]),
    ]
    return model(nodes, [f32("x", ["B", "T", 32])], [weight("w1", 32, 64), weight("b1", 64), weight("w2", 64, 16)])


def check_sizes(m, tmp_path, make_inputs, sizes, threads=0, rtol=1e-5, atol=1e-6):
    compiled = compile_model(m, tmp_path, threads=threads)
    for size in sizes:
        inputs = make_inputs(*size)
        got = compiled.run(*inputs)
        want = run_onnxruntime(m, tmp_path, *inputs)
        for k, (g, w) in enumerate(zip(got, want)):
            assert g.shape == w.shape, f"sizes {size} output {k}: shape {g.shape}, onnxruntime {w.shape}"
            max_abs, max_rel = errors(g, w)
            assert np.allclose(g, w, rtol=rtol, atol=atol), f"sizes {size} output {k}: max-abs {max_abs:.3g}, max-rel {max_rel:.3g}"
    return compiled


@pytest.mark.parametrize("threads", [1, 2])
def test_token_mlp_runs_at_any_batch_and_length(tmp_path, threads):
    sizes = [(1, 1), (2, 3), (1, 17), (3, 5), (2, 300), (1, 2)]
    check_sizes(token_mlp(), tmp_path, lambda b, t: [RNG.standard_normal((b, t, 32)).astype(np.float32)], sizes, threads)


def test_broadcasting_and_reshapes_over_runtime_dims(tmp_path):
    # x: [B, T, 8]; s: [B, 1, 1] scales each batch entry; the result is flattened per batch entry ([B, 8*T],
    # a view) and also returned as it is, through a Reshape that is a graph output (a copy).
    nodes = [
        h.make_node("Mul", ["x", "s"], ["xs"]), h.make_node("Add", ["xs", "bias"], ["a"]),
        h.make_node("Clip", ["a", "lo", "hi"], ["c"]), h.make_node("Tanh", ["c"], ["t"]),
        h.make_node("Reshape", ["t", "flat"], ["f"]), h.make_node("Neg", ["f"], ["y"]),
        h.make_node("Reshape", ["t", "same"], ["z"]),
    ]
    inits = [weight("bias", 8), nh.from_array(np.array(-0.5, np.float32), "lo"), nh.from_array(np.array(0.7, np.float32), "hi"),
             nh.from_array(np.array([0, -1], np.int64), "flat"), nh.from_array(np.array([0, 0, 8], np.int64), "same")]
    m = model(nodes, [f32("x", ["B", "T", 8]), f32("s", ["B", 1, 1])], inits, outputs=("y", "z"))

    def inputs(b, t):
        return [RNG.standard_normal((b, t, 8)).astype(np.float32), RNG.standard_normal((b, 1, 1)).astype(np.float32)]

    compiled = check_sizes(m, tmp_path, inputs, [(1, 1), (2, 5), (3, 33), (1, 4)])
    # The metadata marks the run-time dims -1.
    assert [i["shape"] for i in compiled.inputs] == [(-1, -1, 8), (-1, 1, 1)]
    assert [o["shape"] for o in compiled.outputs] == [(-1, -1), (-1, -1, 8)]


def test_scratch_grows_and_shrinking_sizes_still_match(tmp_path):
    m = token_mlp()
    compiled = compile_model(m, tmp_path)
    for b, t in [(1, 2), (4, 900), (1, 3), (2, 1500), (1, 1)]:
        x = RNG.standard_normal((b, t, 32)).astype(np.float32)
        (got,) = compiled.run(x)
        (want,) = run_onnxruntime(m, tmp_path, x)
        assert np.allclose(got, want, rtol=1e-5, atol=1e-6), errors(got, want)


def test_wrong_sizes_get_errors(tmp_path):
    nodes = [h.make_node("Add", ["a", "b"], ["y"])]
    m = model(nodes, [f32("a", ["B", "T", 8]), f32("b", ["B", "T", 8])])
    compiled = compile_model(m, tmp_path)
    ok = compiled.run(np.ones((2, 3, 8), np.float32), np.ones((2, 3, 8), np.float32))[0]
    assert ok.shape == (2, 3, 8) and np.all(ok == 2)
    with pytest.raises(SSMCError, match=r"input 1 'b': dim 1 is 4, but 'T' is 3 in an earlier dim"):
        compiled.run(np.ones((2, 3, 8), np.float32), np.ones((2, 4, 8), np.float32))
    with pytest.raises(SSMCError, match=r"input 0 'a': dim 1 is 0; the symbolic dim 'T' must be at least 1"):
        compiled.run(np.ones((2, 0, 8), np.float32), np.ones((2, 0, 8), np.float32))
    with pytest.raises(SSMCError, match=r"input 0 'a': expected shape \[2, 3, 8\], given \[2, 3, 7\]"):
        compiled.run(np.ones((2, 3, 7), np.float32), np.ones((2, 3, 8), np.float32))
    with pytest.raises(SSMCError, match=r"expected shape"):
        compiled.run(np.ones((3, 8), np.float32), np.ones((3, 8), np.float32))


def test_output_shape_abi_fills_runtime_dims(tmp_path):
    compile_model(token_mlp(), tmp_path)
    lib = ctypes.CDLL(os.path.join(tmp_path, "libmodel.so"))
    from ssmc_py.runtime import _Tensor
    lib.ssmc_create.restype = ctypes.c_void_p
    lib.ssmc_output_shape.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Tensor), ctypes.c_int32, ctypes.c_int32,
                                      ctypes.POINTER(ctypes.c_int64)]
    ctx = lib.ssmc_create()
    dims = (ctypes.c_int64 * 3)(5, 7, 32)
    tensor = (_Tensor * 1)(_Tensor(None, 1, 3, dims))
    out = (ctypes.c_int64 * 3)()
    assert lib.ssmc_output_shape(ctx, tensor, 1, 0, out) == 0
    assert list(out) == [5, 7, 16]
    lib.ssmc_destroy.argtypes = [ctypes.c_void_p]
    lib.ssmc_destroy(ctx)


def test_ops_without_runtime_extents_are_refused_with_the_way_out(tmp_path):
    nodes = [h.make_node("LpNormalization", ["x"], ["s"], axis=-1, p=2), h.make_node("Hardmax", ["s"], ["y"], axis=1)]
    nodes[0].name = "the_norm"
    m = model(nodes, [f32("x", ["B", "T", 8])])
    path = save(m, tmp_path)
    lib = os.path.join(tmp_path, "lib.so")
    result = subprocess.run([SSMC, "compile", path, "-o", lib], capture_output=True, text=True)
    assert result.returncode != 0
    assert "2 nodes cannot take extents given at run time yet (Hardmax x1, LpNormalization x1)" in result.stderr, result.stderr
    assert "the_norm" in result.stderr and "--input-shape" in result.stderr and "model.onnx" in result.stderr
    assert not os.path.exists(lib)
    fixed = subprocess.run([SSMC, "compile", path, "-o", lib, "--input-shape", "x=2x5x8"], capture_output=True, text=True)
    assert fixed.returncode == 0, fixed.stderr
    x = RNG.standard_normal((2, 5, 8)).astype(np.float32)
    (got,) = CompiledModel(lib).run(x)
    (want,) = run_onnxruntime(m, tmp_path, x)
    assert np.allclose(got, want, rtol=1e-5, atol=1e-6), errors(got, want)


def test_transformer_block_runs_at_any_sequence_length(tmp_path):
    """Pre-norm single-head self-attention and an MLP over [B, T, 32]: LayerNormalization, MatMuls with both
    operands of run-time size (Q K^T and the attention-weighted V), Transpose, Softmax over T."""
    d = 32
    nodes = [
        h.make_node("LayerNormalization", ["x", "g", "b"], ["ln"], axis=-1, epsilon=1e-5),
        h.make_node("MatMul", ["ln", "wq"], ["q"]), h.make_node("MatMul", ["ln", "wk"], ["k"]),
        h.make_node("MatMul", ["ln", "wv"], ["v"]), h.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        h.make_node("MatMul", ["q", "kt"], ["s"]), h.make_node("Mul", ["s", "scale"], ["s2"]),
        h.make_node("Softmax", ["s2"], ["p"], axis=-1), h.make_node("MatMul", ["p", "v"], ["o"]),
        h.make_node("Add", ["x", "o"], ["r"]), h.make_node("MatMul", ["r", "w1"], ["h1"]),
        h.make_node("Relu", ["h1"], ["a1"]), h.make_node("MatMul", ["a1", "w2"], ["h2"]),
        h.make_node("Add", ["r", "h2"], ["y"]),
    ]
    inits = [weight("g", d, scale=1.0), weight("b", d), weight("wq", d, d), weight("wk", d, d), weight("wv", d, d),
             nh.from_array(np.array(1 / np.sqrt(d), np.float32), "scale"), weight("w1", d, 64), weight("w2", 64, d)]
    m = model(nodes, [f32("x", ["B", "T", d])], inits)
    sizes = [(1, 1), (2, 7), (1, 64), (3, 19), (1, 2)]
    # Summation orders differ from onnxruntime's blocked products through two residual layers of O(1) values.
    check_sizes(m, tmp_path, lambda b, t: [RNG.standard_normal((b, t, d)).astype(np.float32)], sizes, threads=2, rtol=1e-4, atol=1e-5)


def test_symbolic_dims_typed_against_fixed_ones_are_checked(tmp_path):
    # [R, T] + [4, 1] is typed [4, T]: R must be 4, or 1 (broadcast); x [B, C] @ w [8, 3] needs C = 8.
    nodes = [h.make_node("Add", ["x", "b"], ["y"]), h.make_node("MatMul", ["z", "w"], ["m"])]
    m = model(nodes, [f32("x", ["R", "T"]), f32("z", ["B", "C"])],
              [weight("b", 4, 1), weight("w", 8, 3)], outputs=("y", "m"))
    compiled = compile_model(m, tmp_path)
    for r in [1, 4]:
        x = RNG.standard_normal((r, 5)).astype(np.float32)
        z = RNG.standard_normal((2, 8)).astype(np.float32)
        got = compiled.run(x, z)
        want = run_onnxruntime(m, tmp_path, x, z)
        for g, w in zip(got, want):
            assert g.shape == w.shape and np.allclose(g, w, rtol=1e-5, atol=1e-6), errors(g, w)
    with pytest.raises(SSMCError, match=r"do not fit the model: Add .*operand 0 dim 0 \(R\) must be 4 or 1"):
        compiled.run(np.ones((2, 5), np.float32), np.ones((2, 8), np.float32))
    with pytest.raises(SSMCError, match=r"do not fit the model: MatMul .*inner dim \(C\) must be 8"):
        compiled.run(np.ones((4, 5), np.float32), np.ones((2, 7), np.float32))


def test_an_input_smaller_than_a_window_is_refused(tmp_path):
    m = model([h.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3])], [f32("x", ["B", 2, "H", "W"])],
              [weight("w", 4, 2, 3, 3)])
    compiled = compile_model(m, tmp_path)
    x = RNG.standard_normal((1, 2, 5, 4)).astype(np.float32)
    (got,) = compiled.run(x)
    (want,) = run_onnxruntime(m, tmp_path, x)
    assert got.shape == (1, 4, 3, 2) and np.allclose(got, want, rtol=1e-5, atol=1e-6), errors(got, want)
    with pytest.raises(SSMCError, match=r"do not fit the model: Conv .*output dim 2 \(H - 2\) must be at least 1"):
        compiled.run(np.ones((1, 2, 2, 4), np.float32))


def test_conv_batchnorm_relu_at_free_image_sizes(tmp_path):
    c = 6
    nodes = [h.make_node("Conv", ["x", "w"], ["y0"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
             h.make_node("BatchNormalization", ["y0", "s", "bias", "mean", "var"], ["y1"], epsilon=1e-3),
             h.make_node("Relu", ["y1"], ["y"])]
    inits = [weight("w", c, 3, 3, 3), weight("s", c, scale=1.0), weight("bias", c), weight("mean", c),
             nh.from_array((RNG.random(c) + 0.5).astype(np.float32), "var")]
    m = model(nodes, [f32("x", ["B", 3, "H", "W"])], inits)
    check_sizes(m, tmp_path, lambda b, height, width: [RNG.standard_normal((b, 3, height, width)).astype(np.float32)],
                [(1, 1, 1), (2, 7, 9), (1, 32, 17), (3, 4, 4)])


def test_inspect_says_whether_the_dims_can_stay_for_run_time(tmp_path):
    ok = save(token_mlp(), tmp_path, "mlp.onnx")
    result = subprocess.run([SSMC, "inspect", ok], capture_output=True, text=True)
    assert result.returncode == 0 and "'T' of input 'x' is given at run time" in result.stdout, result.stdout
    assert "y: f32[B,T,16]" in result.stdout
    refused = model([h.make_node("LpNormalization", ["x"], ["y"], axis=-1)], [f32("x", ["B", "T", 8])])
    result = subprocess.run([SSMC, "inspect", save(refused, tmp_path, "lp.onnx")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "'T' of input 'x' is to be fixed with --input-shape" in result.stdout and "LpNormalization x1" in result.stdout, result.stdout


@pytest.mark.parametrize("exclusive, reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_cumsum_along_runtime_axes(tmp_path, exclusive, reverse):
    nodes = [h.make_node("CumSum", ["x", "axis"], ["y"], exclusive=exclusive, reverse=reverse)]
    m = model(nodes, [f32("x", ["B", "T", 8])], [nh.from_array(np.array(1, np.int64), "axis")])
    check_sizes(m, tmp_path, lambda b, t: [RNG.standard_normal((b, t, 8)).astype(np.float32)], [(1, 1), (2, 9), (3, 40)])


EINSUMS = {
    "batched matmul": ("bij,bjk->bik", [["B", "I", 6], ["B", 6, "K"]]),
    "attention scores": ("bhqd,bhkd->bhqk", [["B", 2, "T", 4], ["B", 2, "T", 4]]),
    "weighted sum": ("bi,i->b", [["B", 5], [5]]),
    "ellipsis transpose": ("...ij->...ji", [["B", "I", 3]]),
    "outer product": ("bi,bj->bij", [["B", "I"], ["B", 4]]),
}


@pytest.mark.parametrize("case", sorted(EINSUMS))
def test_einsum_over_runtime_extents(tmp_path, case):
    equation, shapes = EINSUMS[case]
    names = [f"x{i}" for i in range(len(shapes))]
    m = model([h.make_node("Einsum", names, ["y"], equation=equation)], [f32(n, s) for n, s in zip(names, shapes)])

    def inputs(b, i, k, t):
        size = {"B": b, "I": i, "K": k, "T": t}
        return [RNG.standard_normal([size.get(d, d) for d in s]).astype(np.float32) for s in shapes]

    check_sizes(m, tmp_path, inputs, [(1, 1, 1, 1), (2, 3, 5, 7), (3, 8, 2, 4)], rtol=1e-5, atol=1e-5)

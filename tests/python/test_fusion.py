"""Fusion passes end to end: small graphs with elementwise chains, broadcasting, shared intermediates, and the
GELU / LayerNorm / RMSNorm spellings exporters emit. Each test checks the fused node is in the IR (so the test
exercises the fused lowering) and compares the compiled result with onnxruntime or numpy float64."""
import os
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

from ssmc_testing import SSMC, assert_close, compile_model, ir_after_pipeline, run_onnxruntime, save

rng = np.random.default_rng(7)
UNFUSED = "shape-inference,fold-constants,cse,dce"

NP_TO_ONNX = {np.float32: T.FLOAT, np.float64: T.DOUBLE, np.int64: T.INT64, np.bool_: T.BOOL}


def model_of(nodes, inputs, outputs, constants=None):
    """A model from nodes, input arrays by name (their shapes and types), output names, constant arrays."""
    infos = [h.make_tensor_value_info(n, NP_TO_ONNX[a.dtype.type], a.shape) for n, a in inputs.items()]
    outs = [onnx.ValueInfoProto(name=n) for n in outputs]
    inits = [numpy_helper.from_array(a, n) for n, a in (constants or {}).items()]
    graph = h.make_graph(nodes, "g", infos, outs, initializer=inits)
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 18)])


def fused_ir(model, directory):
    """The IR after the standard pipeline."""
    return ir_after_pipeline(model, directory)


def check(model, directory, inputs, expect_in_ir, rtol=2e-6, atol=2e-6, reference=None):
    """Compiles with the standard pipeline (asserting each `expect_in_ir` text appears in the IR) and with
    fusion off; both must match the reference (onnxruntime unless given)."""
    ir = fused_ir(model, directory)
    for text in expect_in_ir:
        assert text in ir, f"expected {text!r} in the fused IR:\n{ir}"
    want = reference if reference is not None else run_onnxruntime(model, directory, *inputs)
    fused = compile_model(model, directory).run(*inputs)
    unfused_dir = os.path.join(str(directory), "unfused")
    os.makedirs(unfused_dir, exist_ok=True)
    unfused = compile_model(model, unfused_dir, "--passes", UNFUSED).run(*inputs)
    for k, expected in enumerate(want):
        assert_close(fused[k], expected, rtol=rtol, atol=atol, what=f"fused output {k}")
        assert_close(unfused[k], expected, rtol=rtol, atol=atol, what=f"unfused output {k}")
    return ir


def test_silu_chain_with_broadcast_bias(tmp_path):
    x = rng.standard_normal((2, 5, 33)).astype(np.float32)
    b = rng.standard_normal((33,)).astype(np.float32)
    nodes = [h.make_node("Add", ["x", "b"], ["t"]), h.make_node("Sigmoid", ["t"], ["s"]),
             h.make_node("Mul", ["x", "s"], ["y"])]
    ir = check(model_of(nodes, {"x": x, "b": b}, ["y"]), tmp_path, [x, b], ['expr = "Mul(a0, Sigmoid(Add(a0, a1)))"'])
    assert "Sigmoid(%" not in ir


def test_chain_broadcasting_both_ways_with_literals(tmp_path):
    x = rng.standard_normal((3, 1, 17)).astype(np.float32)
    c = rng.uniform(0.5, 2, (4, 1)).astype(np.float32)
    consts = {"half": np.array(0.5, np.float32), "third": np.array([1 / 3], np.float32), "two": np.array(2, np.float32)}
    nodes = [h.make_node("Mul", ["x", "c"], ["m"]), h.make_node("Add", ["m", "half"], ["a"]),
             h.make_node("Mul", ["third", "a"], ["t"]), h.make_node("Pow", ["t", "two"], ["p"]),
             h.make_node("Tanh", ["p"], ["y"])]
    check(model_of(nodes, {"x": x, "c": c}, ["y"], consts), tmp_path, [x, c],
          ['expr = "Tanh(Pow(Mul(0.33333334, Add(Mul(a0, a1), 0.5)), 2.0))"', "f32[3,4,17]"])


def test_shared_and_returned_intermediates_stay(tmp_path):
    x = rng.standard_normal((4, 9)).astype(np.float32)
    y = rng.standard_normal((9,)).astype(np.float32)
    nodes = [h.make_node("Add", ["x", "y"], ["t"]), h.make_node("Neg", ["t"], ["n"]), h.make_node("Exp", ["n"], ["p"]),
             h.make_node("Abs", ["t"], ["a"]), h.make_node("Sqrt", ["a"], ["q"]),
             h.make_node("Sub", ["x", "y"], ["u"]), h.make_node("Relu", ["u"], ["r"])]
    ir = check(model_of(nodes, {"x": x, "y": y}, ["p", "q", "u", "r"]), tmp_path, [x, y],
               ['expr = "Exp(Neg(a0))"', 'expr = "Sqrt(Abs(a0))"', "%t = Add(%x, %y)", "%u = Sub(%x, %y)",
                "%r = Relu(%u)"])
    assert ir.count("FusedElementwise") == 2


def test_where_comparison_cast_and_attributes(tmp_path):
    x = (rng.standard_normal((3, 40)) * 4).astype(np.float32)
    consts = {"zero": np.array(0, np.float32)}
    nodes = [h.make_node("Greater", ["x", "zero"], ["c"]), h.make_node("LeakyRelu", ["x"], ["l"], alpha=0.15),
             h.make_node("Floor", ["x"], ["f"]), h.make_node("Where", ["c", "l", "f"], ["w"]),
             h.make_node("Cast", ["w"], ["d"], to=T.DOUBLE), h.make_node("Round", ["x"], ["r"]),
             h.make_node("Cast", ["r"], ["i"], to=T.INT64)]
    check(model_of(nodes, {"x": x}, ["d", "i"], consts), tmp_path, [x],
          ['expr = "Cast{to=11}(Where(Greater(a0, 0.0), LeakyRelu{alpha=0.15}(a0), Floor(a0)))"} : f64[3,40]',
           'expr = "Cast{to=7}(Round(a0))"} : i64[3,40]'])


def test_f64_chain(tmp_path):
    x = rng.standard_normal((5, 7)).astype(np.float64)
    consts = {"k": np.array(0.1, np.float64)}
    nodes = [h.make_node("Mul", ["x", "k"], ["m"]), h.make_node("Exp", ["m"], ["e"]), h.make_node("Log", ["e"], ["y"])]
    check(model_of(nodes, {"x": x}, ["y"], consts), tmp_path, [x], ['expr = "Log(Exp(Mul(a0, 0.1)))"'],
          rtol=1e-12, atol=1e-14, reference=[x * 0.1])


def test_per_row_factor_is_not_recomputed(tmp_path):
    x = rng.standard_normal((6, 32)).astype(np.float32)
    v = rng.uniform(0.1, 3, (6, 1)).astype(np.float32)
    consts = {"eps": np.array(1e-5, np.float32)}
    nodes = [h.make_node("Add", ["v", "eps"], ["e"]), h.make_node("Sqrt", ["e"], ["s"]),
             h.make_node("Reciprocal", ["s"], ["r"]), h.make_node("Mul", ["x", "r"], ["m"]), h.make_node("Relu", ["m"], ["y"])]
    check(model_of(nodes, {"x": x, "v": v}, ["y"], consts), tmp_path, [x, v],
          ['expr = "Reciprocal(Sqrt(Add(a0, 1e-05)))"} : f32[6,1]', 'expr = "Relu(Mul(a0, a1))"} : f32[6,32]'])


@pytest.mark.parametrize("spelling", ["div", "mul", "half_first"])
def test_gelu_spellings_with_bias(spelling, tmp_path):
    x = (rng.standard_normal((4, 48)) * 2).astype(np.float32)
    b = rng.standard_normal((48,)).astype(np.float32)
    consts = {"one": np.array(1, np.float32), "half": np.array(0.5, np.float32),
              "sqrt2": np.array(np.sqrt(2), np.float32), "rsqrt2": np.array(1 / np.sqrt(2), np.float32)}
    scale = h.make_node("Div", ["t", "sqrt2"], ["u"]) if spelling == "div" else h.make_node("Mul", ["rsqrt2", "t"], ["u"])
    nodes = [h.make_node("Add", ["b", "x"], ["t"]), scale, h.make_node("Erf", ["u"], ["e"]),
             h.make_node("Add", ["one", "e"], ["e1"])]
    if spelling == "half_first":
        nodes += [h.make_node("Mul", ["t", "half"], ["ht"]), h.make_node("Mul", ["ht", "e1"], ["y"])]
    else:
        nodes += [h.make_node("Mul", ["t", "e1"], ["p"]), h.make_node("Mul", ["p", "half"], ["y"])]
    ir = check(model_of(nodes, {"x": x, "b": b}, ["y"], consts), tmp_path, [x, b], ['expr = "Gelu(Add(a0, a1))"'])
    assert "Erf" not in ir


def numpy_layernorm(x, axes, eps, gamma=None, beta=None):
    x = x.astype(np.float64)
    m = x.mean(axis=axes, keepdims=True)
    d = x - m
    y = d / np.sqrt((d * d).mean(axis=axes, keepdims=True) + eps)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


@pytest.mark.parametrize("axes", [[-1], [1, 2]])
def test_layernorm_decomposition(axes, tmp_path):
    x = (rng.standard_normal((2, 6, 20)) * 3 + 5).astype(np.float32)
    gshape = (20,) if axes == [-1] else (6, 20)
    g = rng.standard_normal(gshape).astype(np.float32)
    b = rng.standard_normal((20,)).astype(np.float32)
    consts = {"axes": np.array(axes, np.int64), "two": np.array(2, np.float32), "eps": np.array(1e-5, np.float32)}
    nodes = [h.make_node("ReduceMean", ["x", "axes"], ["m"]), h.make_node("Sub", ["x", "m"], ["d"]),
             h.make_node("Pow", ["d", "two"], ["q"]), h.make_node("ReduceMean", ["q", "axes"], ["v"]),
             h.make_node("Add", ["v", "eps"], ["ve"]), h.make_node("Sqrt", ["ve"], ["s"]),
             h.make_node("Div", ["d", "s"], ["n"]), h.make_node("Mul", ["n", "g"], ["ng"]),
             h.make_node("Add", ["ng", "b"], ["y"])]
    axis = -1 if axes == [-1] else -2
    want = numpy_layernorm(x, tuple(axes), 1e-5, g, b)
    check(model_of(nodes, {"x": x, "g": g, "b": b}, ["y"], consts), tmp_path, [x, g, b],
          [f"LayerNormalization(%x, %g, %b) {{axis = {axis}, epsilon = 1e-05}}"], rtol=1e-4, atol=1e-5, reference=[want])


@pytest.mark.parametrize("spelling", ["vim", "div"])
def test_rmsnorm_decomposition(spelling, tmp_path):
    x = rng.standard_normal((1, 17, 32)).astype(np.float32)
    w = rng.standard_normal((32,)).astype(np.float32)
    consts = {"axes": np.array([-1], np.int64), "two": np.array(2, np.float32), "eps": np.array(1e-5, np.float32),
              "one": np.array(1, np.float32)}
    nodes = [h.make_node("Pow", ["x", "two"], ["q"]), h.make_node("ReduceMean", ["q", "axes"], ["v"]),
             h.make_node("Add", ["v", "eps"], ["ve"]), h.make_node("Sqrt", ["ve"], ["s"])]
    if spelling == "vim":
        nodes += [h.make_node("Div", ["one", "s"], ["r"]), h.make_node("Mul", ["x", "r"], ["n"])]
    else:
        nodes += [h.make_node("Div", ["x", "s"], ["n"])]
    nodes += [h.make_node("Mul", ["n", "w"], ["y"]), h.make_node("Add", ["x", "y"], ["z"])]
    x64 = x.astype(np.float64)
    want = x64 + x64 / np.sqrt((x64 * x64).mean(axis=-1, keepdims=True) + 1e-5) * w
    check(model_of(nodes, {"x": x, "w": w}, ["z"], consts), tmp_path, [x, w],
          ["RMSNormalization(%x, %w) {axis = -1, epsilon = 1e-05}"], rtol=1e-5, atol=1e-5, reference=[want])


def ssmc_fused_model(expr, inputs):
    infos = [h.make_tensor_value_info(n, NP_TO_ONNX[a.dtype.type], a.shape) for n, a in inputs.items()]
    node = h.make_node("FusedElementwise", list(inputs), ["y"], domain="ai.ssmc", expr=expr)
    graph = h.make_graph([node], "g", infos, [onnx.ValueInfoProto(name="y")])
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 18), h.make_opsetid("ai.ssmc", 1)])


def test_hand_written_fused_node_in_onnx(tmp_path):
    x = rng.standard_normal((3, 1, 10)).astype(np.float32)
    y = rng.standard_normal((4, 1)).astype(np.float32)
    model = ssmc_fused_model("Where(Greater(a0, a1), Mul(a0, 2.5), Gelu{approximate='tanh'}(a1))", {"x": x, "y": y})
    got = compile_model(model, tmp_path).run(x, y)[0]
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    gelu_tanh = 0.5 * y64 * (1 + np.tanh(np.sqrt(2 / np.pi) * (y64 + 0.044715 * y64 ** 3)))
    want = np.where(x64 > y64, x64 * 2.5, np.broadcast_to(gelu_tanh, (3, 4, 10)))
    assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("expr,message", [
    ("MatMul(a0, a0)", "not a fusable elementwise op"),
    ("Add(a0, a1)", "expression reads a1"),
    ("Add(a0, 0.5", "expected ')'"),
])
def test_bad_fused_expression_is_a_compile_error(expr, message, tmp_path):
    path = save(ssmc_fused_model(expr, {"x": np.zeros((2, 2), np.float32)}), tmp_path)
    result = subprocess.run([SSMC, "compile", path, "-o", os.path.join(str(tmp_path), "lib.so")], capture_output=True, text=True)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr

"""fuse-epilogue end to end: MatMul / Gemm / Conv followed by elementwise work (GELU in both spellings, Relu, bias
and residual Adds, a scalar Mul, chains) compile to one ssmc.FusedMatMul / FusedGemm / FusedConv node whose GEMM
applies the expression in its store. Each test checks the fused node is in the IR and compares with onnxruntime.
Sizes are odd on purpose: N not a multiple of the vector width, few rows, several K chunks."""
import math
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

from ssmc_testing import assert_close, compile_model, ir_after_pipeline, run_onnxruntime

rng = np.random.default_rng(11)
# The standard pipeline without fuse-epilogue.
UNFUSED = ("shape-inference,fold-constants,expand-s4nd,raise-linear-attention,raise-selective-scan,fold-scan-operands,absorb-scan-layouts,"
           "fold-pad-into-conv,cse,fuse-layernorm,fuse-gelu,fuse-elementwise,dce")


def model_of(nodes, inputs, constants=None, outputs=("y",)):
    infos = [h.make_tensor_value_info(n, T.FLOAT, a.shape) for n, a in inputs.items()]
    inits = [numpy_helper.from_array(a, n) for n, a in (constants or {}).items()]
    graph = h.make_graph(nodes, "g", infos, [onnx.ValueInfoProto(name=o) for o in outputs], initializer=inits)
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 20)])


def ir_of(model, directory):
    return ir_after_pipeline(model, directory)


def check(model, directory, inputs, fused_op, expr=None, fused=True, rtol=1e-5, atol=1e-5):
    """Asserts the IR has (or, with fused=False, lacks) `fused_op` and the compiled model matches onnxruntime."""
    ir = ir_of(model, directory)
    if fused:
        assert fused_op in ir, f"expected {fused_op} in the IR:\n{ir}"
        if expr is not None:
            assert f'expr = "{expr}"' in ir, f"expected expr {expr!r} in the IR:\n{ir}"
    else:
        assert fused_op not in ir, f"did not expect {fused_op} in the IR:\n{ir}"
    want = run_onnxruntime(model, directory, *inputs)
    got = compile_model(model, directory).run(*inputs)
    for k, expected in enumerate(want):
        assert_close(got[k], expected, rtol=rtol, atol=atol, what=f"output {k}")
    # The epilogue evaluates each op with the formula the unfused lowering uses, in the same order: the fused
    # library must give the unfused one's bits.
    unfused_dir = os.path.join(str(directory), "unfused")
    os.makedirs(unfused_dir, exist_ok=True)
    separate = compile_model(model, unfused_dir, "--passes", UNFUSED).run(*inputs)
    for k in range(len(want)):
        assert np.array_equal(got[k], separate[k]), f"output {k}: fused and unfused differ by {np.abs(got[k] - separate[k]).max()}"
    return ir


def gelu_erf_nodes(x, y):
    """The 5-node erf GELU exporters emit (fuse-gelu turns it into Gelu)."""
    return [h.make_node("Div", [x, "sqrt2"], [y + "_d"]), h.make_node("Erf", [y + "_d"], [y + "_e"]),
            h.make_node("Add", [y + "_e", "one"], [y + "_a"]), h.make_node("Mul", [x, y + "_a"], [y + "_m"]),
            h.make_node("Mul", [y + "_m", "half"], [y])]


GELU_CONSTS = {"sqrt2": np.array(math.sqrt(2), np.float32), "one": np.array(1, np.float32),
               "half": np.array(0.5, np.float32)}


def randn(*shape):
    return rng.standard_normal(shape).astype(np.float32)


# MatMul

@pytest.mark.parametrize("m,k,n", [(3, 20, 37), (50, 70, 45), (130, 300, 33)])
def test_matmul_2d_gelu_erf_constant_weights(tmp_path, m, k, n):
    x, w, b = randn(m, k), randn(k, n) * 0.2, randn(n)
    nodes = [h.make_node("MatMul", ["x", "w"], ["p"]), h.make_node("Add", ["p", "b"], ["t"])] + gelu_erf_nodes("t", "y")
    check(model_of(nodes, {"x": x}, {"w": w, "b": b, **GELU_CONSTS}), tmp_path, [x], "ssmc.FusedMatMul",
          expr="Gelu(Add(a0, a1))")


@pytest.mark.parametrize("shape_a,shape_b", [((2, 7, 24), (24, 40)), ((3, 30, 17), (3, 17, 19)), ((2, 1, 25, 9), (4, 9, 33))])
def test_matmul_batched_runtime_b_gelu_op(tmp_path, shape_a, shape_b):
    a, b = randn(*shape_a), randn(*shape_b)
    nodes = [h.make_node("MatMul", ["a", "b"], ["p"]), h.make_node("Gelu", ["p"], ["y"])]
    check(model_of(nodes, {"a": a, "b": b}), tmp_path, [a, b], "ssmc.FusedMatMul", expr="Gelu(a0)")


def test_matmul_batched_constant_b_folds_rows_with_residual_and_bias(tmp_path):
    # B shared by the batch: the kernel folds (4, 29) into 116 rows; the residual is indexed by the flat row.
    x, w, b, r = randn(4, 29, 48), randn(48, 35) * 0.2, randn(35), randn(4, 29, 35)
    nodes = [h.make_node("MatMul", ["x", "w"], ["p"]), h.make_node("Add", ["p", "b"], ["t"]),
             h.make_node("Add", ["r", "t"], ["y"])]
    check(model_of(nodes, {"x": x, "r": r}, {"w": w, "b": b}), tmp_path, [x, r], "ssmc.FusedMatMul")


def test_matmul_folded_rows_with_extra_broadcast_over_rows_per_batch(tmp_path):
    # The extra varies per batch but not per row inside it: a folded row is unflattened to find its batch.
    x, w, s = randn(3, 22, 40), randn(40, 21), randn(3, 1, 21)
    nodes = [h.make_node("MatMul", ["x", "w"], ["p"]), h.make_node("Mul", ["p", "s"], ["y"])]
    check(model_of(nodes, {"x": x, "s": s}, {"w": w}), tmp_path, [x, s], "ssmc.FusedMatMul", expr="Mul(a0, a1)")


def test_matmul_relu_and_scalar_mul(tmp_path):
    x, w = randn(40, 64), randn(64, 50)
    nodes = [h.make_node("MatMul", ["x", "w"], ["p"]), h.make_node("Relu", ["p"], ["q"]),
             h.make_node("Mul", ["q", "s"], ["y"])]
    check(model_of(nodes, {"x": x}, {"w": w, "s": np.array(0.125, np.float32)}), tmp_path, [x], "ssmc.FusedMatMul",
          expr="Mul(Relu(a0), 0.125)")


def test_matmul_column_vector_extra_and_runtime_scalar(tmp_path):
    # A per-row (M, 1) extra and a run-time one-element scalar.
    x, w, c, s = randn(33, 20), randn(20, 18), randn(33, 1), randn(1)
    nodes = [h.make_node("MatMul", ["x", "w"], ["p"]), h.make_node("Sub", ["p", "c"], ["t"]),
             h.make_node("Mul", ["t", "s"], ["y"])]
    check(model_of(nodes, {"x": x, "c": c, "s": s}, {"w": w}), tmp_path, [x, c, s], "ssmc.FusedMatMul")


# Gemm

@pytest.mark.parametrize("trans_a,trans_b,alpha,beta,c_shape", [
    (0, 0, 1.0, 1.0, (37,)), (1, 0, 0.5, 2.0, (29, 37)), (0, 1, 1.5, 1.0, (29, 1)), (1, 1, 1.0, 0.0, (37,)),
    (0, 1, 1.0, 1.0, None)])
def test_gemm_with_relu_and_gelu(tmp_path, trans_a, trans_b, alpha, beta, c_shape):
    m, k, n = 29, 45, 37
    a = randn(*((k, m) if trans_a else (m, k)))
    b = randn(*((n, k) if trans_b else (k, n))) * 0.3
    inputs = ["a", "b"] + (["c"] if c_shape else [])
    consts = {"b": b, **({"c": randn(*c_shape)} if c_shape else {})}
    nodes = [h.make_node("Gemm", inputs, ["p"], transA=trans_a, transB=trans_b, alpha=alpha, beta=beta),
             h.make_node("Relu", ["p"], ["q"]), h.make_node("Gelu", ["q"], ["y"])]
    check(model_of(nodes, {"a": a}, consts), tmp_path, [a], "ssmc.FusedGemm", expr="Gelu(Relu(a0))")


def test_gemm_runtime_b_residual(tmp_path):
    a, b, r = randn(40, 30), randn(30, 21), randn(40, 21)
    nodes = [h.make_node("Gemm", ["a", "b"], ["p"]), h.make_node("Add", ["p", "r"], ["y"])]
    check(model_of(nodes, {"a": a, "b": b, "r": r}), tmp_path, [a, b, r], "ssmc.FusedGemm", expr="Add(a0, a1)")


# Conv

@pytest.mark.parametrize("bias", [True, False])
def test_conv_1x1_gelu(tmp_path, bias):
    x, w, b = randn(2, 24, 9, 7), randn(40, 24, 1, 1) * 0.3, randn(40)
    inputs = ["x", "w"] + (["b"] if bias else [])
    nodes = [h.make_node("Conv", inputs, ["p"], kernel_shape=[1, 1]), h.make_node("Gelu", ["p"], ["y"])]
    check(model_of(nodes, {"x": x}, {"w": w, "b": b}), tmp_path, [x], "ssmc.FusedConv", expr="Gelu(a0)")


def test_conv_1x1_erf_gelu_then_residual(tmp_path):
    x, w, b, r = randn(1, 32, 8, 11), randn(20, 32, 1, 1) * 0.3, randn(20), randn(1, 20, 8, 11)
    nodes = ([h.make_node("Conv", ["x", "w", "b"], ["p"], kernel_shape=[1, 1])] + gelu_erf_nodes("p", "g")
             + [h.make_node("Add", ["g", "r"], ["y"])])
    check(model_of(nodes, {"x": x, "r": r}, {"w": w, "b": b, **GELU_CONSTS}), tmp_path, [x, r], "ssmc.FusedConv",
          expr="Add(Gelu(a0), a1)")


def test_conv_3x3_padded_channel_scale_relu(tmp_path):
    # Padded 3x3: the GEMM runs on the padded grid and the expression in the crop; per-channel extra.
    x, w, s = randn(2, 6, 10, 13), randn(12, 6, 3, 3) * 0.3, randn(1, 12, 1, 1)
    nodes = [h.make_node("Conv", ["x", "w"], ["p"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             h.make_node("Mul", ["p", "s"], ["t"]), h.make_node("Relu", ["t"], ["y"])]
    check(model_of(nodes, {"x": x}, {"w": w, "s": s}), tmp_path, [x], "ssmc.FusedConv", expr="Relu(Mul(a0, a1))")


def test_conv_strided_grouped_im2col_residual(tmp_path):
    # Stride 2 and groups: the im2col GEMM, per (image, group), with a full residual.
    x, w, b = randn(2, 8, 15, 12), randn(16, 4, 3, 3) * 0.3, randn(16)
    r = randn(2, 16, 7, 5)
    nodes = [h.make_node("Conv", ["x", "w", "b"], ["p"], kernel_shape=[3, 3], strides=[2, 2], group=2),
             h.make_node("Add", ["p", "r"], ["q"]), h.make_node("Sigmoid", ["q"], ["y"])]
    check(model_of(nodes, {"x": x, "r": r}, {"w": w, "b": b}), tmp_path, [x, r], "ssmc.FusedConv")


def test_conv_1d_bias_gelu(tmp_path):
    x, w, b = randn(3, 10, 37), randn(8, 10, 3) * 0.3, randn(8)
    nodes = [h.make_node("Conv", ["x", "w", "b"], ["p"], kernel_shape=[3], pads=[2, 0]), h.make_node("Gelu", ["p"], ["y"])]
    check(model_of(nodes, {"x": x}, {"w": w, "b": b}), tmp_path, [x], "ssmc.FusedConv", expr="Gelu(a0)")


# Not fused

def test_depthwise_conv_is_not_fused(tmp_path):
    x, w = randn(1, 16, 12, 12), randn(16, 1, 3, 3)
    nodes = [h.make_node("Conv", ["x", "w"], ["p"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=16),
             h.make_node("Relu", ["p"], ["y"])]
    check(model_of(nodes, {"x": x}, {"w": w}), tmp_path, [x], "ssmc.FusedConv", fused=False)


def test_product_with_two_users_is_not_fused(tmp_path):
    x, w = randn(25, 30), randn(30, 25)
    nodes = [h.make_node("MatMul", ["x", "w"], ["p"]), h.make_node("Relu", ["p"], ["q"]),
             h.make_node("Transpose", ["p"], ["t"]), h.make_node("Add", ["q", "t"], ["y"])]
    check(model_of(nodes, {"x": x}, {"w": w}), tmp_path, [x], "ssmc.FusedMatMul", fused=False)


def test_product_that_is_a_graph_output_is_not_fused(tmp_path):
    x, w = randn(20, 30), randn(30, 25)
    nodes = [h.make_node("MatMul", ["x", "w"], ["p"]), h.make_node("Relu", ["p"], ["y"])]
    check(model_of(nodes, {"x": x}, {"w": w}, outputs=("y", "p")), tmp_path, [x], "ssmc.FusedMatMul", fused=False)


def test_chain_over_two_products_fuses_one(tmp_path):
    # Add(MatMul, MatMul): the Add is the only user of both; one product takes it, the other stays an operand.
    x, w1, w2 = randn(20, 30), randn(30, 25), randn(30, 25)
    nodes = [h.make_node("MatMul", ["x", "w1"], ["p"]), h.make_node("MatMul", ["x", "w2"], ["q"]),
             h.make_node("Add", ["p", "q"], ["y"])]
    ir = check(model_of(nodes, {"x": x}, {"w1": w1, "w2": w2}), tmp_path, [x], "ssmc.FusedMatMul", expr="Add(a0, a1)")
    assert ir.count("ssmc.FusedMatMul") == 1 and ir.count("MatMul(") == 2


def test_product_broadcast_up_is_not_fused(tmp_path):
    x, w, r = randn(20, 30), randn(30, 25), randn(3, 20, 25)
    nodes = [h.make_node("MatMul", ["x", "w"], ["p"]), h.make_node("Add", ["p", "r"], ["y"])]
    check(model_of(nodes, {"x": x, "r": r}, {"w": w}), tmp_path, [x, r], "ssmc.FusedMatMul", fused=False)


def test_transposed_operand_view_and_transposed_extra(tmp_path):
    # q @ k^T * scale + mask^T: k's Transpose is read in place through strides (a view); the Transpose feeding
    # the extra must be materialized, since extras are read contiguously.
    q, kk, mask = randn(2, 30, 16), randn(2, 26, 16), randn(2, 26, 30)
    nodes = [h.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]), h.make_node("MatMul", ["q", "kt"], ["s"]),
             h.make_node("Mul", ["s", "scale"], ["t"]), h.make_node("Transpose", ["mask"], ["mt"], perm=[0, 2, 1]),
             h.make_node("Add", ["t", "mt"], ["y"])]
    check(model_of(nodes, {"q": q, "k": kk, "mask": mask}, {"scale": np.array(0.25, np.float32)}), tmp_path,
          [q, kk, mask], "ssmc.FusedMatMul", expr="Add(Mul(a0, 0.25), a1)")


# Hand-written fused nodes (ai.ssmc domain) on kernels that are no GEMM: the lowering computes the product, then
# sweeps the expression over it. fuse-epilogue never makes these; the lowering must still be right.

@pytest.mark.parametrize("case", ["depthwise", "partial_spatial_extra", "matmul_1d", "small_plane"])
def test_hand_written_fused_node_off_the_gemm_path(tmp_path, case):
    if case == "depthwise":
        ins = {"x": randn(1, 16, 12, 12), "w": randn(16, 1, 3, 3), "e": randn(16, 1, 1)}
        product = h.make_node("Conv", ["x", "w", ""], ["p"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=16)
        fused_op, attrs = "FusedConv", dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=16)
    elif case == "partial_spatial_extra":
        ins = {"x": randn(2, 6, 8, 9), "w": randn(12, 6, 1, 1), "e": randn(9)}
        product = h.make_node("Conv", ["x", "w", ""], ["p"], kernel_shape=[1, 1])
        fused_op, attrs = "FusedConv", dict(kernel_shape=[1, 1])
    elif case == "small_plane":
        ins = {"x": randn(1, 8, 3, 3), "w": randn(2, 8, 1, 1), "e": randn(1, 2, 3, 3)}
        product = h.make_node("Conv", ["x", "w", ""], ["p"], kernel_shape=[1, 1])
        fused_op, attrs = "FusedConv", dict(kernel_shape=[1, 1])
    else:
        ins = {"x": randn(3, 7, 20), "w": randn(20), "e": randn(3, 7)}
        product = h.make_node("MatMul", ["x", "w"], ["p"])
        fused_op, attrs = "FusedMatMul", {}
    operands = list(product.input) + ["e"]
    expr = "Relu(Sub(Mul(a0, 0.5), a1))"
    infos = [h.make_tensor_value_info(n, T.FLOAT, a.shape) for n, a in ins.items()]
    fused = h.make_node(fused_op, operands, ["y"], domain="ai.ssmc", expr=expr, **attrs)
    model = h.make_model(h.make_graph([fused], "g", infos, [onnx.ValueInfoProto(name="y")]),
                         opset_imports=[h.make_opsetid("", 20), h.make_opsetid("ai.ssmc", 1)])
    half = numpy_helper.from_array(np.array(0.5, np.float32), "half")
    reference = h.make_model(h.make_graph(
        [product, h.make_node("Mul", ["p", "half"], ["m"]), h.make_node("Sub", ["m", "e"], ["s"]), h.make_node("Relu", ["s"], ["y"])],
        "g", infos, [onnx.ValueInfoProto(name="y")], initializer=[half]), opset_imports=[h.make_opsetid("", 20)])
    xs = list(ins.values())
    want = run_onnxruntime(reference, tmp_path, *xs)[0]
    assert_close(compile_model(model, tmp_path).run(*xs)[0], want, rtol=1e-5, atol=1e-5)

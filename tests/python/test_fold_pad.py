"""fold-pad-into-conv: a zero constant Pad of spatial dims feeding a Conv becomes the Conv's own pads.
Every case runs against onnxruntime; the emitted IR shows whether the Pad was folded."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from ssmc_testing import assert_close, compile_model, emitted_ir, run_onnxruntime


def model(pads, conv_attrs=None, mode="constant", value=None, axes=None, extra_reader=False, x_shape=(1, 4, 9, 11)):
    rng = np.random.default_rng(0)
    init = [numpy_helper.from_array(np.array(pads, np.int64), "pads"),
            numpy_helper.from_array(rng.standard_normal((6, 2, 3, 3)).astype(np.float32), "w"),
            numpy_helper.from_array(rng.standard_normal(6).astype(np.float32), "b")]
    pad_inputs = ["x", "pads"]
    if value is not None or axes is not None:
        pad_inputs.append("value" if value is not None else "")
        if value is not None:
            init.append(numpy_helper.from_array(np.array(value, np.float32), "value"))
    if axes is not None:
        pad_inputs.append("axes")
        init.append(numpy_helper.from_array(np.array(axes, np.int64), "axes"))
    nodes = [helper.make_node("Pad", pad_inputs, ["p"], mode=mode),
             helper.make_node("Conv", ["p", "w", "b"], ["y"], group=2, **(conv_attrs or {}))]
    outputs = ["y"]
    if extra_reader:
        nodes.append(helper.make_node("Relu", ["p"], ["r"]))
        outputs.append("r")
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], initializer=init)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])


def pads_left(m, tmp_path):
    return sum(" = Pad(" in line for line in emitted_ir(m, tmp_path).splitlines())


def check(m, tmp_path, folded, case="case"):
    # A directory per case: dlopen hands back an already loaded library of the same path.
    tmp_path = tmp_path / case
    tmp_path.mkdir()
    shape = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    got = compile_model(m, tmp_path).run(x)
    want = run_onnxruntime(m, tmp_path, x)
    for g, w in zip(got, want):
        assert_close(g, w, rtol=1e-5, atol=1e-5)
    assert pads_left(m, tmp_path) == (0 if folded else 1)


def test_spatial_zero_pad_folds_into_conv_pads(tmp_path):
    check(model([0, 0, 1, 3, 0, 0, 2, 0], {"pads": [1, 0, 0, 1]}), tmp_path, folded=True)


def test_pad_with_axes_and_zero_value_folds(tmp_path):
    check(model([2, 1, 0, 3], {"strides": [2, 1]}, value=0.0, axes=[-2, -1]), tmp_path, folded=True)


def test_pads_that_cannot_fold_stay(tmp_path):
    check(model([0, 0, 1, 1, 0, 0, 1, 1], value=0.5), tmp_path, False, "fill")                    # non-zero fill
    check(model([0, 0, 1, 1, 0, 0, 1, 1], mode="reflect"), tmp_path, False, "reflect")            # not constant
    check(model([0, 0, 1, 1, 0, 0, 1, 1], {"auto_pad": "SAME_UPPER"}), tmp_path, False, "auto")   # derived pads
    check(model([0, 0, 1, -1, 0, 0, 1, 1]), tmp_path, False, "crop")                              # a crop
    check(model([0, 1, 1, 1, 0, 0, 1, 1], x_shape=(1, 3, 9, 11)), tmp_path, False, "channels")   # pads channels


def test_pad_with_another_reader_is_kept_for_it(tmp_path):
    check(model([0, 0, 1, 1, 0, 0, 1, 1], extra_reader=True), tmp_path, folded=False)

"""Malformed models (each once crashed the compiler, or guards a class of input that could): the compiler
reports the node, the op and what is wrong, exits non-zero and leaves no output file. A short fixed-seed
run of tools/fuzz_compile.py over the zoo finds no crash."""
import glob
import os
import subprocess
import sys

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from ssmc_testing import SSMC, assert_close, compile_model, save

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import fuzz_compile  # noqa: E402

HUGE = 2**62


def f32(name, dims):
    return h.make_tensor_value_info(name, T.FLOAT, dims)


def i64(name, values):
    return nh.from_array(np.array(values, np.int64), name)


def model(nodes, inputs, inits=()):
    outputs = [h.make_tensor_value_info(o, T.UNDEFINED, None) for o in nodes[-1].output]
    return h.make_model(h.make_graph(nodes, "malformed", inputs, outputs, list(inits)),
                        opset_imports=[h.make_opsetid("", 18)])


CASES = {
    "cast to a code beyond int32": (
        model([h.make_node("Cast", ["x"], ["y"], name="c", to=2**62)], [f32("x", [4])]),
        ["Cast", "node 'c'", "element type code 4611686018427387904"]),
    "EyeLike dtype beyond int32": (
        model([h.make_node("EyeLike", ["x"], ["y"], name="e", dtype=2**40)], [f32("x", [4, 4])]),
        ["EyeLike", "node 'e'", "dtype 1099511627776 is not an element type"]),
    "LayerNormalization stash_type beyond int32": (
        model([h.make_node("LayerNormalization", ["x", "s"], ["y"], name="ln", stash_type=2**40)], [f32("x", [4, 4])],
              [nh.from_array(np.ones(4, np.float32), "s")]),
        ["LayerNormalization", "node 'ln'", "stash_type 1099511627776"]),
    "Log of int64": (
        model([h.make_node("Log", ["x"], ["y"], name="l")], [h.make_tensor_value_info("x", T.INT64, [4])]),
        ["Log", "node 'l'", "has element type i64; Log takes bf16, f16, f32, f64"]),
    "Cast without its input": (
        model([h.make_node("Cast", [], ["y"], name="c", to=1)], []),
        ["Cast", "node 'c'", "0 operands; Cast takes 1...1"]),
    "input dims whose product overflows": (
        model([h.make_node("Softmax", ["x"], ["y"], name="s")], [f32("x", [2**40, 2**40])]),
        ["value 'x'", "more than ssmc compiles"]),
    "ConstantOfShape of a huge shape": (
        model([h.make_node("ConstantOfShape", ["s"], ["y"], name="k")], [], [i64("s", [2**40, 2**40])]),
        ["ConstantOfShape", "node 'k'", "more than ssmc compiles"]),
    "Gather with constant indices out of range": (
        model([h.make_node("Gather", ["x", "i"], ["y"], name="g")], [f32("x", [4, 5])], [i64("i", [HUGE, 0])]),
        ["Gather", "node 'g'", "out of range for an axis of size 4"]),
    "an attribute given twice": (
        model([h.make_node("Conv", ["x", "w"], ["y"], name="conv", group=1)], [f32("x", [1, 2, 4, 4])],
              [nh.from_array(np.ones((2, 2, 1, 1), np.float32), "w")]),
        ["Conv", "node 'conv'", "attribute 'group' is given twice"]),
    "a group whose channel product overflows": (
        model([h.make_node("Conv", ["x", "w"], ["y"], name="conv", group=HUGE)], [f32("x", [1, 2, 4, 4])],
              [nh.from_array(np.ones((2, 2, 1, 1), np.float32), "w")]),
        ["Conv", "node 'conv'", "channels"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_model_is_reported(name, tmp_path):
    m, needles = CASES[name]
    if name == "an attribute given twice":
        m.graph.node[0].attribute.append(h.make_attribute("group", 2))
    path = save(m, tmp_path)
    lib = os.path.join(tmp_path, "lib.so")
    result = subprocess.run([SSMC, "compile", path, "-o", lib], capture_output=True, text=True)
    assert 0 < result.returncode < 128 and "Fatal error" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in result.stderr, f"{needle!r} not in:\n{result.stderr}"
    assert not [f for f in os.listdir(tmp_path) if f.endswith((".so", ".h")) or ".tmp" in f]


def test_a_failed_node_is_reported_once(tmp_path):
    """Users of a node that failed to import (and the graph output it feeds) add no errors of their own."""
    nodes = [h.make_node("Cast", ["x"], ["c"], name="bad", to=999), h.make_node("Relu", ["c"], ["r"], name="user"),
             h.make_node("Neg", ["r"], ["y"], name="last")]
    result = subprocess.run([SSMC, "compile", save(model(nodes, [f32("x", [4])]), tmp_path), "-o",
                             os.path.join(tmp_path, "lib.so")], capture_output=True, text=True)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "node 'bad'" in errors[0], result.stderr


def test_slice_steps_of_int64_min_take_one_element(tmp_path):
    """A step that is never applied (one element taken) may be any int64, INT64_MIN included."""
    m = model([h.make_node("Slice", ["x", "s", "e", "a", "st"], ["y"])], [f32("x", [4, 5])],
              [i64("s", [HUGE]), i64("e", [-HUGE]), i64("a", [0]), i64("st", [-(2**63)])])
    x = np.arange(20, dtype=np.float32).reshape(4, 5)
    assert_close(compile_model(m, tmp_path).run(x)[0], x[3:4])


def test_mutated_zoo_models_never_crash_the_compiler():
    models = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "..", "models", "*", "model.onnx")))
    assert models
    crashes = fuzz_compile.campaign(SSMC, models, seed=11, count=40)
    assert not crashes, crashes

"""Shape variants: one library compiled for several input shapes (`--input-shape` given several times for an
input). `run` picks the variant the inputs' shapes select, keeps a run-time batch working inside each, and
reports any other shape; the variants share their weights."""
import os
import subprocess

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from ssmc_py import CompiledModel, SSMCError
from ssmc_testing import SSMC, assert_close, run_onnxruntime, save

RNG = np.random.default_rng(7)


def f32(name, dims):
    return h.make_tensor_value_info(name, T.FLOAT, dims)


def model(nodes, inputs, outputs, inits=()):
    return h.make_model(h.make_graph(nodes, "variants", inputs, outputs, list(inits)),
                        opset_imports=[h.make_opsetid("", 18)])


def compile_shapes(m, directory, *shapes, extra=()):
    """Runs `ssmc compile` with one --input-shape per entry of `shapes`; returns (process, library path)."""
    lib = os.path.join(str(directory), "libmodel.so")
    args = [SSMC, "compile", save(m, directory), "-o", lib, "--name", "model", *extra]
    for shape in shapes:
        args += ["--input-shape", shape]
    return subprocess.run(args, capture_output=True, text=True), lib


def cnn():
    """A CNN over [N, 3, H, W] whose exporter-style shape math (Shape -> Gather -> Concat -> Reshape) flattens
    the feature map: the output's dims depend on H and W."""
    consts = [nh.from_array(RNG.standard_normal((4, 3, 3, 3)).astype(np.float32), "W"),
              nh.from_array(np.array(0, np.int64), "zero"), nh.from_array(np.array([0], np.int64), "zeros1"),
              nh.from_array(np.array([4, -1], np.int64), "rest")]
    nodes = [
        h.make_node("Conv", ["x", "W"], ["c"], strides=[2, 2], pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c"], ["r"]),
        h.make_node("Shape", ["r"], ["s"]),
        h.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        h.make_node("Unsqueeze", ["n", "zeros1"], ["n1"]),
        h.make_node("Concat", ["n1", "rest"], ["target"], axis=0),
        h.make_node("Reshape", ["r", "target"], ["flat"]),
        h.make_node("Softmax", ["flat"], ["p"], axis=-1),
        h.make_node("GlobalAveragePool", ["r"], ["y"]),
    ]
    return model(nodes, [f32("x", ["N", 3, "H", "W"])], [f32("p", ["N", 4, None]), f32("y", ["N", 4, 1, 1])], consts)


def test_cnn_at_several_resolutions_with_a_run_time_batch(tmp_path):
    m = cnn()
    result, lib = compile_shapes(m, tmp_path, "x=?x3x16x16", "x=?x3x24x20", "x=?x3x9x7")
    assert result.returncode == 0, result.stderr
    compiled = CompiledModel(lib)
    assert compiled.inputs[0]["shape"] == (-1, 3, -1, -1)
    assert compiled.outputs[0]["shape"] == (-1, 4, -1)
    assert compiled.outputs[1]["shape"] == (-1, 4, 1, 1)
    assert compiled.shape_variants == [[(-1, 3, 16, 16)], [(-1, 3, 24, 20)], [(-1, 3, 9, 7)]]
    for height, width in [(16, 16), (24, 20), (9, 7)]:
        for batch in (1, 3):
            x = RNG.standard_normal((batch, 3, height, width)).astype(np.float32)
            got = compiled.run(x)
            want = run_onnxruntime(m, tmp_path, x)
            assert got[0].shape == (batch, 4, ((height + 1) // 2) * ((width + 1) // 2))
            for k, (g, w) in enumerate(zip(got, want)):
                assert_close(g, w, what=f"{height}x{width} batch {batch} output {k}")
    header = open(os.path.join(tmp_path, "model.h")).read()
    assert "float32[-1, 3, -1, -1]" in header
    assert "Compiled for 3 input shapes" in header and "x [?, 3, 24, 20]" in header
    with pytest.raises(SSMCError) as error:
        compiled.run(np.zeros((1, 3, 16, 20), np.float32))
    message = str(error.value)
    assert "none of the 3 shapes" in message and "'x' [1, 3, 16, 20]" in message and "'x' [?, 3, 9, 7]" in message


def test_ssmc_run_and_check_pick_the_variant(tmp_path):
    m = cnn()
    result, lib = compile_shapes(m, tmp_path, "x=?x3x16x16", "x=?x3x24x20")
    assert result.returncode == 0, result.stderr
    x = RNG.standard_normal((2, 3, 24, 20)).astype(np.float32)
    np.save(os.path.join(tmp_path, "x.npy"), x)
    out = os.path.join(tmp_path, "out")
    run = subprocess.run([SSMC, "run", lib, "-i", os.path.join(tmp_path, "x.npy"), "-o", out], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert_close(np.load(os.path.join(out, "output_0.npy")), run_onnxruntime(m, tmp_path, x)[0])
    bad = os.path.join(tmp_path, "bad.npy")
    np.save(bad, np.zeros((1, 3, 8, 8), np.float32))
    run = subprocess.run([SSMC, "run", lib, "-i", bad, "-o", out], capture_output=True, text=True)
    assert run.returncode != 0 and "none of the 2 shapes" in run.stderr, run.stderr


def test_inputs_given_several_shapes_pair_them_in_order(tmp_path):
    """a [1, T, 8] @ b [1, 8, T] + c [8]: a and b take their k-th shapes together; c has one shape throughout."""
    nodes = [h.make_node("MatMul", ["a", "b"], ["ab"]), h.make_node("MatMul", ["ab", "a"], ["aba"]),
             h.make_node("Add", ["aba", "c"], ["y"])]
    m = model(nodes, [f32("a", [1, "T", 8]), f32("b", [1, 8, "T"]), f32("c", ["C"])], [f32("y", [1, "T", 8])])
    result, lib = compile_shapes(m, tmp_path, "a=1x3x8", "b=1x8x3", "a=1x5x8", "b=1x8x5", "c=8")
    assert result.returncode == 0, result.stderr
    compiled = CompiledModel(lib)
    assert compiled.shape_variants == [[(1, 3, 8), (1, 8, 3), (8,)], [(1, 5, 8), (1, 8, 5), (8,)]]
    for t in (3, 5):
        a = RNG.standard_normal((1, t, 8)).astype(np.float32)
        b = RNG.standard_normal((1, 8, t)).astype(np.float32)
        c = RNG.standard_normal(8).astype(np.float32)
        assert_close(compiled.run(a, b, c)[0], run_onnxruntime(m, tmp_path, a, b, c)[0], what=f"T={t}")
    # Shapes of two variants mixed fit neither.
    with pytest.raises(SSMCError, match="none of the 2 shapes"):
        compiled.run(np.zeros((1, 3, 8), np.float32), np.zeros((1, 8, 5), np.float32), np.zeros(8, np.float32))


def test_variants_share_their_weights(tmp_path):
    """A 1 MiB weight is stored once in a library of two shapes."""
    weight = nh.from_array(RNG.standard_normal((512, 512)).astype(np.float32), "w")
    m = model([h.make_node("MatMul", ["x", "w"], ["y"])], [f32("x", ["T", 512])], [f32("y", ["T", 512])], [weight])
    one, lib = compile_shapes(m, tmp_path, "x=4x512")
    assert one.returncode == 0, one.stderr
    one_size = os.path.getsize(lib)
    two, lib = compile_shapes(m, tmp_path, "x=4x512", "x=7x512")
    assert two.returncode == 0, two.stderr
    assert os.path.getsize(lib) < one_size + 256 * 1024, (one_size, os.path.getsize(lib))
    x = RNG.standard_normal((7, 512)).astype(np.float32)
    assert_close(CompiledModel(lib).run(x)[0], x.astype(np.float64) @ nh.to_array(weight).astype(np.float64), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shapes, extra, message", [
    # H left symbolic makes variant 0 take batch and H at run time; variant 1 runs its batch per sample.
    (["x=?x3x?x16", "x=?x3x16x16"], [], "variant 0 leaves N, H to run time, this one only a batch"),
    (["x=?x3x16x16", "x=?x3x16x16"], [], "its input shapes are those of variant 0"),
    (["x=?x3x16x16", "x=?x3x24x20"], ["--profile"], "--profile times a library of one shape"),
    (["x=?x3x16x16", "x=?x3x24x20"], ["--emit", "ir"], "--emit ir writes one graph"),
    (["x=?x3x16"], [], "does not fit the input's shape"),
    (["x=?x3xAx16"], [], "must look like NAME=1x3x224x224"),
])
def test_bad_variant_sets_are_refused_with_no_file_left(tmp_path, shapes, extra, message):
    result, lib = compile_shapes(cnn(), tmp_path, *shapes, extra=extra)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".so") or f.endswith(".h") or ".tmp" in f]


def test_inputs_given_different_numbers_of_shapes_are_refused(tmp_path):
    m = model([h.make_node("Add", ["x", "y"], ["z"])], [f32("x", [1, "A"]), f32("y", [1, "A"])], [f32("z", [1, "A"])])
    result, lib = compile_shapes(m, tmp_path, "x=1x2", "x=1x3", "x=1x4", "y=1x2", "y=1x3")
    assert result.returncode != 0 and "the same number of shapes" in result.stderr, result.stderr
    assert not os.path.exists(lib)


def test_commands_reading_one_graph_take_one_shape(tmp_path):
    path = save(cnn(), tmp_path)
    result = subprocess.run([SSMC, "dump-ir", path, "--input-shape", "x=1x3x8x8", "--input-shape", "x=1x3x9x9"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "one shape" in result.stderr, result.stderr
    inspect = subprocess.run([SSMC, "inspect", path], capture_output=True, text=True)
    assert inspect.returncode == 0 and "'H' of input 'x'" in inspect.stdout, inspect.stdout

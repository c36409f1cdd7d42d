"""Data-movement and shape ops over extents given at run time (Concat, Slice, Split, Gather, Pad, Expand, Tile,
Shape, Size, ConstantOfShape, Range, Identity): each graph compiles once with symbolic input dims and runs at
several sizes, matching onnxruntime; the graphs include what exporters write (Shape -> Gather -> Concat ->
Reshape chains, x[:, 1:], a class token concatenated in front of the tokens)."""
import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from test_runtime_dims import check_sizes, f32, weight

RNG = np.random.default_rng(11)
SIZES = [(1, 2), (2, 5), (3, 17), (1, 64), (2, 3)]


def graph(nodes, inputs, inits=(), outputs=(("y", T.FLOAT),)):
    outs = [h.make_tensor_value_info(name, element, None) for name, element in outputs]
    m = h.make_model(h.make_graph(nodes, "runtime_dims_data", inputs, outs, list(inits)), opset_imports=[h.make_opsetid("", 18)])
    return m


def ints(name, values):
    return nh.from_array(np.array(values, np.int64), name)


def tokens(width):
    return lambda b, t: [RNG.standard_normal((b, t, width)).astype(np.float32)]


def test_exporter_shape_gather_concat_reshape_chain(tmp_path):
    # y = Reshape(x, [B, T, 4, 8]) with B and T read from Shape(x), as torch.onnx writes x.view(b, t, 4, 8);
    # the shape tensor itself is an output too.
    nodes = [
        h.make_node("Shape", ["x"], ["s"]), h.make_node("Gather", ["s", "i0"], ["b"], axis=0),
        h.make_node("Gather", ["s", "i1"], ["t"], axis=0), h.make_node("Unsqueeze", ["b", "ax"], ["bu"]),
        h.make_node("Unsqueeze", ["t", "ax"], ["tu"]), h.make_node("Concat", ["bu", "tu", "c48"], ["shape"], axis=0),
        h.make_node("Reshape", ["x", "shape"], ["r"]), h.make_node("Relu", ["r"], ["y"]),
        h.make_node("Shape", ["x"], ["tail"], start=-2),
    ]
    inits = [ints("i0", 0), ints("i1", 1), ints("ax", [0]), ints("c48", [4, 8])]
    m = graph(nodes, [f32("x", ["B", "T", 32])], inits, outputs=(("y", T.FLOAT), ("shape", T.INT64), ("tail", T.INT64)))
    check_sizes(m, tmp_path, tokens(32), SIZES)


def test_cls_token_concat_then_drop_it_with_a_tail_slice(tmp_path):
    # ViT-style: the class token expanded to [B, 1, 32] from Shape(x), put in front of the tokens; then
    # x[:, 1:] (the tokens again, plus a bias) and x[:, 0] (the class token through a Gather).
    nodes = [
        h.make_node("Shape", ["x"], ["s"]), h.make_node("Gather", ["s", "i0"], ["b"], axis=0),
        h.make_node("Unsqueeze", ["b", "ax"], ["bu"]), h.make_node("Concat", ["bu", "ones"], ["es"], axis=0),
        h.make_node("Expand", ["cls", "es"], ["ce"]), h.make_node("Concat", ["ce", "x"], ["cat"], axis=1),
        h.make_node("Add", ["cat", "pos"], ["p"]),
        h.make_node("Slice", ["p", "one", "big", "one"], ["tail"]), h.make_node("Identity", ["tail"], ["y"]),
        h.make_node("Gather", ["p", "i0"], ["first"], axis=1),
    ]
    inits = [ints("i0", 0), ints("ax", [0]), ints("ones", [1, 1]), weight("cls", 1, 1, 32, scale=1.0), weight("pos", 32),
             ints("one", [1]), ints("big", [2**62])]
    m = graph(nodes, [f32("x", ["B", "T", 32])], inits, outputs=(("y", T.FLOAT), ("cat", T.FLOAT), ("first", T.FLOAT)))
    check_sizes(m, tmp_path, tokens(32), SIZES, threads=2)


@pytest.mark.parametrize("bounds", [
    ([1], [2**62], [1], [1]),            # x[:, 1:]
    ([0], [-1], [1], [1]),               # x[:, :-1]
    ([-1], [-2**62], [1], [-1]),         # x[:, ::-1]
    ([-2], [0], [1], [-2]),              # x[:, -2:0:-2]
    ([5, 3], [2**62, 9], [1, 2], [2, -1]),  # x[:, 5::2, 3:9:-1] (clamped, the second empty)
    ([1, 30, 0], [-1, 2, 99], [-1, -2, 0], [3, -5, 1]),  # axes counted from the back, steps past the ends
])
def test_slice_with_clamping_and_negative_steps(tmp_path, bounds):
    starts, ends, axes, steps = bounds
    nodes = [h.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])]
    inits = [ints("st", starts), ints("en", ends), ints("ax", axes), ints("sp", steps)]
    m = graph(nodes, [f32("x", ["B", "T", 32])], inits)
    check_sizes(m, tmp_path, tokens(32), SIZES)


def test_slice_bounds_read_from_shapes_at_run_time(tmp_path):
    # x[:, 1:T-1] and x[:, :T//2] with the bounds computed from Shape(x) (no constant starts at all).
    nodes = [
        h.make_node("Shape", ["x"], ["s"], start=1, end=2), h.make_node("Sub", ["s", "one"], ["end"]),
        h.make_node("Slice", ["x", "one", "end", "one"], ["y"]),
        h.make_node("Div", ["s", "two"], ["half"]), h.make_node("Slice", ["x", "zero", "half", "one"], ["z"]),
        h.make_node("Slice", ["x", "half", "s", "one"], ["w"]),
    ]
    inits = [ints("one", [1]), ints("two", [2]), ints("zero", [0])]
    m = graph(nodes, [f32("x", ["B", "T", 8])], inits, outputs=(("y", T.FLOAT), ("z", T.FLOAT), ("w", T.FLOAT)))
    check_sizes(m, tmp_path, tokens(8), [(1, 3), (2, 5), (3, 16), (1, 2)])


@pytest.mark.parametrize("axis", [0, 2, -1])
def test_split_of_runtime_sized_tensors(tmp_path, axis):
    if axis == 0:
        # x: [2, T, 8] split in two along its leading fixed dim.
        nodes = [h.make_node("Split", ["x", "sp"], ["y", "z"], axis=0)]
        m = graph(nodes, [f32("x", [2, "T", 8])], [ints("sp", [1, 1])], outputs=(("y", T.FLOAT), ("z", T.FLOAT)))
        check_sizes(m, tmp_path, lambda _, t: [RNG.standard_normal((2, t, 8)).astype(np.float32)], SIZES)
        return
    nodes = [h.make_node("Split", ["x", "sp"], ["y", "z", "w"], axis=axis)]
    m = graph(nodes, [f32("x", ["B", "T", 32])], [ints("sp", [8, 20, 4])], outputs=(("y", T.FLOAT), ("z", T.FLOAT), ("w", T.FLOAT)))
    check_sizes(m, tmp_path, tokens(32), SIZES)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_gather_with_constant_indices(tmp_path, axis):
    indices = {0: [[0, -1], [0, 0]], 1: [0, -1, 1], 2: [[3, -1, 0]]}[axis]
    nodes = [h.make_node("Gather", ["x", "idx"], ["y"], axis=axis)]
    m = graph(nodes, [f32("x", ["B", "T", 8])], [ints("idx", indices)])
    check_sizes(m, tmp_path, tokens(8), SIZES)


@pytest.mark.parametrize("element", [np.int64, np.int32])
def test_gather_with_runtime_indices(tmp_path, element):
    # Indices of run-time count K, in [-T, T), along the symbolic axis; data of i64 too (a token table).
    kind = T.INT64 if element == np.int64 else T.INT32
    nodes = [h.make_node("Gather", ["x", "idx"], ["y"], axis=1), h.make_node("Gather", ["table", "idx"], ["z"], axis=0)]
    inputs = [f32("x", ["B", "T", 8]), h.make_tensor_value_info("idx", kind, ["K"]),
              h.make_tensor_value_info("table", T.INT64, ["T", 3])]
    m = graph(nodes, inputs, outputs=(("y", T.FLOAT), ("z", T.INT64)))

    def make(b, t, k):
        return [RNG.standard_normal((b, t, 8)).astype(np.float32), RNG.integers(-t, t, size=k).astype(element),
                RNG.integers(-1000, 1000, size=(t, 3)).astype(np.int64)]

    check_sizes(m, tmp_path, make, [(1, 2, 1), (2, 5, 7), (3, 17, 4), (1, 64, 100)], threads=2)


@pytest.mark.parametrize("mode,pads", [
    ("constant", [0, 0, 1, 2, 0, 0, 3, 0]),
    ("constant", [0, 1, -1, 0, 0, 0, 2, -1]),
    ("reflect", [0, 0, 1, 1, 0, 0, 1, 1]),
    ("edge", [0, 0, 2, 0, 0, 0, 3, 4]),
])
def test_pad_over_runtime_height_and_width(tmp_path, mode, pads):
    inputs = ["x", "pads"] + (["value"] if mode == "constant" else [])
    nodes = [h.make_node("Pad", inputs, ["y"], mode=mode)]
    inits = [ints("pads", pads), nh.from_array(np.array(1.5, np.float32), "value")][: len(inputs) - 1]
    m = graph(nodes, [f32("x", ["N", 3, "H", "W"])], inits)

    def make(n, hw):
        return [RNG.standard_normal((n, 3, hw, hw + 1)).astype(np.float32)]

    check_sizes(m, tmp_path, make, [(1, 2), (2, 5), (1, 9), (3, 4)])


def test_pad_reflect_refuses_negative_pads_on_runtime_axes(tmp_path):
    import subprocess

    from ssmc_testing import SSMC, save
    nodes = [h.make_node("Pad", ["x", "pads"], ["y"], mode="reflect")]
    m = graph(nodes, [f32("x", ["N", 3, "H", "W"])], [ints("pads", [0, 0, -1, 0, 0, 0, 1, 0])])
    path = save(m, tmp_path)
    result = subprocess.run([SSMC, "compile", path, "-o", str(tmp_path / "lib.so")], capture_output=True, text=True)
    assert result.returncode != 0
    assert "negative pads on axis 2" in result.stderr, result.stderr


def test_expand_and_tile(tmp_path):
    nodes = [
        h.make_node("Expand", ["x", "shape"], ["e"]), h.make_node("Tile", ["x", "reps"], ["t"]),
        h.make_node("Expand", ["row", "es"], ["r"]),
    ]
    inits = [ints("shape", [1, 3, 1]), ints("reps", [2, 1, 3]), ints("es", [1, 4, 1])]
    # row: [R, T] expanded to [1, 4, T]: R is 1 (broadcast) or 4 at run time.
    inputs = [f32("x", ["B", 1, "T"]), f32("row", ["R", "T"])]
    m = graph(nodes, inputs, inits, outputs=(("e", T.FLOAT), ("t", T.FLOAT), ("r", T.FLOAT)))

    def make(b, t):
        rows = 1 if b % 2 else 4
        return [RNG.standard_normal((b, 1, t)).astype(np.float32), RNG.standard_normal((rows, t)).astype(np.float32)]

    check_sizes(m, tmp_path, make, SIZES)


def test_size_constant_of_shape_and_range(tmp_path):
    # Positions 0..T-1 from Range(0, T, 1) (T from Shape), scaled and added to every token; a fill of 0.25
    # shaped like x from ConstantOfShape(Shape(x)); the element count from Size.
    nodes = [
        h.make_node("Shape", ["x"], ["s"]), h.make_node("Gather", ["s", "i1"], ["t"], axis=0),
        h.make_node("Range", ["zero", "t", "one"], ["positions"]), h.make_node("Cast", ["positions"], ["pf"], to=T.FLOAT),
        h.make_node("Unsqueeze", ["pf", "last"], ["pc"]), h.make_node("Add", ["x", "pc"], ["y"]),
        h.make_node("ConstantOfShape", ["s"], ["fill"], value=nh.from_array(np.array([0.25], np.float32))),
        h.make_node("Mul", ["fill", "x"], ["z"]), h.make_node("Size", ["x"], ["n"]),
        h.make_node("Range", ["t", "zero", "minus2"], ["down"]),
    ]
    inits = [ints("i1", 1), ints("zero", 0), ints("one", 1), ints("last", [1]), ints("minus2", -2)]
    outputs = (("y", T.FLOAT), ("z", T.FLOAT), ("n", T.INT64), ("positions", T.INT64), ("down", T.INT64))
    m = graph(nodes, [f32("x", ["B", "T", 4])], inits, outputs=outputs)
    check_sizes(m, tmp_path, tokens(4), SIZES)


def test_static_table_sliced_by_a_runtime_length(tmp_path):
    # A learned position table [1, 80, 16] cut to the sequence length, pos[:, :T] (bounds as i32; shape
    # inference types it [1, min(80, T), 16]), and pos[:, 1:T] with i64 bounds, both read from Shape(x).
    nodes = [
        h.make_node("Shape", ["x"], ["s"], start=1, end=2), h.make_node("Cast", ["s"], ["s32"], to=T.INT32),
        h.make_node("Slice", ["pos", "zero", "s32", "one"], ["cut"]), h.make_node("Neg", ["cut"], ["y"]),
        h.make_node("Slice", ["pos", "one64", "s", "one64"], ["tail"]),
    ]
    inits = [weight("pos", 1, 80, 16, scale=1.0), nh.from_array(np.array([0], np.int32), "zero"),
             nh.from_array(np.array([1], np.int32), "one"), ints("one64", [1])]
    m = graph(nodes, [f32("x", ["B", "T", 16])], inits, outputs=(("y", T.FLOAT), ("tail", T.FLOAT)))
    check_sizes(m, tmp_path, tokens(16), [(1, 2), (2, 5), (3, 17), (1, 64), (1, 90)])


def test_split_of_a_runtime_axis_in_equal_parts(tmp_path):
    nodes = [h.make_node("Split", ["x"], ["y", "z"], axis=1, num_outputs=2)]
    m = graph(nodes, [f32("x", ["B", "T", 8])], outputs=(("y", T.FLOAT), ("z", T.FLOAT)))
    check_sizes(m, tmp_path, tokens(8), [(1, 2), (2, 5), (3, 17), (1, 64)])


def test_pad_wrap(tmp_path):
    nodes = [h.make_node("Pad", ["x", "pads", "", "axes"], ["y"], mode="wrap")]
    m = graph(nodes, [f32("x", ["N", 3, "H", "W"])], [ints("pads", [2, 1, 0, 3]), ints("axes", [2, -1])])
    m.opset_import[0].version = 19
    check_sizes(m, tmp_path, lambda n, hw: [RNG.standard_normal((n, 3, hw, hw + 2)).astype(np.float32)], [(1, 2), (2, 5), (1, 9)])


def test_token_embedding_gather_from_a_static_table(tmp_path):
    # ids [B, T] look up a static table [50, 8] (the embedding layer of a text model).
    nodes = [h.make_node("Gather", ["table", "ids"], ["y"], axis=0)]
    m = graph(nodes, [h.make_tensor_value_info("ids", T.INT64, ["B", "T"])], [weight("table", 50, 8, scale=1.0)])
    check_sizes(m, tmp_path, lambda b, t: [RNG.integers(-50, 50, size=(b, t)).astype(np.int64)], SIZES, threads=1)


def test_integer_fills_and_i32_ranges(tmp_path):
    # ConstantOfShape with an i64 value over [B, T]; Range over i32 from T-1 down by 3.
    nodes = [
        h.make_node("Shape", ["x"], ["s"], end=2),
        h.make_node("ConstantOfShape", ["s"], ["sevens"], value=nh.from_array(np.array([-7], np.int64))),
        h.make_node("Gather", ["s", "i1"], ["t"], axis=0), h.make_node("Cast", ["t"], ["t32"], to=T.INT32),
        h.make_node("Sub", ["t32", "one"], ["last"]), h.make_node("Range", ["last", "minus1", "minus3"], ["r"]),
    ]
    inits = [ints("i1", 1)] + [nh.from_array(np.array(v, np.int32), n) for n, v in [("one", 1), ("minus1", -1), ("minus3", -3)]]
    m = graph(nodes, [f32("x", ["B", "T", 4])], inits, outputs=(("sevens", T.INT64), ("r", T.INT32)))
    check_sizes(m, tmp_path, tokens(4), SIZES)


def test_torch_style_expand_of_a_class_token(tmp_path):
    # What torch.onnx writes for cls.expand(B, -1, -1): the shape [B, -1, -1] with the -1s replaced by ones
    # through Equal/Where, then Expand, then Concat in front of the tokens.
    nodes = [
        h.make_node("Shape", ["x"], ["s"]), h.make_node("Gather", ["s", "i0"], ["b"], axis=0),
        h.make_node("Unsqueeze", ["b", "ax"], ["bu"]), h.make_node("Concat", ["bu", "m1", "m1"], ["cs"], axis=0),
        h.make_node("ConstantOfShape", ["three"], ["ones"], value=nh.from_array(np.array([1], np.int64))),
        h.make_node("Mul", ["ones", "m1s"], ["neg"]), h.make_node("Equal", ["cs", "neg"], ["eq"]),
        h.make_node("Where", ["eq", "ones", "cs"], ["shape"]), h.make_node("Expand", ["cls", "shape"], ["ce"]),
        h.make_node("Concat", ["ce", "x"], ["y"], axis=1),
    ]
    inits = [ints("i0", 0), ints("ax", [0]), ints("m1", [-1]), ints("three", [3]), ints("m1s", -1), weight("cls", 1, 1, 32, scale=1.0)]
    m = graph(nodes, [f32("x", ["B", "T", 32])], inits)
    check_sizes(m, tmp_path, tokens(32), SIZES)


def test_static_views_next_to_runtime_sized_values(tmp_path):
    # w: [3, 8] is static: its Split parts, row Gather and leading Slice are views (no copy) of it, added to
    # the run-time sized tokens; the memory plan keeps w alive next to values placed at run time.
    nodes = [
        h.make_node("Split", ["w", "sp"], ["w0", "w12"], axis=0), h.make_node("Gather", ["w", "i2"], ["g"], axis=0),
        h.make_node("Slice", ["w", "zero", "one", "zero"], ["s"]), h.make_node("Add", ["x", "w0"], ["a"]),
        h.make_node("Add", ["a", "g"], ["b"]), h.make_node("Mul", ["b", "s"], ["y"]),
        h.make_node("ReduceSum", ["w12", "zero"], ["r"], keepdims=1), h.make_node("Sub", ["y", "r"], ["z"]),
    ]
    inits = [ints("sp", [1, 2]), ints("i2", 2), ints("zero", [0]), ints("one", [1])]
    m = graph(nodes, [f32("x", ["B", "T", 8]), f32("w", [3, 8])], inits, outputs=(("y", T.FLOAT), ("z", T.FLOAT)))
    check_sizes(m, tmp_path, lambda b, t: tokens(8)(b, t) + [RNG.standard_normal((3, 8)).astype(np.float32)], SIZES)


@pytest.mark.parametrize("rows", [1, 4])
def test_symbolic_dim_that_broadcasts_at_run_time(tmp_path, rows):
    # [R, T] + [4, 1] is typed [4, T]: R = 1 repeats the row (stride 0 chosen at run time), R = 4 does not.
    nodes = [h.make_node("Add", ["row", "c"], ["y"]), h.make_node("Expand", ["row", "shape"], ["e"])]
    inits = [weight("c", 4, 1, scale=1.0), ints("shape", [4, 1])]
    m = graph(nodes, [f32("row", ["R", "T"])], inits, outputs=(("y", T.FLOAT), ("e", T.FLOAT)))
    check_sizes(m, tmp_path, lambda _, t: [RNG.standard_normal((rows, t)).astype(np.float32)], SIZES)

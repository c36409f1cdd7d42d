"""Writes the small .onnx files the SSMCFrontend tests read, plus expected.json.

Run: tools/py tools/make-frontend-fixtures.py
Output: Tests/SSMCFrontendTests/Fixtures/ (committed; rerunning must reproduce it byte for byte).

expected.json maps each fixture to its tensors (initializers and tensor attributes) with name, ONNX data
type, dims and the little-endian bytes numpy produces for the values ('hex'), so the Swift decoder is
checked against numpy, not against itself.
"""

import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "SSMCFrontendTests", "Fixtures")
OPSET = 18
expected = {}


def record(model_name, tensors):
    """tensors: list of (name, onnx data type, numpy array holding the values)."""
    expected[model_name] = [
        {"name": n, "elementType": int(t), "dims": list(a.shape), "hex": np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes().hex()}
        for n, t, a in tensors
    ]


def save(model, name, check=True):
    if check:
        onnx.checker.check_model(model)
    data = model.SerializeToString()
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    return data


def typed(name, data_type, dims, field, values):
    """A TensorProto that stores its values in the typed field `field` (float_data, int32_data, ...)."""
    t = TensorProto()
    t.name = name
    t.data_type = data_type
    t.dims.extend(dims)
    getattr(t, field).extend(values)
    return t


def identity_model(tensors):
    """A graph whose outputs are Identity copies of the given initializers."""
    nodes, outputs = [], []
    for i, t in enumerate(tensors):
        out = f"out_{t.name}"
        nodes.append(helper.make_node("Identity", [t.name], [out], name=f"id{i}"))
        outputs.append(helper.make_tensor_value_info(out, t.data_type, list(t.dims)))
    graph = helper.make_graph(nodes, "initializers", [], outputs, initializer=tensors)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="ssmc-fixtures")


def make_initializers():
    f32 = np.array([[1.5, -2.25, 3.0], [0.0, 1e-3, -7.0]], dtype=np.float32)
    f32_typed = np.array([0.1, -0.2, 3.4028235e38], dtype=np.float32)
    i64 = np.array([[-(2**62), 5], [2**40 + 7, -1]], dtype=np.int64)
    i64_raw = np.array([9, -9, 123456789012], dtype=np.int64)
    i32 = np.array([-2147483648, 0, 2147483647], dtype=np.int32)
    bools = np.array([True, False, False, True])
    f64 = np.array([np.pi, -1e300], dtype=np.float64)
    u8 = np.array([0, 200, 255], dtype=np.uint8)
    i8 = np.array([-128, -1, 127], dtype=np.int8)
    i16 = np.array([-32768, 12345], dtype=np.int16)
    u16 = np.array([65535, 1], dtype=np.uint16)
    f16 = np.array([1.0, -0.5, 65504.0], dtype=np.float16)
    u64 = np.array([2**64 - 1, 3], dtype=np.uint64)
    u32 = np.array([4294967295, 17], dtype=np.uint32)
    scalar = np.array(2.5, dtype=np.float32)
    empty = np.zeros((0, 3), dtype=np.float32)
    tensors = [
        numpy_helper.from_array(f32, "raw_f32"),
        typed("typed_f32", TensorProto.FLOAT, [3], "float_data", f32_typed.tolist()),
        typed("typed_i64", TensorProto.INT64, [2, 2], "int64_data", i64.ravel().tolist()),
        numpy_helper.from_array(i64_raw, "raw_i64"),
        typed("typed_i32", TensorProto.INT32, [3], "int32_data", i32.tolist()),
        typed("typed_bool", TensorProto.BOOL, [4], "int32_data", bools.astype(np.int32).tolist()),
        typed("typed_f64", TensorProto.DOUBLE, [2], "double_data", f64.tolist()),
        typed("typed_u8", TensorProto.UINT8, [3], "int32_data", u8.tolist()),
        typed("typed_i8", TensorProto.INT8, [3], "int32_data", i8.tolist()),
        typed("typed_i16", TensorProto.INT16, [2], "int32_data", i16.tolist()),
        typed("typed_u16", TensorProto.UINT16, [2], "int32_data", u16.tolist()),
        # float16 goes into int32_data as its bit pattern.
        typed("typed_f16", TensorProto.FLOAT16, [3], "int32_data", f16.view(np.uint16).tolist()),
        typed("typed_u64", TensorProto.UINT64, [2], "uint64_data", u64.tolist()),
        typed("typed_u32", TensorProto.UINT32, [2], "uint64_data", u32.tolist()),
        numpy_helper.from_array(scalar, "raw_scalar"),
        numpy_helper.from_array(empty, "raw_empty"),
    ]
    # Check the typed encodings against onnx's own decoder before trusting them as fixtures.
    for t, a in zip(tensors, [f32, f32_typed, i64, i64_raw, i32, bools, f64, u8, i8, i16, u16, f16, u64, u32, scalar, empty]):
        assert np.array_equal(numpy_helper.to_array(t), a), t.name
    save(identity_model(tensors), "initializers.onnx")
    record("initializers.onnx", [(t.name, t.data_type, a) for t, a in zip(tensors, [f32, f32_typed, i64, i64_raw, i32, bools, f64, u8, i8, i16, u16, f16, u64, u32, scalar, empty])])


def external_tensor(name, data_type, dims, location, offset=None, length=None):
    t = TensorProto()
    t.name = name
    t.data_type = data_type
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    entries = [("location", location)]
    if offset is not None:
        entries.append(("offset", str(offset)))
    if length is not None:
        entries.append(("length", str(length)))
    for k, v in entries:
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def make_external():
    a = np.arange(4, dtype=np.float32).reshape(2, 2) * 0.5 - 1.0
    b = np.array([7, -8, 2**50], dtype=np.int64)
    c = np.array([1.25, -3.5], dtype=np.float32)
    # Layout of external.bin: a at 0 (16 bytes), b at 64 (24 bytes), c at 128 to the end (8 bytes).
    blob = bytearray(136)
    blob[0:16] = a.tobytes()
    blob[64:88] = b.tobytes()
    blob[128:136] = c.tobytes()
    with open(os.path.join(OUT, "external.bin"), "wb") as f:
        f.write(bytes(blob))
    good = [
        external_tensor("ext_a", TensorProto.FLOAT, [2, 2], "external.bin", 0, 16),
        external_tensor("ext_b", TensorProto.INT64, [3], "external.bin", 64, 24),
        external_tensor("ext_c", TensorProto.FLOAT, [2], "external.bin", 128),  # no length: to end of file
    ]
    save(identity_model(good), "external.onnx", check=False)
    loaded = onnx.load(os.path.join(OUT, "external.onnx"), load_external_data=True)
    onnx.checker.check_model(os.path.join(OUT, "external.onnx"))
    for t, arr in zip(loaded.graph.initializer, [a, b, c]):
        assert np.array_equal(numpy_helper.to_array(t), arr), t.name
    record("external.onnx", [("ext_a", TensorProto.FLOAT, a), ("ext_b", TensorProto.INT64, b), ("ext_c", TensorProto.FLOAT, c)])

    bad = {
        "external_missing.onnx": external_tensor("ext_missing", TensorProto.FLOAT, [2, 2], "does_not_exist.bin", 0, 16),
        "external_escape.onnx": external_tensor("ext_escape", TensorProto.FLOAT, [2, 2], "../Fixtures/external.bin", 0, 16),
        "external_out_of_range.onnx": external_tensor("ext_far", TensorProto.FLOAT, [2, 2], "external.bin", 128, 16),
        "external_wrong_length.onnx": external_tensor("ext_short", TensorProto.FLOAT, [2, 2], "external.bin", 0, 12),
    }
    for file, t in bad.items():
        save(identity_model([t]), file, check=False)


def make_function():
    # ScaleAdd(X, Y; alpha = 2.0) = X * alpha + Y, a model-local function in a custom domain.
    alpha = helper.make_node("Constant", [], ["alpha"], name="f_alpha")
    alpha.attribute.append(helper.make_attribute_ref("value_float", onnx.AttributeProto.FLOAT, ref_attr_name="alpha"))
    body = [
        alpha,
        helper.make_node("Mul", ["X", "alpha"], ["XA"], name="f_mul"),
        helper.make_node("Add", ["XA", "Y"], ["Z"], name="f_add"),
    ]
    default = helper.make_attribute("alpha", 2.0)
    fn = helper.make_function(
        "ai.ssmc.test", "ScaleAdd", ["X", "Y"], ["Z"], body,
        opset_imports=[helper.make_opsetid("", OPSET)], attributes=[], attribute_protos=[default])
    call = helper.make_node("ScaleAdd", ["x", "y"], ["z"], name="call0", domain="ai.ssmc.test", alpha=3.0)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [2])
    graph = helper.make_graph([call], "uses_function", [x, y], [z])
    model = helper.make_model(
        graph, functions=[fn], producer_name="ssmc-fixtures",
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.ssmc.test", 1)])
    save(model, "function.onnx")


def make_symbolic():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, None, 4])
    w = helper.make_tensor_value_info("w", TensorProto.INT64, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3, None, 4])
    w_out = helper.make_tensor_value_info("w_out", TensorProto.INT64, [2])
    value_info = [
        helper.make_tensor_value_info("t", TensorProto.FLOAT, ["batch", 3, "height", 4]),
        helper.make_tensor_value_info("w_mid", TensorProto.INT64, None),  # rank unknown
    ]
    nodes = [
        helper.make_node("Relu", ["x"], ["t"], name="relu"),
        helper.make_node("Identity", ["t"], ["y"], name="copy"),
        helper.make_node("Identity", ["w"], ["w_mid"], name="copy_w"),
        helper.make_node("Identity", ["w_mid"], ["w_out"], name="copy_w2"),
    ]
    graph = helper.make_graph(nodes, "symbolic", [x, w], [y, w_out], value_info=value_info)
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), "symbolic.onnx")


def make_constant():
    value = np.array([[1.0, 2.0], [-3.0, 4.5]], dtype=np.float32)
    c0 = helper.make_node("Constant", [], ["c0"], name="const_tensor", value=numpy_helper.from_array(value, "c0_value"))
    c1 = helper.make_node("Constant", [], ["c1"], name="const_ints", value_ints=[1, -2, 3])
    c2 = helper.make_node("Constant", [], ["c2"], name="const_float", value_float=0.5)
    c3 = helper.make_node("Constant", [], ["c3"], name="const_string", value_string="hello")
    cast = helper.make_node("Cast", ["c1"], ["c1f"], name="cast", to=TensorProto.FLOAT)
    # An optional input left empty ("") and an If with two graph attributes.
    clip = helper.make_node("Clip", ["c0", "", "c2"], ["clipped"], name="clip")
    cond = helper.make_tensor_value_info("cond", TensorProto.BOOL, [])
    out = helper.make_tensor_value_info("r", TensorProto.FLOAT, [2, 2])
    then_g = helper.make_graph([helper.make_node("Identity", ["clipped"], ["r_then"], name="then_id")], "then", [],
                               [helper.make_tensor_value_info("r_then", TensorProto.FLOAT, [2, 2])])
    else_g = helper.make_graph([helper.make_node("Neg", ["clipped"], ["r_else"], name="else_neg")], "else", [],
                               [helper.make_tensor_value_info("r_else", TensorProto.FLOAT, [2, 2])])
    branch = helper.make_node("If", ["cond"], ["r"], name="branch", then_branch=then_g, else_branch=else_g)
    transpose = helper.make_node("Transpose", ["c0"], ["c0t"], name="transpose", perm=[1, 0])
    leaky = helper.make_node("LeakyRelu", ["c0t"], ["lr"], name="leaky", alpha=0.25)
    outs = [out, helper.make_tensor_value_info("c1f", TensorProto.FLOAT, [3]),
            helper.make_tensor_value_info("c3", TensorProto.STRING, []),
            helper.make_tensor_value_info("lr", TensorProto.FLOAT, [2, 2])]
    graph = helper.make_graph([c0, c1, c2, c3, cast, clip, branch, transpose, leaky], "constants", [cond], outs)
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), "constant.onnx")
    record("constant.onnx", [("c0_value", TensorProto.FLOAT, value)])


def make_long_domain():
    # The default domain spelled "ai.onnx" (onnx's checker rejects it, but files in the wild use it).
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    node = helper.make_node("Relu", ["x"], ["y"], name="relu", domain="ai.onnx")
    graph = helper.make_graph([node], "long_domain", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("ai.onnx", 17), helper.make_opsetid("com.example", 2)])
    save(model, "ai_onnx_domain.onnx", check=False)


def make_bad():
    # Valid protobuf, invalid tensors: each must be a clear error.
    short = TensorProto(name="short_raw", data_type=TensorProto.FLOAT, dims=[2, 3], raw_data=bytes(20))
    save(identity_model([short]), "bad_raw_size.onnx", check=False)
    neg = TensorProto(name="neg_dims", data_type=TensorProto.FLOAT, dims=[-1, 2], raw_data=bytes(8))
    save(identity_model([neg]), "negative_dims.onnx", check=False)
    huge = TensorProto(name="huge_dims", data_type=TensorProto.FLOAT, dims=[2**40, 2**40], raw_data=bytes(4))
    save(identity_model([huge]), "huge_dims.onnx", check=False)
    wrong = typed("wrong_field", TensorProto.INT64, [2], "float_data", [1.0, 2.0])
    save(identity_model([wrong]), "wrong_typed_field.onnx", check=False)
    strings = TensorProto(name="names", data_type=TensorProto.STRING, dims=[1], string_data=[b"a"])
    save(identity_model([strings]), "string_initializer.onnx", check=False)
    sparse_values = numpy_helper.from_array(np.array([1.0], dtype=np.float32), "sparse_w")
    sparse = helper.make_sparse_tensor(sparse_values, numpy_helper.from_array(np.array([0], dtype=np.int64)), [4])
    dense = numpy_helper.from_array(np.zeros(1, dtype=np.float32), "dense")
    model = identity_model([dense])
    model.graph.sparse_initializer.append(sparse)
    save(model, "sparse_initializer.onnx", check=False)
    no_graph = onnx.ModelProto(ir_version=8, producer_name="ssmc-fixtures")
    save(no_graph, "no_graph.onnx", check=False)

    # Truncated: cut a valid model inside its graph field. Garbage: bytes that are not protobuf at all.
    with open(os.path.join(OUT, "initializers.onnx"), "rb") as f:
        whole = f.read()
    with open(os.path.join(OUT, "truncated.onnx"), "wb") as f:
        f.write(whole[: len(whole) // 2])
    rng = np.random.default_rng(1234)
    with open(os.path.join(OUT, "garbage.onnx"), "wb") as f:
        f.write(b"\xff\xff this is not an ONNX file \x00" + rng.integers(0, 256, 200, dtype=np.uint8).tobytes())


def main():
    os.makedirs(OUT, exist_ok=True)
    make_initializers()
    make_external()
    make_function()
    make_symbolic()
    make_constant()
    make_long_domain()
    make_bad()
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote fixtures to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()

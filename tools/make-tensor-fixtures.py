"""Writes the tensor-file fixtures the Swift tests read: .npy files written by numpy, TensorProto .pb files
written by onnx.numpy_helper, and a small test_data_set for the `ssmc run`/`ssmc check` tests.

Run: tools/py tools/make-tensor-fixtures.py
Output (committed; rerunning reproduces it byte for byte):
  Tests/SSMCTensorIOTests/Fixtures/npy/       *.npy and expected.json
  Tests/SSMCFrontendTests/Fixtures/tensors/   *.pb and expected.json
  Tests/ssmcTests/Fixtures/affine/            test_data_set_0 (matching), test_data_set_1 (one wrong element)

expected.json maps each file to the element type (ONNX code), dims and little-endian bytes ('hex') numpy
holds for the values, so the Swift readers are checked against numpy, not against themselves. Files whose
name starts with 'bad_' must be rejected; expected.json gives a word the error must contain.
"""

import json
import os

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests")
rng = np.random.default_rng(7)

ONNX_CODE = {
    np.dtype("float32"): 1, np.dtype("uint8"): 2, np.dtype("int8"): 3, np.dtype("int32"): 6,
    np.dtype("int64"): 7, np.dtype("bool"): 9, np.dtype("float64"): 11,
}


def entry(a):
    a = np.asarray(a)
    return {"elementType": ONNX_CODE[a.dtype], "dims": list(a.shape),
            "hex": np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes().hex()}


def write_bytes(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def npy_fixtures():
    out = os.path.join(ROOT, "SSMCTensorIOTests", "Fixtures", "npy")
    os.makedirs(out, exist_ok=True)
    expected = {}

    def save(name, array, version=None):
        path = os.path.join(out, name)
        with open(path, "wb") as f:
            if version is None:
                np.save(f, array)
            else:
                np.lib.format.write_array(f, array, version=version)
        expected[name] = entry(array)

    save("f4_2x3.npy", rng.standard_normal((2, 3)).astype(np.float32))
    save("f4_special.npy", np.array([np.nan, np.inf, -np.inf, -0.0, 1e-45, 3.4e38], dtype=np.float32))
    save("f8_scalar.npy", np.array(np.pi, dtype=np.float64))
    save("i8_5.npy", np.array([-(2**62), -1, 0, 1, 2**62 + 3], dtype=np.int64))
    save("i4_2x2x2.npy", rng.integers(-2**31, 2**31, size=(2, 2, 2), dtype=np.int32))
    save("i1_4.npy", np.array([-128, -1, 0, 127], dtype=np.int8))
    save("u1_3x1.npy", np.array([[0], [200], [255]], dtype=np.uint8))
    save("b1_5.npy", np.array([True, False, True, True, False]))
    save("f4_empty_0x3.npy", np.zeros((0, 3), dtype=np.float32))
    # Long shape texts: numpy pads the header for the first dim to grow, which the writer must match.
    save("f4_rank13.npy", np.zeros((1,) * 12 + (2,), dtype=np.float32))
    save("f4_bigdim_empty.npy", np.zeros((10**11, 0, 7), dtype=np.float32))
    save("f4_v2.npy", rng.standard_normal((3,)).astype(np.float32), version=(2, 0))
    save("f4_v3.npy", rng.standard_normal((1, 2)).astype(np.float32), version=(3, 0))
    # A transposed view is saved as Fortran order; reading it as C order would scramble it.
    with open(os.path.join(out, "bad_fortran.npy"), "wb") as f:
        np.save(f, np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    with open(os.path.join(out, "bad_bigendian.npy"), "wb") as f:
        np.save(f, np.arange(4, dtype=">f4"))
    with open(os.path.join(out, "bad_float16.npy"), "wb") as f:
        np.save(f, np.arange(4, dtype=np.float16))
    with open(os.path.join(out, "bad_structured.npy"), "wb") as f:
        np.save(f, np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
    good = open(os.path.join(out, "f4_2x3.npy"), "rb").read()
    write_bytes(os.path.join(out, "bad_truncated.npy"), good[:-5])
    write_bytes(os.path.join(out, "bad_garbage.npy"), bytes(rng.integers(0, 256, 100, dtype=np.uint8)))
    expected["bad_fortran.npy"] = {"error": "Fortran"}
    expected["bad_bigendian.npy"] = {"error": "big-endian"}
    expected["bad_float16.npy"] = {"error": "f2"}
    expected["bad_structured.npy"] = {"error": "structured"}
    expected["bad_truncated.npy"] = {"error": "data bytes"}
    expected["bad_garbage.npy"] = {"error": "magic"}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)


def pb_fixtures():
    out = os.path.join(ROOT, "SSMCFrontendTests", "Fixtures", "tensors")
    os.makedirs(out, exist_ok=True)
    expected = {}

    def save(name, tensor, array):
        write_bytes(os.path.join(out, name), tensor.SerializeToString())
        expected[name] = dict(entry(array), name=tensor.name)

    def raw(name, array):
        save(name, numpy_helper.from_array(array, name=name.split(".")[0]), array)

    raw("f4_2x3.pb", rng.standard_normal((2, 3)).astype(np.float32))
    raw("f8_scalar.pb", np.array(-2.5, dtype=np.float64))
    raw("i8_4.pb", np.array([-(2**62), -1, 0, 2**40], dtype=np.int64))
    raw("i4_3.pb", np.array([-7, 0, 2**31 - 1], dtype=np.int32))
    raw("b1_2x2.pb", np.array([[True, False], [False, True]]))
    raw("u1_3.pb", np.array([0, 7, 255], dtype=np.uint8))
    # Typed fields instead of raw_data, as some writers produce.
    values = np.array([1.5, -2.0, 0.25], dtype=np.float32)
    t = TensorProto(name="typed_float", data_type=TensorProto.FLOAT, dims=[3])
    t.float_data.extend(values.tolist())
    save("typed_float.pb", t, values)
    ints = np.array([[3, -4]], dtype=np.int64)
    t = TensorProto(name="typed_int64", data_type=TensorProto.INT64, dims=[1, 2])
    t.int64_data.extend(ints.ravel().tolist())
    save("typed_int64.pb", t, ints)

    good = open(os.path.join(out, "f4_2x3.pb"), "rb").read()
    write_bytes(os.path.join(out, "bad_truncated.pb"), good[:-7])
    write_bytes(os.path.join(out, "bad_garbage.pb"), bytes(rng.integers(0, 256, 64, dtype=np.uint8)))
    write_bytes(os.path.join(out, "bad_empty.pb"), b"")
    t = TensorProto(name="short", data_type=TensorProto.FLOAT, dims=[4], raw_data=np.zeros(3, np.float32).tobytes())
    write_bytes(os.path.join(out, "bad_size.pb"), t.SerializeToString())
    expected["bad_truncated.pb"] = {"error": "TensorProto"}
    expected["bad_garbage.pb"] = {"error": "TensorProto"}
    expected["bad_empty.pb"] = {"error": "TensorProto"}
    expected["bad_size.pb"] = {"error": "raw_data"}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)


def dataset_fixtures():
    """Data sets for the hand-written C library in Tests/ssmcTests/Fixtures/affine.c:
    y = 2 * x + 1 (float32 [2, 3]) and positives = count of x > 0 (int64 [1])."""
    out = os.path.join(ROOT, "ssmcTests", "Fixtures", "affine")
    x = rng.standard_normal((2, 3)).astype(np.float32)
    y = (2.0 * x.astype(np.float64) + 1.0).astype(np.float32)
    positives = np.array([np.count_nonzero(x > 0)], dtype=np.int64)
    for index, (y_ref, p_ref) in enumerate([(y, positives), (y.copy(), positives)]):
        if index == 1:
            y_ref.flat[4] += 0.5  # one element far outside rtol 1e-3
        folder = os.path.join(out, f"test_data_set_{index}")
        write_bytes(os.path.join(folder, "input_0.pb"), numpy_helper.from_array(x, "x").SerializeToString())
        write_bytes(os.path.join(folder, "output_0.pb"), numpy_helper.from_array(y_ref, "y").SerializeToString())
        write_bytes(os.path.join(folder, "output_1.pb"), numpy_helper.from_array(p_ref, "positives").SerializeToString())
    with open(os.path.join(out, "input_0.npy"), "wb") as f:
        np.save(f, x)
    with open(os.path.join(out, "bad_shape.npy"), "wb") as f:
        np.save(f, x.reshape(3, 2))


if __name__ == "__main__":
    assert onnx.__version__ == "1.23.2", onnx.__version__
    npy_fixtures()
    pb_fixtures()
    dataset_fixtures()

"""Signal ops (windows, MelWeightMatrix, DFT, STFT, Det) compiled by ssmc vs numpy float64 (np.fft,
np.linalg.det), onnxruntime and the ONNX reference evaluator (run with SSMC=path/to/ssmc)."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from ssmc_testing import assert_close, compile_model, run_onnxruntime

rng = np.random.default_rng(11)
FLOAT = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE}


def model_of(op, inputs, constants, attrs, out_type, opset=20):
    """A one-node model: `inputs` are (tag, array) graph inputs, `constants` (tag, array) initializers."""
    node = helper.make_node(op, names_in_order(inputs, constants), ["y"], **attrs)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for n, a in inputs],
        [helper.make_tensor_value_info("y", out_type, None)],
        [numpy_helper.from_array(a, n) for n, a in constants])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def names_in_order(inputs, constants):
    """Operand names by their position tag `k:name` (k = operand index), '' for an absent operand."""
    tagged = {int(n.split(":")[0]): n for n, _ in inputs + constants}
    return [tagged.get(i, "") for i in range(max(tagged) + 1)]


def run(op, operands, inputs, attrs, out_type, tmp_path, opset=20, reference=True):
    """Compiles and runs; operands are (array or None) by position; `inputs` lists the positions fed at run
    time, the rest become initializers. Returns (ssmc result, onnxruntime result or None)."""
    feeds = [(f"{i}:x{i}", a) for i, a in enumerate(operands) if a is not None and i in inputs]
    consts = [(f"{i}:x{i}", a) for i, a in enumerate(operands) if a is not None and i not in inputs]
    model = model_of(op, feeds, consts, attrs, out_type, opset)
    got = compile_model(model, tmp_path).run(*[a for _, a in feeds])[0]
    ort = run_onnxruntime(model, tmp_path, *[a for _, a in feeds])[0] if reference else None
    return got, ort


# Windows ------------------------------------------------------------------------------------------------

def window_reference(name, size, periodic):
    n = np.arange(size, dtype=np.float64)
    span = size if periodic else size - 1
    if name == "HannWindow":
        return np.hanning(size + 1)[:-1] if periodic else np.hanning(size)
    if name == "BlackmanWindow":
        return np.blackman(size + 1)[:-1] if periodic else np.blackman(size)
    alpha = 25 / 46  # the ONNX HammingWindow coefficients
    return alpha - (1 - alpha) * np.cos(2 * np.pi * n / span)


@pytest.mark.parametrize("name", ["HannWindow", "HammingWindow", "BlackmanWindow"])
@pytest.mark.parametrize("size", [2, 7, 10, 33])
@pytest.mark.parametrize("periodic", [0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_window(name, size, periodic, dtype, tmp_path):
    code = FLOAT[dtype]
    got, ort = run(name, [np.array(size, np.int64)], [], {"periodic": periodic, "output_datatype": code}, code, tmp_path)
    assert got.dtype == dtype
    assert_close(got, window_reference(name, size, periodic), rtol=1e-6, atol=1e-7)
    assert_close(got, ort, rtol=1e-5, atol=1e-6, what="vs onnxruntime")


# MelWeightMatrix ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("bins,dft_length,rate,low,high", [(8, 16, 8192, 0.0, 4096.0), (10, 64, 16000, 50.0, 7000.0),
                                                          (5, 33, 22050, 100.0, 9000.0)])
def test_mel_weight_matrix(bins, dft_length, rate, low, high, tmp_path):
    from onnx.reference import ReferenceEvaluator
    operands = [np.array(bins, np.int64), np.array(dft_length, np.int64), np.array(rate, np.int64),
                np.array(low, np.float32), np.array(high, np.float32)]
    got, _ = run("MelWeightMatrix", operands, [], {}, TensorProto.FLOAT, tmp_path, opset=17, reference=False)
    node = helper.make_node("MelWeightMatrix", [f"m{i}" for i in range(5)], ["y"])
    expected = ReferenceEvaluator(node).run(None, {f"m{i}": a for i, a in enumerate(operands)})[0]
    assert got.shape == (dft_length // 2 + 1, bins)
    assert_close(got, expected, rtol=1e-6, atol=1e-7)


# Det ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 5, 5), (2, 3, 4, 4)])
def test_det_random(dtype, shape, tmp_path):
    x = rng.standard_normal(shape).astype(dtype)
    # onnxruntime implements Det for float only.
    got, ort = run("Det", [x], [0], {}, FLOAT[dtype], tmp_path, opset=22, reference=dtype == np.float32)
    assert_close(got, np.linalg.det(x.astype(np.float64)), rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-5)
    if ort is not None:
        assert_close(got, ort, rtol=1e-4, atol=1e-5, what="vs onnxruntime")


def test_det_special_matrices(tmp_path):
    a = np.array([[0, 1, 2], [1, 0, 3], [4, -3, 8]], np.float64)     # zero first pivot: needs a row swap
    singular = np.array([[1, 2, 3], [2, 4, 6], [1, 0, 1]], np.float64)  # rank 2
    zero_column = np.array([[0, 1, 2], [0, 3, 4], [0, 5, 6]], np.float64)
    negative = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 2]], np.float64)  # a swap: det -2
    x = np.stack([a, singular, zero_column, negative])
    for dtype in (np.float32, np.float64):
        # One folder per model: a second library at the same path would find the first one loaded.
        folder = tmp_path / np.dtype(dtype).name
        folder.mkdir()
        got, _ = run("Det", [x.astype(dtype)], [0], {}, FLOAT[dtype], folder, opset=22, reference=False)
        assert_close(got, np.linalg.det(x), rtol=1e-6, atol=1e-6)
        assert got[3] < 0 and got[1] == 0 and got[2] == 0


# DFT ----------------------------------------------------------------------------------------------------

def as_pairs(z):
    return np.stack([z.real, z.imag], axis=-1)


def complex_of(x):
    return x[..., 0] + 1j * x[..., 1] if x.shape[-1] == 2 else x[..., 0].astype(np.complex128)


@pytest.mark.parametrize("shape,axis", [((2, 7, 1), 1), ((3, 9, 2), -2), ((4, 5, 3, 2), 1), ((4, 5, 3, 1), 0),
                                        ((1, 16, 2), 1), ((2, 6, 1), -2)])
@pytest.mark.parametrize("inverse", [0, 1])
@pytest.mark.parametrize("onesided", [0, 1])
@pytest.mark.parametrize("length", [None, "shorter", "longer"])
def test_dft(shape, axis, inverse, onesided, length, tmp_path):
    x = rng.standard_normal(shape).astype(np.float32)
    n = shape[axis]
    ax = axis % len(shape)
    if inverse and onesided:
        L = {None: 2 * (n - 1), "shorter": max(2 * (n - 1) - 1, 1), "longer": 2 * n + 1}[length]
        dft_length = None if length is None else np.array(L, np.int64)
        spectrum = complex_of(x.astype(np.float64))
        expected = np.fft.irfft(spectrum, n=L, axis=ax)[..., None]
    else:
        L = {None: n, "shorter": max(n - 2, 1), "longer": n + 3}[length]
        dft_length = None if length is None else np.array(L, np.int64)
        z = complex_of(x.astype(np.float64))
        if inverse:
            y = np.fft.ifft(z, n=L, axis=ax)
        else:
            y = np.fft.fft(z, n=L, axis=ax)
        if onesided:
            y = np.take(y, np.arange(L // 2 + 1), axis=ax)
        expected = as_pairs(y)
    operands = [x, dft_length, np.array(axis, np.int64)]
    got, _ = run("DFT", operands, [0], {"inverse": inverse, "onesided": onesided}, TensorProto.FLOAT, tmp_path,
                 reference=False)
    assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("axis", [1, 2])
def test_dft_opset17_axis_attribute(axis, tmp_path):
    x = rng.standard_normal((2, 5, 6, 2)).astype(np.float32)
    node = helper.make_node("DFT", ["x"], ["y"], axis=axis)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    got = compile_model(model, tmp_path).run(x)[0]
    expected = as_pairs(np.fft.fft(complex_of(x.astype(np.float64)), axis=axis))
    assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert_close(got, run_onnxruntime(model, tmp_path, x)[0], rtol=1e-4, atol=1e-4, what="vs onnxruntime")


def test_dft_f64_against_onnxruntime(tmp_path):
    x = rng.standard_normal((3, 11, 1))
    got, ort = run("DFT", [x, None, np.array(1, np.int64)], [0], {"onesided": 1}, TensorProto.DOUBLE, tmp_path)
    assert_close(got, as_pairs(np.fft.rfft(x[..., 0], axis=1)), rtol=1e-10, atol=1e-12)
    assert_close(got, ort, rtol=1e-8, atol=1e-10, what="vs onnxruntime")


# STFT ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("length,components,step,frame,windowed,onesided", [
    (64, 1, 8, 16, True, 1), (50, 1, 7, 9, True, 1), (50, 2, 5, 11, True, 0), (40, 1, 3, 8, False, 0),
    (33, 2, 4, 7, False, 1)])
def test_stft(length, components, step, frame, windowed, onesided, tmp_path):
    x = rng.standard_normal((2, length, components)).astype(np.float32)
    window = np.hanning(frame + 1)[:-1].astype(np.float32) if windowed else None
    operands = [x, np.array(step, np.int64), window, np.array(frame, np.int64)]
    got, _ = run("STFT", operands, [0, 2], {"onesided": onesided}, TensorProto.FLOAT, tmp_path, opset=17,
                 reference=False)
    z = complex_of(x.astype(np.float64))
    frames = (length - frame) // step + 1
    w = np.ones(frame) if window is None else window.astype(np.float64)
    segments = np.stack([z[:, f * step:f * step + frame] * w for f in range(frames)], axis=1)
    y = np.fft.fft(segments, axis=-1)
    if onesided:
        y = y[..., :frame // 2 + 1]
    assert_close(got, as_pairs(y), rtol=1e-4, atol=1e-5)


def test_stft_against_onnxruntime(tmp_path):
    x = rng.standard_normal((1, 48, 1)).astype(np.float32)
    window = np.hamming(12).astype(np.float32)
    got, ort = run("STFT", [x, np.array(6, np.int64), window, np.array(12, np.int64)], [0, 2], {},
                   TensorProto.FLOAT, tmp_path, opset=17)
    assert_close(got, ort, rtol=1e-4, atol=1e-4, what="vs onnxruntime")


# Errors -------------------------------------------------------------------------------------------------

def error_model(op, shapes, constants, opset, operand_names):
    node = helper.make_node(op, operand_names, ["y"])
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in shapes],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in constants])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("model,message", [
    (error_model("Det", [("x", [3, 4])], [], 22, ["x"]), "square"),
    (error_model("DFT", [("x", [2, 5, 2])], [("a", -1)], 20, ["x", "", "a"]), "complex axis"),
    (error_model("DFT", [("x", [2, 5, 3])], [], 20, ["x"]), "last axis of 1"),
    (error_model("STFT", [("x", [1, 20, 1]), ("w", [6])], [("s", 2), ("f", 8)], 17, ["x", "s", "w", "f"]),
     "must equal frame_length"),
    (error_model("STFT", [("x", [1, 6, 1])], [("s", 2), ("f", 8)], 17, ["x", "s", "", "f"]), "exceeds"),
    (error_model("HannWindow", [], [("n", -3)], 17, ["n"]), "negative"),
    (error_model("DFT", [("x", [2, 5, 2])], [("a", 2**63 - 1)], 20, ["x", "", "a"]), "out of range"),
    (error_model("DFT", [("x", [2, 5, 2])], [("n", 0)], 20, ["x", "n"]), "dft_length 0 is out of range"),
    (error_model("STFT", [("x", [1, 6, 1])], [("s", 0)], 17, ["x", "s"]), "frame_step 0 is out of range"),
    (error_model("HannWindow", [], [("n", 2**62)], 17, ["n"]), "out of range"),
])
def test_errors_are_diagnostics(model, message, tmp_path):
    import subprocess
    from ssmc_testing import SSMC, save
    path = save(model, tmp_path)
    result = subprocess.run([SSMC, "compile", path, "-o", str(tmp_path / "lib.so")], capture_output=True, text=True)
    assert result.returncode == 1 and message in result.stderr, result.stderr


@pytest.mark.parametrize("shape,axis,length", [((3, 256, 2), 1, None), ((2, 8, 3, 1), 1, None), ((1, 1024, 1), -2, None),
                                               ((2, 100, 2), 1, 128), ((2, 300, 1), 1, 256), ((5, 2, 1), 1, None)])
@pytest.mark.parametrize("inverse,onesided", [(0, 0), (0, 1), (1, 0)])
def test_dft_power_of_two_lengths(shape, axis, length, inverse, onesided, tmp_path):
    """Lengths 2^k take the radix-2 FFT path (zero padded or truncated lines included)."""
    x = rng.standard_normal(shape).astype(np.float32)
    ax = axis % len(shape)
    z = complex_of(x.astype(np.float64))
    y = (np.fft.ifft if inverse else np.fft.fft)(z, n=length, axis=ax)
    if onesided:
        y = np.take(y, np.arange(y.shape[ax] // 2 + 1), axis=ax)
    dft_length = None if length is None else np.array(length, np.int64)
    got, _ = run("DFT", [x, dft_length, np.array(axis, np.int64)], [0], {"inverse": inverse, "onesided": onesided},
                 TensorProto.FLOAT, tmp_path, reference=False)
    assert_close(got, as_pairs(y), rtol=1e-4, atol=1e-5)


def test_mel_edges_past_the_spectrogram_are_diagnosed(tmp_path):
    import subprocess
    from ssmc_testing import SSMC, save
    values = [np.array(8, np.int64), np.array(16, np.int64), np.array(8000, np.int64), np.array(0, np.float32),
              np.array(1e38, np.float32)]
    node = helper.make_node("MelWeightMatrix", [f"m{i}" for i in range(5)], ["y"])
    graph = helper.make_graph([node], "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v, f"m{i}") for i, v in enumerate(values)])
    path = save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path)
    result = subprocess.run([SSMC, "compile", path, "-o", str(tmp_path / "lib.so")], capture_output=True, text=True)
    assert result.returncode == 1 and "spectrogram bins" in result.stderr, result.stderr

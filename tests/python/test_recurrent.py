"""The ONNX recurrent layers LSTM, GRU and RNN compiled by ssmc, against onnxruntime (f32) and the ONNX
reference evaluator (f64, which onnxruntime does not run). Covers what the backend cases miss:
bidirectional layers with sequence_lens (a zero length included), layout=1, clip, every activation with
alpha/beta, peepholes with input_forget, linear_before_reset, initial states, omitted outputs, weights as
initializers (packed at compile time) and sizes large enough for the blocked matmul kernel."""
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from tensor_ops_support import SSMC, compile_model, run_ort, run_ssmc

rng = np.random.default_rng(23)
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
OPERANDS = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
ELEMENT = {np.dtype(np.float32): onnx.TensorProto.FLOAT, np.dtype(np.float64): onnx.TensorProto.DOUBLE,
           np.dtype(np.int32): onnx.TensorProto.INT32}


def layer_inputs(op, T, B, I, H, directions=1, batch_major=False, bias=True, lengths=None, initial=False,
                 peepholes=False, dtype=np.float32, scale=0.5):
    """Random operands of a layer; None for the optional ones left out."""
    g = GATES[op]
    x_shape = (B, T, I) if batch_major else (T, B, I)
    state_shape = (B, directions, H) if batch_major else (directions, B, H)
    values = {
        "X": rng.standard_normal(x_shape),
        "W": rng.standard_normal((directions, g * H, I)) * scale,
        "R": rng.standard_normal((directions, g * H, H)) * scale,
        "B": rng.standard_normal((directions, 2 * g * H)) * scale if bias else None,
        "sequence_lens": np.array(lengths, np.int32) if lengths is not None else None,
        "initial_h": rng.standard_normal(state_shape) if initial else None,
        "initial_c": rng.standard_normal(state_shape) if initial and op == "LSTM" else None,
        "P": rng.standard_normal((directions, 3 * H)) * scale if peepholes else None,
    }
    count = 8 if op == "LSTM" else 6
    return {n: (v if v is None or n == "sequence_lens" else v.astype(dtype)) for n, v in list(values.items())[:count]}


def layer_model(op, values, attrs, outputs=("Y", "Y_h", "Y_c"), constants=(), opset=22):
    """A one-node model; names in `outputs` that are "" are omitted outputs, `constants` become initializers."""
    names = [n if values.get(n) is not None else "" for n in OPERANDS[:len(values)]]
    while names and names[-1] == "":
        names.pop()
    wanted = list(outputs)[:3 if op == "LSTM" else 2]
    node = helper.make_node(op, names, wanted, **attrs)
    inputs = [helper.make_tensor_value_info(n, ELEMENT[values[n].dtype], values[n].shape)
              for n in names if n and n not in constants]
    inits = [numpy_helper.from_array(values[n], n) for n in names if n in constants]
    outs = [helper.make_tensor_value_info(n, ELEMENT[values["X"].dtype], None) for n in wanted if n]
    model = helper.make_model(helper.make_graph([node], "g", inputs, outs, inits),
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9  # onnxruntime 1.31 rejects the IR version onnx 1.23 writes by default
    return model


def feeds(values, constants=()):
    return {n: v for n, v in values.items() if v is not None and n not in constants}


def compare(model, inputs, expected, rtol=2e-4, atol=2e-5):
    got = run_ssmc(model, inputs)
    assert len(got) == len(expected)
    for i, (g, w) in enumerate(zip(got, expected)):
        w = np.asarray(w)
        assert g.shape == w.shape, f"output {i}: shape {g.shape} != {w.shape}"
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"output {i}")


def ort_reference(op, values, attrs, outputs, constants, opset):
    """onnxruntime's outputs. It runs layout 0 only: a layout=1 layer is run as its layout-0 twin (X and
    the initial states with batch and time or direction swapped), whose outputs are swapped back."""
    if not attrs.get("layout"):
        model = layer_model(op, values, attrs, outputs, constants, opset)
        return run_ort(model, feeds(values, constants))
    twin = dict(values)
    for name in ("X", "initial_h", "initial_c"):
        if twin.get(name) is not None:
            twin[name] = np.ascontiguousarray(twin[name].transpose(1, 0, 2))
    model = layer_model(op, twin, {**attrs, "layout": 0}, outputs, constants, opset)
    results = run_ort(model, feeds(twin, constants))
    named = [n for n in list(outputs)[:3 if op == "LSTM" else 2] if n]
    return [r.transpose(2, 0, 1, 3) if n == "Y" else r.transpose(1, 0, 2) for n, r in zip(named, results)]


def check_ort(op, values, attrs, outputs=("Y", "Y_h", "Y_c"), constants=(), opset=22, rtol=2e-4, atol=2e-5):
    model = layer_model(op, values, attrs, outputs, constants, opset)
    compare(model, feeds(values, constants), ort_reference(op, values, attrs, outputs, constants, opset), rtol, atol)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("batch_major", [False, True])
def test_bidirectional_sequence_lens_initial_states(op, batch_major):
    # Row 2 stops early and row 3 never runs: their Y rows past the length and a zero-step row's final
    # states are zero; the backward direction of a short row starts at its own last step.
    values = layer_inputs(op, T=5, B=4, I=3, H=4, directions=2, batch_major=batch_major, lengths=[5, 3, 1, 0],
                          initial=True, peepholes=True)
    check_ort(op, values, {"hidden_size": 4, "direction": "bidirectional", "layout": int(batch_major)})


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_layout1_one_direction(op, direction):
    values = layer_inputs(op, T=4, B=3, I=5, H=3, batch_major=True, lengths=[2, 4, 3], initial=True)
    check_ort(op, values, {"hidden_size": 3, "direction": direction, "layout": 1})


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_clip(op):
    # Large weights push pre-activations well past the clip bound.
    values = layer_inputs(op, T=4, B=2, I=3, H=3, directions=2, initial=True, scale=3.0)
    check_ort(op, values, {"hidden_size": 3, "direction": "bidirectional", "clip": 0.7})


# Every activation ONNX allows, with explicit alpha/beta for those that take them (the experimental
# Affine/ScaledTanh and ThresholdedRelu have no defaults onnxruntime and the spec agree on).
ALL_ACTIVATIONS = ["Relu", "Tanh", "Sigmoid", "Affine", "LeakyRelu", "ThresholdedRelu", "ScaledTanh", "HardSigmoid",
                   "Elu", "Softsign", "Softplus"]
PARAMETERS = {"Affine": (0.6, 0.1), "LeakyRelu": (0.2, None), "ThresholdedRelu": (0.15, None),
              "ScaledTanh": (1.3, 0.7), "HardSigmoid": (0.3, 0.45), "Elu": (0.8, None)}


def activation_attrs(names):
    alphas = [PARAMETERS[n][0] for n in names if n in PARAMETERS]
    betas = [PARAMETERS[n][1] for n in names if n in PARAMETERS and PARAMETERS[n][1] is not None]
    attrs = {"activations": names}
    if alphas:
        attrs["activation_alpha"] = alphas
    if betas:
        attrs["activation_beta"] = betas
    return attrs


@pytest.mark.parametrize("first", range(len(ALL_ACTIVATIONS)))
@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_activations_with_alpha_beta(op, first):
    per_direction = {"LSTM": 3, "GRU": 2, "RNN": 1}[op]
    names = [ALL_ACTIVATIONS[(first + i) % len(ALL_ACTIVATIONS)] for i in range(2 * per_direction)]
    values = layer_inputs(op, T=3, B=2, I=3, H=4, directions=2, lengths=[3, 2], initial=True, scale=0.4)
    check_ort(op, values, {"hidden_size": 4, "direction": "bidirectional", **activation_attrs(names)})


def test_activation_defaults_of_leaky_relu_hard_sigmoid_elu():
    # No alpha/beta lists: LeakyRelu 0.01, HardSigmoid (0.2, 0.5), Elu 1.0.
    values = layer_inputs("LSTM", T=3, B=2, I=3, H=4, initial=True)
    check_ort("LSTM", values, {"hidden_size": 4, "activations": ["HardSigmoid", "LeakyRelu", "Elu"]})


@pytest.mark.parametrize("input_forget", [0, 1])
def test_lstm_peepholes(input_forget):
    values = layer_inputs("LSTM", T=5, B=3, I=4, H=5, directions=2, lengths=[5, 2, 4], initial=True, peepholes=True)
    check_ort("LSTM", values, {"hidden_size": 5, "direction": "bidirectional", "input_forget": input_forget})


@pytest.mark.parametrize("linear_before_reset", [0, 1])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_gru_linear_before_reset(linear_before_reset, direction):
    directions = 2 if direction == "bidirectional" else 1
    values = layer_inputs("GRU", T=4, B=3, I=3, H=5, directions=directions, lengths=[4, 1, 3], initial=True)
    check_ort("GRU", values, {"hidden_size": 5, "direction": direction, "linear_before_reset": linear_before_reset})


@pytest.mark.parametrize("outputs", [("", "Y_h"), ("Y",), ("", "", "Y_c"), ("", "Y_h", "Y_c")])
def test_omitted_outputs(outputs):
    values = layer_inputs("LSTM", T=3, B=2, I=3, H=4, lengths=[3, 1], initial=True)
    check_ort("LSTM", values, {"hidden_size": 4}, outputs=outputs)


def test_no_bias_and_hidden_size_from_weights():
    # Without the (optional) hidden_size attribute the size comes from R; onnxruntime needs the attribute.
    values = layer_inputs("GRU", T=3, B=2, I=3, H=4, bias=False)
    model = layer_model("GRU", values, {"linear_before_reset": 1})
    compare(model, feeds(values), ort_reference("GRU", values, {"hidden_size": 4, "linear_before_reset": 1}, ("Y", "Y_h"), (), 22))


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("constant", [False, True])
def test_large_layer_uses_blocked_projection(op, constant):
    # T·B = 64 rows and 32+ gate columns: the blocked matmul kernel computes the projection, packing W at
    # compile time when it is an initializer.
    values = layer_inputs(op, T=16, B=4, I=40, H=32, directions=2, lengths=[16, 9, 1, 12], initial=True, scale=0.2)
    constants = ("W", "R", "B") if constant else ()
    check_ort(op, values, {"hidden_size": 32, "direction": "bidirectional"}, constants=constants, rtol=5e-4, atol=5e-5)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_opset7_form(op):
    values = layer_inputs(op, T=3, B=2, I=3, H=4, directions=2, lengths=[3, 2], initial=True)
    check_ort(op, values, {"hidden_size": 4, "direction": "bidirectional"}, opset=7)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("batch_major", [False, True])
def test_f64_against_reference_evaluator(op, batch_major):
    values = layer_inputs(op, T=4, B=3, I=3, H=4, batch_major=batch_major, initial=True, dtype=np.float64)
    values = {n: (None if n in ("sequence_lens", "P") else v) for n, v in values.items()}
    attrs = {"hidden_size": 4, "layout": int(batch_major)}
    model = layer_model(op, values, attrs)
    inputs = feeds(values)
    expected = ReferenceEvaluator(model).run(None, inputs)
    compare(model, inputs, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_f64_wide_recurrent_weights_against_reference_evaluator(op):
    # H = 12: R's transpose into k-major rows moves f64 8 x 8 register tiles plus ragged rows and columns.
    values = layer_inputs(op, T=3, B=2, I=5, H=12, directions=2, initial=True, dtype=np.float64, scale=0.2)
    values = {n: (None if n in ("sequence_lens", "P") else v) for n, v in values.items()}
    model = layer_model(op, values, {"hidden_size": 12, "direction": "bidirectional"})
    inputs = feeds(values)
    expected = ReferenceEvaluator(model).run(None, inputs)
    compare(model, inputs, expected, rtol=1e-10, atol=1e-12)


def compile_error(model):
    """ssmc compile's stderr for a model it must reject cleanly (exit status 1, not a signal)."""
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "m.onnx"
        onnx.save(model, str(path))
        proc = subprocess.run([SSMC, "compile", str(path), "-o", str(Path(work) / "m.so")], capture_output=True, text=True)
    assert proc.returncode > 0, proc.stderr
    return proc.stderr


@pytest.mark.parametrize("attrs, message", [
    ({"activations": ["Sigmoid", "Gelu", "Tanh"]}, "activation 'Gelu'"),
    ({"activations": ["Sigmoid", "Tanh"]}, "needs 3 activations"),
    ({"direction": "sideways"}, "direction must be"),
    ({"hidden_size": 5}, "must be [1, 20"),
    ({"clip": -1.0}, "clip must be positive"),
])
def test_bad_attributes_are_errors(attrs, message):
    values = layer_inputs("LSTM", T=3, B=2, I=3, H=4)
    stderr = compile_error(layer_model("LSTM", values, {"hidden_size": 4, **attrs}))
    assert message in stderr, stderr


@pytest.mark.parametrize("op, attrs", [("LSTM", {"input_forget": 1}), ("GRU", {"linear_before_reset": 0}),
                                       ("GRU", {"linear_before_reset": 1})])
def test_large_step_product_splits_across_pool(op, attrs):
    # 8 rows x 256 hidden: each step's recurrent product is large enough for the pool, so the directions run
    # one after the other with the product split instead.
    values = layer_inputs(op, T=3, B=8, I=8, H=256, directions=2, lengths=[3, 1, 2, 3, 0, 3, 2, 1], initial=True,
                          peepholes=True, scale=0.05)
    check_ort(op, values, {"hidden_size": 256, "direction": "bidirectional", **attrs}, constants=("R",),
              rtol=5e-4, atol=5e-5)


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_run_time_batch_with_layout1(op):
    # X [N, T, I] with a symbolic N: one compiled library serves any batch (each sample runs alone).
    values = layer_inputs(op, T=4, B=1, I=3, H=5, directions=2, batch_major=True)
    attrs = {"hidden_size": 5, "direction": "bidirectional", "layout": 1}
    model = layer_model(op, values, attrs, constants=("W", "R", "B"))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    compiled = compile_model(model)
    for n in (1, 3):
        x = rng.standard_normal((n, 4, 3)).astype(np.float32)
        got = compiled.run(x)
        want = ort_reference(op, {**values, "X": x}, attrs, ("Y", "Y_h", "Y_c"), ("W", "R", "B"), 22)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("op, opset", [("LSTM", 1), ("GRU", 1), ("GRU", 3), ("RNN", 1)])
def test_opset1_forms(op, opset):
    # Opset 1's output_sequence (and GRU-3's linear_before_reset) import into the current form; onnxruntime
    # runs only opset 7 on, so it runs the same layer at opset 7.
    values = layer_inputs(op, T=3, B=2, I=3, H=4, directions=2, lengths=[3, 2], initial=True)
    attrs = {"hidden_size": 4, "direction": "bidirectional", **({"linear_before_reset": 1} if opset == 3 else {})}
    model = layer_model(op, values, {**attrs, "output_sequence": 1}, opset=opset)
    compare(model, feeds(values), ort_reference(op, values, attrs, ("Y", "Y_h", "Y_c"), (), 7))


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_f64_every_feature_against_f32_onnxruntime(op):
    # onnxruntime has no f64 layers: the f64 layer (loops per row) is checked against onnxruntime's f32 run
    # of the same values, to f32 accuracy.
    per_direction = {"LSTM": 3, "GRU": 2, "RNN": 1}[op]
    names = [ALL_ACTIVATIONS[(3 + i) % len(ALL_ACTIVATIONS)] for i in range(2 * per_direction)]
    values = layer_inputs(op, T=5, B=3, I=4, H=6, directions=2, batch_major=True, lengths=[5, 2, 0], initial=True,
                          peepholes=True, dtype=np.float64)
    attrs = {"hidden_size": 6, "direction": "bidirectional", "layout": 1, "clip": 1.5, **activation_attrs(names)}
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    single = {n: (v.astype(np.float32) if v is not None and v.dtype == np.float64 else v) for n, v in values.items()}
    expected = ort_reference(op, single, attrs, ("Y", "Y_h", "Y_c"), (), 22)
    model = layer_model(op, values, attrs)
    compare(model, feeds(values), expected, rtol=1e-4, atol=1e-5)

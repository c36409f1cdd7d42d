"""Writes ONNX test cases for ai.ssmc::SelectiveScan and checks onnxruntime (running the function body)
against the float64 numpy reference.

    tools/py tools/make_selective_scan_tests.py [-o build/selective_scan_tests] [--seed N]

Each case is a folder CASE/model.onnx + CASE/test_data_set_0/{input_K.pb, output_0.pb}; the expected
output comes from tools/ssmc_export/scan_reference.py (float64, cast to float32), never from onnxruntime.
Covers every combination of D/z/delta_bias present or absent, delta_softplus and reverse, crossed with
shapes for G = 1, 2, 4, B/C of rank 3 and 4, N = 1, 16 and 64, odd channel counts and L = 1.
Exits non-zero when onnxruntime differs by more than 1e-5 of the output's max magnitude.
"""
import argparse
import itertools
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper as oh, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ssmc_export import scan_function as sf  # noqa: E402
from ssmc_export.scan_reference import selective_scan_ref  # noqa: E402

# (batch, channels, L, N, G, B/C rank)
SHAPES = [
    (1, 8, 7, 16, 1, 4),
    (2, 6, 5, 4, 1, 3),
    (1, 12, 9, 1, 4, 4),
    (2, 10, 1, 16, 2, 4),
    (1, 7, 11, 3, 1, 3),
    (1, 16, 13, 64, 4, 4),
    (2, 9, 6, 2, 3, 4),
    (1, 5, 1, 1, 1, 3),
]


def make_case(rng, shape, present, softplus, reverse, opset):
    nb, nd, nl, nn, ng, rank = shape
    f32 = np.float32
    data = {
        "u": rng.standard_normal((nb, nd, nl)).astype(f32),
        # Raw delta around 0 so softplus matters; without softplus keep it positive like a step size.
        "delta": (rng.standard_normal((nb, nd, nl)) * 0.5 if softplus
                  else rng.uniform(0.01, 0.5, (nb, nd, nl))).astype(f32),
        "A": -np.exp(rng.standard_normal((nd, nn)) * 0.5).astype(f32),
        "B": rng.standard_normal((nb, ng, nn, nl) if rank == 4 else (nb, nn, nl)).astype(f32),
        "C": rng.standard_normal((nb, ng, nn, nl) if rank == 4 else (nb, nn, nl)).astype(f32),
        "D": rng.standard_normal(nd).astype(f32),
        "z": rng.standard_normal((nb, nd, nl)).astype(f32),
        "delta_bias": (rng.standard_normal(nd) * 0.5 if softplus else rng.uniform(0.0, 0.1, nd)).astype(f32),
    }
    if softplus:
        # One large value exercises the threshold-20 branch of softplus.
        data["delta"][0, 0, 0] = 25.0 - (data["delta_bias"][0] if "delta_bias" in present else 0.0)
    names = [k for k in sf.INPUTS if k not in sf.OPTIONAL or k in present]
    node, _ = sf.make_node({k: k for k in names}, "y", softplus, reverse, name="scan")
    inputs = [oh.make_tensor_value_info(k, TensorProto.FLOAT, data[k].shape) for k in names]
    graph = oh.make_graph([node], "selective_scan_case", inputs,
                          [oh.make_tensor_value_info("y", TensorProto.FLOAT, (nb, nd, nl))])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", opset), oh.make_opsetid(sf.DOMAIN, 1)],
                          producer_name="ssmc-tools", ir_version=sf.MIN_IR_VERSION)
    sf.finalize_model(model)
    onnx.checker.check_model(model, full_check=True)
    feeds = {k: data[k] for k in names}
    args = {k: data[k] for k in present}
    expected = selective_scan_ref(data["u"], data["delta"], data["A"], data["B"], data["C"],
                                  delta_softplus=softplus, reverse=reverse, **args)
    return model, feeds, expected


def save_case(folder, model, feeds, expected):
    ds = os.path.join(folder, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    onnx.save(model, os.path.join(folder, "model.onnx"))
    for i, (name, value) in enumerate(feeds.items()):
        with open(os.path.join(ds, f"input_{i}.pb"), "wb") as fh:
            fh.write(numpy_helper.from_array(value, name).SerializeToString())
    with open(os.path.join(ds, "output_0.pb"), "wb") as fh:
        fh.write(numpy_helper.from_array(expected.astype(np.float32), "y").SerializeToString())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--out", default="build/selective_scan_tests")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    worst, failed, count = 0.0, [], 0
    combos = list(itertools.product([0, 1], [0, 1], [0, 1], [0, 1], [0, 1]))
    for i, (has_d, has_z, has_bias, softplus, reverse) in enumerate(combos):
        present = [k for k, on in zip(sf.OPTIONAL, (has_d, has_z, has_bias)) if on]
        for j in (i % len(SHAPES), (i + 3) % len(SHAPES)):
            shape = SHAPES[j]
            model, feeds, expected = make_case(rng, shape, present, softplus, reverse, args.opset)
            tag = "".join(k[0] if k != "delta_bias" else "b" for k in present) or "none"
            name = f"scan_{count:02d}_b{shape[0]}d{shape[1]}l{shape[2]}n{shape[3]}g{shape[4]}r{shape[5]}" \
                   f"_{tag}_sp{softplus}_rev{reverse}"
            save_case(os.path.join(args.out, name), model, feeds, expected)
            sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
            got = sess.run(None, feeds)[0].astype(np.float64)
            scale = max(np.abs(expected).max(), 1e-30)
            max_abs = float(np.abs(got - expected).max())
            rel = max_abs / scale
            worst = max(worst, rel)
            status = "ok" if rel <= 1e-5 else "FAIL"
            if status != "ok":
                failed.append(name)
            print(f"{name:60s} max-abs {max_abs:.2e}  max-rel {rel:.2e}  {status}")
            count += 1
    print(f"{count} cases written to {args.out}; onnxruntime vs float64 numpy: worst max-rel {worst:.2e}; "
          f"{len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

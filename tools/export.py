"""Exports Vim, VMamba and ConvNeXt-S4ND (our PyTorch definitions) to ONNX for ssmc.

    tools/py-export tools/export.py MODEL [--checkpoint PATH] [--seed N] [--size S | --size HxW]
                                    [--batch B|dynamic] [--dynamic-size HxW] [--s4nd-form separable|ssm]
                                    -o OUT.onnx [--test-data]

MODEL: vim-tiny, vim-small, vmamba-tiny (vssm1_tiny_0230s, v05_noz), vmamba-tiny-v0 (vssm_tiny),
s4nd-convnext-tiny, or any of them with a -micro suffix (same structure, tiny widths/depths/resolution).
Without --checkpoint every parameter is drawn from --seed. After exporting, the ONNX file is run in
onnxruntime and compared with the PyTorch forward (max-abs, and max-rel to the output's max magnitude).
--test-data also writes OUT's folder/test_data_set_0/{input_0.pb, output_0.pb} (output from PyTorch).
--dynamic-size HxW (VMamba, which takes any input size) exports symbolic height and width dims and checks
and writes one more data set at HxW.
"""
import argparse
import importlib
import json
import os
import sys
import time

import numpy as np
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ssmc_export import onnx_io  # noqa: E402
from ssmc_export.flops import count_flops  # noqa: E402
from ssmc_models.common import load_checkpoint  # noqa: E402

BASE_MODELS = {"vim-tiny": "vim", "vim-small": "vim", "vmamba-tiny": "vmamba", "vmamba-tiny-v0": "vmamba",
               "s4nd-convnext-tiny": "s4nd"}
FAMILIES = {name + suffix: fam for name, fam in BASE_MODELS.items() for suffix in ("", "-micro")}


def parse_size(text):
    if text is None:
        return None
    if "x" in text:
        h, w = text.lower().split("x")
        return int(h), int(w)
    return int(text), int(text)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Export a state-space vision model to ONNX for ssmc.")
    ap.add_argument("model", choices=sorted(FAMILIES))
    ap.add_argument("--checkpoint", help="official checkpoint (.pth): bare state_dict or {'model'|'state_dict': ...}")
    ap.add_argument("--seed", type=int, default=0, help="seed for random parameters and the test input")
    ap.add_argument("--size", help="input resolution S or HxW (default: the model's)")
    ap.add_argument("--batch", default="1", help="batch size, or 'dynamic' for a symbolic batch dim")
    ap.add_argument("--dynamic-size", metavar="HxW",
                    help="symbolic height and width (VMamba only); also check and write test data at HxW")
    ap.add_argument("--s4nd-form", choices=["separable", "ssm"], default="separable")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--test-data", action="store_true", help="write test_data_set_0 beside OUT")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    family = importlib.import_module("ssmc_models." + FAMILIES[args.model])
    size = parse_size(args.size) or family.default_size(args.model)
    dynamic = args.batch == "dynamic"
    batch = 2 if dynamic else int(args.batch)
    second_size = parse_size(args.dynamic_size)
    if second_size and FAMILIES[args.model] != "vmamba":
        # Vim's position embedding and S4ND's exported kernels are made for one size.
        ap.error("--dynamic-size: only the VMamba models take any input size")

    model = family.build(args.model, size)
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint)
    else:
        family.random_init(model, args.seed)
    model.eval()
    gen = torch.Generator().manual_seed(args.seed + 1)
    x = torch.randn(batch, 3, size[0], size[1], generator=gen)

    if dynamic:
        x1 = torch.randn(1, 3, size[0], size[1], generator=gen)
        with torch.no_grad():
            ref1 = model(x1).numpy()
    if second_size:
        x2 = torch.randn(batch, 3, second_size[0], second_size[1], generator=gen)
        with torch.no_grad():
            ref2 = model(x2).numpy()

    export_module = family.export_module(model, size, args.s4nd_form) if FAMILIES[args.model] == "s4nd" else model
    t0 = time.time()
    with torch.no_grad():
        reference = model(x).numpy()
        # S4ND's eager forward runs its FFTs in numpy; count the separable convolutions instead.
        flops = count_flops(family.export_module(model, size, "separable")
                            if FAMILIES[args.model] == "s4nd" else model, x[:1])
    t_fwd = time.time() - t0
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    onnx_model = onnx_io.export(export_module, x, args.output, opset=args.opset, dynamic_batch=dynamic,
                                dynamic_size=bool(second_size))
    params = sum(p.numel() for p in model.parameters())
    report = {
        "model": args.model, "size": list(size), "batch": args.batch, "parameters": params,
        "gflops_per_image": round(flops / 1e9, 4), "file_bytes": os.path.getsize(args.output),
        "ops": onnx_io.op_histogram(onnx_model), "torch_forward_s": round(t_fwd, 2),
    }
    if FAMILIES[args.model] == "s4nd" and args.s4nd_form == "ssm":
        report["ort"] = "not run: the ai.ssmc S4ND op has no function body"
    else:
        got = onnx_io.run_ort(onnx_model, x.numpy())
        max_abs, max_rel = onnx_io.compare(reference, got)
        report.update(ort_max_abs=max_abs, ort_max_rel=max_rel)
        if dynamic:
            report["ort_max_rel_batch1"] = onnx_io.compare(ref1, onnx_io.run_ort(onnx_model, x1.numpy()))[1]
        if second_size:
            report["ort_max_rel_second_size"] = onnx_io.compare(ref2, onnx_io.run_ort(onnx_model, x2.numpy()))[1]
    if args.test_data:
        # A dynamic batch gets a data set at batch 1 and a dynamic size one at the second size, so one file
        # is checked at two batch sizes and two input sizes.
        sets = [(x.numpy(), reference)] + ([(x1.numpy(), ref1)] if dynamic else [])
        sets += [(x2.numpy(), ref2)] if second_size else []
        names = (onnx_model.graph.input[0].name, onnx_model.graph.output[0].name)
        for k, (inp, out) in enumerate(sets):
            ds = os.path.join(os.path.dirname(os.path.abspath(args.output)), f"test_data_set_{k}")
            os.makedirs(ds, exist_ok=True)
            for fname, arr, nm in (("input_0.pb", inp, names[0]), ("output_0.pb", out, names[1])):
                with open(os.path.join(ds, fname), "wb") as fh:
                    fh.write(numpy_helper.from_array(np.ascontiguousarray(arr, np.float32), nm).SerializeToString())
    print(json.dumps(report))
    limit = 1e-3 if FAMILIES[args.model] == "s4nd" else 1e-4
    for key in ("ort_max_rel", "ort_max_rel_batch1", "ort_max_rel_second_size"):
        if key in report and report[key] > limit:
            print(f"export: onnxruntime differs from PyTorch by {report[key]:.2e} ({key}, limit {limit})",
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

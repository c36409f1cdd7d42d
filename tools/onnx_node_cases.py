"""Writes the ONNX backend *node* test cases of the pinned onnx package to a folder.

The cases come from onnx's own generators (`onnx.backend.test.case.node.collect_testcases`),
so they match the installed onnx exactly. Each case becomes `DIR/NAME/model.onnx` plus
`DIR/NAME/test_data_set_N/{input_K,output_K}.pb`, the layout onnx ships its test data in.
`DIR/manifest.json` records, per case, the ops it uses, the op it tests and its tolerances,
so the runner need not reload every model. A stamp file names the onnx version and our
layout version; the folder is regenerated only when the stamp is missing or differs.

Used by tools/onnx_backend_tests.py; run alone to (re)generate:
    tools/py tools/onnx_node_cases.py [--out build/onnx-node-tests] [--force]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

# Bump when the folder layout or the manifest fields change, so old folders are regenerated.
LAYOUT_VERSION = 2
STAMP = ".generated"
MANIFEST = "manifest.json"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "build" / "onnx-node-tests"


def stamp_text() -> str:
    return f"onnx {onnx.__version__} layout {LAYOUT_VERSION}\n"


def op_key(domain: str, op_type: str) -> str:
    """The `DOMAIN OPTYPE` spelling `ssmc ops` prints (the default domain as ai.onnx)."""
    return f"{domain or 'ai.onnx'} {op_type}"


def ops_used(model: onnx.ModelProto) -> list[str]:
    """Every op a model runs: nodes, subgraph nodes, and the bodies of model-local functions."""
    functions = {(f.domain, f.name): f for f in model.functions}
    found: set[str] = set()
    seen_functions: set[tuple[str, str]] = set()

    def walk(nodes) -> None:
        for node in nodes:
            fkey = (node.domain, node.op_type)
            if fkey in functions:
                # A local function is expanded by the compiler; what must be claimed is its body.
                if fkey not in seen_functions:
                    seen_functions.add(fkey)
                    walk(functions[fkey].node)
            else:
                found.add(op_key(node.domain, node.op_type))
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g.node)
                elif attr.type == onnx.AttributeProto.GRAPHS:
                    for g in attr.graphs:
                        walk(g.node)

    walk(model.graph.node)
    return sorted(found)


def tested_op(name: str, model: onnx.ModelProto) -> str:
    """The op a case exists to test.

    A plain case is one node. An `_expanded` case is that op's function body; onnx prefixes the
    body's value names with `OPTYPE_CASEBASE_expanded_function_`, which names the op.
    """
    graph = model.graph
    cut = name.find("_expanded")
    if cut < 0 or len(graph.node) == 1:
        node = graph.node[0]
        return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
    marker = f"_{name[:cut]}_expanded_function_"
    for node in graph.node:
        for value in list(node.output) + list(node.input):
            if marker in value:
                return value.split(marker, 1)[0]
    return graph.node[0].op_type


def _to_proto(value, value_info: onnx.ValueInfoProto):
    """One input or output value as the proto onnx's test loader expects for its declared type."""
    kind = value_info.type.WhichOneof("value")
    name = value_info.name
    if kind == "sequence_type":
        return numpy_helper.from_list(value, name)
    if kind == "optional_type":
        return numpy_helper.from_optional(value, name)
    if kind == "map_type":
        return numpy_helper.from_dict(value, name)
    if isinstance(value, onnx.TensorProto):
        return value
    return numpy_helper.from_array(np.asarray(value), name)


def _elem_type_names(values: list[onnx.ValueInfoProto]) -> list[str]:
    out = []
    for vi in values:
        t = vi.type
        if t.WhichOneof("value") == "tensor_type":
            out.append(onnx.helper.tensor_dtype_to_string(t.tensor_type.elem_type).removeprefix("TensorProto."))
        else:
            out.append(t.WhichOneof("value") or "unknown")
    return out


def write_case(case, out_dir: Path) -> dict:
    case_dir = out_dir / case.name
    case_dir.mkdir(parents=True)
    model = case.model
    (case_dir / "model.onnx").write_bytes(model.SerializeToString())
    for i, (inputs, outputs) in enumerate(case.data_sets):
        ds = case_dir / f"test_data_set_{i}"
        ds.mkdir()
        for j, value in enumerate(inputs):
            (ds / f"input_{j}.pb").write_bytes(_to_proto(value, model.graph.input[j]).SerializeToString())
        for j, value in enumerate(outputs):
            (ds / f"output_{j}.pb").write_bytes(_to_proto(value, model.graph.output[j]).SerializeToString())
    return {
        "op": tested_op(case.name, model),
        "ops": ops_used(model),
        "rtol": case.rtol,
        "atol": case.atol,
        "data_sets": len(case.data_sets),
        "output_types": _elem_type_names(list(model.graph.output)),
        "input_types": _elem_type_names(list(model.graph.input)),
    }


def generate(out_dir: Path) -> dict:
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    from onnx.backend.test.case import node as node_cases

    with warnings.catch_warnings():
        # The generators compute references with numpy and trip its divide/overflow warnings on purpose.
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            cases = node_cases.collect_testcases()
    manifest = {"onnx": onnx.__version__, "cases": {}}
    for case in cases:
        manifest["cases"][case.name] = write_case(case, out_dir)
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    # Written last: an interrupted generation leaves no stamp and is redone next time.
    (out_dir / STAMP).write_text(stamp_text())
    return manifest


def ensure_cases(out_dir: Path = DEFAULT_OUT, force: bool = False, log=sys.stderr) -> dict:
    """Returns the manifest, generating the cases first if missing or made by another onnx."""
    stamp = out_dir / STAMP
    if not force and stamp.exists() and stamp.read_text() == stamp_text():
        return json.loads((out_dir / MANIFEST).read_text())
    print(f"generating ONNX node test cases from onnx {onnx.__version__} into {out_dir}", file=log)
    manifest = generate(out_dir)
    print(f"generated {len(manifest['cases'])} cases", file=log)
    return manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    args = parser.parse_args()
    ensure_cases(args.out, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())

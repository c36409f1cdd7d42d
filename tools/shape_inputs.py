"""Turns run-time inputs that decide output shapes into constants, for compiling ONNX test cases statically.

ssmc compiles static shapes, so an op whose output shape depends on the *value* of an input (Reshape's
shape, Pad's pads, a Reduce's axes, ...) needs that value at compile time. ONNX's node tests often feed
those values as graph inputs. Like onnx-mlir's backend runner for its static mode, the runner promotes such
inputs to initializers holding the test data's value, provided every data set of the case uses the same
value, and removes them from the data sets it checks. Nothing else about the case changes.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

# Input positions (per op type) whose values decide the output's shape.
SHAPE_OPERANDS = {
    "Reshape": [1], "Expand": [1], "ConstantOfShape": [0], "Pad": [1, 3], "Tile": [1], "Slice": [1, 2, 3, 4],
    "Range": [0, 1, 2], "Squeeze": [1], "Unsqueeze": [1], "Split": [1], "ReduceSum": [1], "ReduceMean": [1],
    "ReduceMax": [1], "ReduceMin": [1], "ReduceProd": [1], "ReduceL1": [1], "ReduceL2": [1], "ReduceLogSum": [1],
    "ReduceLogSumExp": [1], "ReduceSumSquare": [1], "Resize": [1, 2, 3], "Upsample": [1], "TopK": [1],
    "OneHot": [1], "Loop": [0, 1], "AffineGrid": [1], "CenterCropPad": [1], "MaxUnpool": [2], "Col2Im": [1, 2],
    # Sequences are lists fixed at compile time: their positions and split sizes must be constants.
    "SplitToSequence": [1], "SequenceAt": [1], "SequenceInsert": [2], "SequenceErase": [1],
    "HannWindow": [0], "HammingWindow": [0], "BlackmanWindow": [0], "MelWeightMatrix": [0, 1, 2, 3, 4],
    "DFT": [1, 2], "STFT": [1, 3],
}


# Ops whose result depends only on their operand's type, not its value: tracing stops there.
TYPE_ONLY = {"Shape", "Size"}


def all_nodes(graph):
    """The graph's nodes and those of the subgraphs in their attributes (If branches, Loop bodies)."""
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            for subgraph in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
                yield from all_nodes(subgraph)


def shape_inputs(model: onnx.ModelProto) -> list[int]:
    """Indices of graph inputs whose values decide a shape: they feed a shape-deciding operand of some node,
    directly or through the nodes that compute it (as in the expanded function bodies of the node tests)."""
    names = [i.name for i in model.graph.input]
    nodes = list(all_nodes(model.graph))
    producers = {out: node for node in nodes for out in node.output}
    pending = [node.input[p] for node in nodes for p in SHAPE_OPERANDS.get(node.op_type, [])
               if p < len(node.input) and node.input[p]]
    seen, found = set(), set()
    while pending:
        value = pending.pop()
        if value in seen:
            continue
        seen.add(value)
        if value in names:
            found.add(names.index(value))
        node = producers.get(value)
        if node is not None and node.op_type not in TYPE_ONLY:
            pending += [i for i in node.input if i]
            # An If's (or Loop's) results come from its subgraphs' outputs.
            for attribute in node.attribute:
                for subgraph in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
                    pending += [o.name for o in subgraph.output]
    return sorted(found)


def promote(case_dir: Path, data_sets: int, work: Path) -> tuple[Path, list[Path]] | None:
    """Writes a copy of the case with its shape inputs as initializers; None when there are none.

    Raises ValueError when the data sets disagree on a promoted input's value.
    """
    model = onnx.load(str(case_dir / "model.onnx"))
    promoted = shape_inputs(model)
    if not promoted:
        return None
    values = {}
    for k in promoted:
        arrays = [numpy_helper.to_array(onnx.load_tensor(str(case_dir / f"test_data_set_{i}" / f"input_{k}.pb")))
                  for i in range(data_sets)]
        if any(not np.array_equal(a, arrays[0]) for a in arrays[1:]):
            raise ValueError(f"data sets disagree on the value of shape input {model.graph.input[k].name}")
        values[k] = arrays[0]
    inputs = list(model.graph.input)
    for k in promoted:
        model.graph.initializer.append(numpy_helper.from_array(values[k], inputs[k].name))
    del model.graph.input[:]
    model.graph.input.extend([vi for k, vi in enumerate(inputs) if k not in values])
    work.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(work / "model.onnx"))
    sets = []
    for i in range(data_sets):
        source, target = case_dir / f"test_data_set_{i}", work / f"test_data_set_{i}"
        target.mkdir()
        kept = [k for k in range(len(inputs)) if k not in values]
        for new, old in enumerate(kept):
            shutil.copy(source / f"input_{old}.pb", target / f"input_{new}.pb")
        for out in source.glob("output_*.pb"):
            shutil.copy(out, target / out.name)
        sets.append(target)
    return work / "model.onnx", sets

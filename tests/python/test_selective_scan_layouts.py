"""SelectiveScan reading u, delta, z and writing y through strides (pass absorb-scan-layouts).

Each model stores the scan's sequence tensors as graph inputs in one of four layouts: (B, D, L) or
(B, L, D), each with L in order or reversed, and turns them into the scan's (B, D, L) operands with
Transpose perm [0, 2, 1] and full-reversal Slices (step -1 on L); y goes through the same copies back. ssmc
must absorb every one of those copies into the scan (checked on the --emit ir output) and still compute the
graph: compared with a float64 numpy evaluation of the same graph (the copies done in numpy, the scan by
the reference of tests/python/test_selective_scan.py). Criterion: max-abs error <= 1e-5 * max|reference|.

The layouts of (u, delta, z, y) run over an orthogonal array of 16 rows (every pair of the four tensors
meets every pair of layouts), all in one model, for every reverse x odd/even D x N in {1, 16} x G in {1, 4};
a separate test runs all 256 layout combinations once.
"""
import itertools
import os
import re
import subprocess

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

from ssmc_testing import SSMC, compile_model, emitted_ir, errors, save
from test_selective_scan import reference

# A layout: (transposed, flipped). Transposed: stored (B, L, D); flipped: logical l stored at L-1-l.
LAYOUTS = [(False, False), (True, False), (False, True), (True, True)]
SEQUENCE = ["u", "delta", "z", "y"]
# An orthogonal array OA(16, 4, 4, 2) from GF(4) arithmetic (addition is XOR): rows (i, j, i + j, i + 2j).
GF4_MUL = [[0, 0, 0, 0], [0, 1, 2, 3], [0, 2, 3, 1], [0, 3, 1, 2]]
PAIRWISE = [(i, j, i ^ j, i ^ GF4_MUL[2][j]) for i in range(4) for j in range(4)]


def to_logical(stored, layout):
    """The (B, D, L) logical tensor of a stored one, as the graph's copies compute it."""
    transposed, flipped = layout
    x = stored.transpose(0, 2, 1) if transposed else stored
    return x[:, :, ::-1] if flipped else x


def to_stored(logical, layout):
    """The stored form of a logical (B, D, L) tensor: what the graph's output copies make of y."""
    transposed, flipped = layout
    x = logical[:, :, ::-1] if flipped else logical
    return x.transpose(0, 2, 1) if transposed else x


class GraphBuilder:
    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def fresh(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, hint, values):
        name = self.fresh(hint)
        self.inits.append(numpy_helper.from_array(np.array(values, np.int64), name))
        return name

    def transpose(self, x):
        out = self.fresh("t")
        self.nodes.append(h.make_node("Transpose", [x], [out], perm=[0, 2, 1]))
        return out

    def flip(self, x, axis):
        # starts -1 / ends INT64_MIN, as torch.flip-free exporters write x[..., ::-1].
        out = self.fresh("f")
        inputs = [x, self.const("s", [-1]), self.const("e", [-(2**63)]), self.const("a", [axis]), self.const("p", [-1])]
        self.nodes.append(h.make_node("Slice", inputs, [out]))
        return out

    def read(self, stored, layout, flip_first):
        """Copies from a stored input to the logical operand; `flip_first` varies the chain's order."""
        transposed, flipped = layout
        x = stored
        if flip_first and flipped:
            x = self.flip(x, 1 if transposed else 2)
        if transposed:
            x = self.transpose(x)
        if flipped and not flip_first:
            x = self.flip(x, 2)
        return x

    def write(self, y, layout):
        transposed, flipped = layout
        if flipped:
            y = self.flip(y, 2)
        if transposed:
            y = self.transpose(y)
        return y


def stored_shape(batch, channels, length, layout):
    return [batch, length, channels] if layout[0] else [batch, channels, length]


def layout_model(rows, batch, channels, length, states, groups, reverse):
    """One model with a scan per row of layout indices (u, delta, z, y); outputs y0, y1, ..."""
    g = GraphBuilder()
    used = sorted({(name, row[k]) for row in rows for k, name in enumerate(SEQUENCE[:3])})
    inputs = [h.make_tensor_value_info(f"{name}{i}", T.FLOAT, stored_shape(batch, channels, length, LAYOUTS[i]))
              for name, i in used]
    bc = [batch, groups, states, length]
    inputs += [h.make_tensor_value_info("A", T.FLOAT, [channels, states]),
               h.make_tensor_value_info("B", T.FLOAT, bc), h.make_tensor_value_info("C", T.FLOAT, bc),
               h.make_tensor_value_info("D", T.FLOAT, [channels]),
               h.make_tensor_value_info("delta_bias", T.FLOAT, [channels])]
    outputs = []
    for n, row in enumerate(rows):
        operands = [g.read(f"{name}{row[k]}", LAYOUTS[row[k]], flip_first=(n + k) % 2 == 0)
                    for k, name in enumerate(SEQUENCE[:3])]
        y = g.fresh("y")
        g.nodes.append(h.make_node(
            "SelectiveScan", [operands[0], operands[1], "A", "B", "C", "D", operands[2], "delta_bias"], [y],
            domain="ai.ssmc", delta_softplus=1, reverse=int(reverse)))
        out = g.write(y, LAYOUTS[row[3]])
        g.nodes.append(h.make_node("Identity", [out], [f"y{n}"]))
        outputs.append(h.make_tensor_value_info(f"y{n}", T.FLOAT, stored_shape(batch, channels, length, LAYOUTS[row[3]])))
    graph = h.make_graph(g.nodes, "scan_layouts", inputs, outputs, initializer=g.inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("ai.ssmc", 1)])
    return model, [i.name for i in inputs]


def make_data(rng, batch, channels, length, states, groups):
    f = np.float32
    logical = {
        "u": rng.standard_normal((batch, channels, length)),
        "delta": rng.standard_normal((batch, channels, length)) * 0.5 - 1.0,
        "z": rng.standard_normal((batch, channels, length)),
    }
    data = {f"{name}{i}": to_stored(logical[name], LAYOUTS[i]).astype(f) for name in logical for i in range(4)}
    data.update({
        "A": (-np.exp(rng.standard_normal((channels, states)) * 0.5)).astype(f),
        "B": rng.standard_normal((batch, groups, states, length)).astype(f),
        "C": rng.standard_normal((batch, groups, states, length)).astype(f),
        "D": rng.standard_normal(channels).astype(f),
        "delta_bias": (rng.standard_normal(channels) * 0.3).astype(f),
    })
    return data


def check(tmp_path, rows, batch, channels, length, states, groups, reverse, seed=0):
    rng = np.random.default_rng(seed)
    data = make_data(rng, batch, channels, length, states, groups)
    model, names = layout_model(rows, batch, channels, length, states, groups, reverse)

    ir = emitted_ir(model, tmp_path)
    ops = re.findall(r"= ([A-Za-z.]+)\(", ir)
    assert "Transpose" not in ops and "Slice" not in ops, f"copies left around the scans:\n{ir}"
    assert ops.count("ssmc.SelectiveScan") == len(rows)

    got = compile_model(model, tmp_path).run(*[data[n] for n in names])
    worst = 0.0
    for n, row in enumerate(rows):
        operands = {name: to_logical(data[f"{name}{row[k]}"], LAYOUTS[row[k]]) for k, name in enumerate(SEQUENCE[:3])}
        y = reference(operands["u"], operands["delta"], data["A"], data["B"], data["C"], D=data["D"], z=operands["z"],
                      delta_bias=data["delta_bias"], softplus=True, reverse=reverse)
        want = to_stored(y, LAYOUTS[row[3]])
        assert got[n].shape == want.shape, f"row {row}: shape {got[n].shape} != {want.shape}"
        max_abs, _ = errors(got[n], want)
        scale = float(np.abs(want).max())
        worst = max(worst, max_abs / scale)
        assert max_abs <= 1e-5 * scale, f"layouts {[LAYOUTS[i] for i in row]}: max-abs {max_abs:.3g} > 1e-5 * {scale:.3g}"
    print(f"B={batch} D={channels} L={length} N={states} G={groups} reverse={reverse} rows={len(rows)}: "
          f"worst max-abs / max|ref| {worst:.3g}")


CASES = list(itertools.product([False, True], [False, True], [1, 16], [1, 4]))


@pytest.mark.parametrize("reverse,odd,states,groups", CASES,
                         ids=[f"rev{int(r)}-{'odd' if o else 'even'}D-N{n}-G{g}" for r, o, n, g in CASES])
def test_pairwise_layouts(tmp_path, reverse, odd, states, groups):
    # Odd D: 21 channels (G = 1) or 4 x 9 (G = 4), so blocks end inside a 16-lane vector; L = 37 leaves a
    # partial chunk of 5 positions; batch 2 moves every stored offset.
    channels = (21 if groups == 1 else 36) if odd else 32
    check(tmp_path, PAIRWISE, 2, channels, 37, states, groups, reverse, seed=states + groups)


def test_many_layout_combinations(tmp_path):
    # Every 11th of the 256 combinations (24 scans in one model): with the pairwise cases above this covers
    # each tensor's four layouts next to many others, at a tenth of the compile time of all 256.
    rows = list(itertools.product(range(4), repeat=4))[::11]
    check(tmp_path, rows, 1, 20, 19, 4, 4, True, seed=7)


def test_shared_copy_stays_for_its_other_user(tmp_path):
    # The Transpose also feeds a graph output: it stays for it, and the scan still reads delta through strides.
    batch, channels, length, states = 1, 17, 23, 16
    rng = np.random.default_rng(3)
    data = make_data(rng, batch, channels, length, states, 1)
    model, names = layout_model([(0, 1, 0, 0)], batch, channels, length, states, 1, False)
    transposed = next(n for n in model.graph.node if n.op_type == "Transpose").output[0]
    model.graph.node.append(h.make_node("Identity", [transposed], ["delta_copy"]))
    model.graph.output.append(h.make_tensor_value_info("delta_copy", T.FLOAT, [batch, channels, length]))
    ir = emitted_ir(model, tmp_path)
    scan = next(line for line in ir.splitlines() if "ssmc.SelectiveScan" in line)
    assert "layout_transposed = [0, 1, 0, 0]" in scan, scan
    assert "Transpose(" in ir
    y, copy = compile_model(model, tmp_path).run(*[data[n] for n in names])
    want = reference(data["u0"], to_logical(data["delta1"], LAYOUTS[1]), data["A"], data["B"], data["C"], D=data["D"],
                     z=data["z0"], delta_bias=data["delta_bias"], softplus=True)
    max_abs, _ = errors(y, want)
    assert max_abs <= 1e-5 * float(np.abs(want).max())
    assert np.array_equal(copy, to_logical(data["delta1"], LAYOUTS[1]))


def test_onnx_node_may_not_set_layout_attributes(tmp_path):
    # The layout attributes belong to ssmc's IR: the ai.ssmc op (and its ONNX function bodies) has none.
    model, _ = layout_model([(0, 0, 0, 0)], 1, 4, 5, 2, 1, False)
    scan = next(n for n in model.graph.node if n.op_type == "SelectiveScan")
    scan.attribute.append(h.make_attribute("layout_transposed", [0, 1, 0, 0]))
    path = save(model, tmp_path)
    result = subprocess.run([SSMC, "compile", path, "-o", os.path.join(str(tmp_path), "lib.so")],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "attribute 'layout_transposed' is internal to ssmc's IR" in result.stderr, result.stderr

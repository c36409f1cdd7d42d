"""The ONNX encoding of `ai.ssmc::SelectiveScan` (version 1) and its model-local function bodies.

A node carries the op; a FunctionProto of the same domain and name gives the math in standard ONNX
(a `Scan` over L) so any ONNX runtime can run the file. ONNX cannot test inside a function whether an
optional input was given, so each pattern of absent inputs gets its own body, selected by the
`overload` field (ONNX IR version 10): overload "" has D, z and delta_bias present, and e.g. "no_z" or
"no_D_z_delta_bias" lacks those. ssmc itself maps the node to its IR op and never runs a body.
"""
import onnx
from onnx import TensorProto, helper as oh

DOMAIN = "ai.ssmc"
OP = "SelectiveScan"
INPUTS = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"]
OPTIONAL = ["D", "z", "delta_bias"]
# Marker attribute the torch symbolic writes (TorchScript cannot emit empty input names):
# a string of 8 '0'/'1' telling which of INPUTS the node's inputs are.
PRESENT_ATTR = "_ssmc_present"
MIN_IR_VERSION = 10


def overload_name(present):
    """Overload for a set of present optional inputs: "" when all are present."""
    missing = [name for name in OPTIONAL if name not in present]
    return "" if not missing else "no_" + "_".join(missing)


def _const_i64(name, values):
    return oh.make_node("Constant", [], [name], value=oh.make_tensor(name, TensorProto.INT64, [len(values)], values))


def _scan_body():
    """h_l = a_l * h_{l-1} + b_l, emitted both as the new state and as the scan output."""
    nodes = [
        oh.make_node("Mul", ["a", "h_prev"], ["ah"]),
        oh.make_node("Add", ["ah", "b"], ["h_next"]),
        oh.make_node("Identity", ["h_next"], ["h_out"]),
    ]
    f = TensorProto.FLOAT
    return oh.make_graph(
        nodes, "selective_scan_step",
        [oh.make_tensor_value_info("h_prev", f, None), oh.make_tensor_value_info("a", f, None),
         oh.make_tensor_value_info("b", f, None)],
        [oh.make_tensor_value_info("h_next", f, None), oh.make_tensor_value_info("h_out", f, None)])


def make_function(present, opset):
    """FunctionProto for the given present optional inputs, with default-domain `opset`."""
    n = []
    add = n.append
    # Attributes as tensors: the function body works for every attribute value without If.
    sp_attr = oh.make_node("Constant", [], ["sp_i"])
    sp_attr.attribute.append(_attr_ref("value_int", "delta_softplus", onnx.AttributeProto.INT))
    rv_attr = oh.make_node("Constant", [], ["rv_i"])
    rv_attr.attribute.append(_attr_ref("value_int", "reverse", onnx.AttributeProto.INT))
    n += [sp_attr, rv_attr,
          oh.make_node("Cast", ["sp_i"], ["sp"], to=TensorProto.BOOL),
          oh.make_node("Cast", ["rv_i"], ["rv"], to=TensorProto.BOOL)]
    # Dims: batch, channels, L from u; N from A.
    n += [_const_i64("i0", [0]), _const_i64("i1", [1]), _const_i64("i2", [2]), _const_i64("m1", [-1]),
          oh.make_node("Constant", [], ["s0"], value=oh.make_tensor("s0", TensorProto.INT64, [], [0])),
          oh.make_node("Constant", [], ["s1"], value=oh.make_tensor("s1", TensorProto.INT64, [], [1])),
          oh.make_node("Constant", [], ["s2"], value=oh.make_tensor("s2", TensorProto.INT64, [], [2])),
          oh.make_node("Constant", [], ["f20"], value=oh.make_tensor("f20", TensorProto.FLOAT, [], [20.0])),
          oh.make_node("Shape", ["u"], ["shp_u"]),
          oh.make_node("Shape", ["A"], ["shp_a"]),
          oh.make_node("Gather", ["shp_u", "i0"], ["nb"], axis=0),
          oh.make_node("Gather", ["shp_u", "i1"], ["nd"], axis=0),
          oh.make_node("Gather", ["shp_u", "i2"], ["nl"], axis=0),
          oh.make_node("Gather", ["shp_u", "s2"], ["nl_s"], axis=0),
          oh.make_node("Gather", ["shp_a", "i1"], ["nn"], axis=0)]
    # Token order: idx = L-1..0 when reverse, else 0..L-1; applied to inputs and again to the output.
    n += [oh.make_node("Range", ["s0", "nl_s", "s1"], ["fwd"]),
          oh.make_node("Sub", ["nl_s", "s1"], ["last"]),
          oh.make_node("Sub", ["last", "fwd"], ["bwd"]),
          oh.make_node("Where", ["rv", "bwd", "fwd"], ["idx"]),
          oh.make_node("Gather", ["u", "idx"], ["u_o"], axis=2),
          oh.make_node("Gather", ["delta", "idx"], ["dl_o"], axis=2),
          # B, C as (batch, G, N, L); a rank-3 (batch, N, L) input becomes G = 1.
          oh.make_node("Concat", ["nb", "m1", "nn", "nl"], ["bc_shape"], axis=0),
          oh.make_node("Reshape", ["B", "bc_shape"], ["B4"]),
          oh.make_node("Reshape", ["C", "bc_shape"], ["C4"]),
          oh.make_node("Gather", ["B4", "idx"], ["B_o"], axis=3),
          oh.make_node("Gather", ["C4", "idx"], ["C_o"], axis=3),
          oh.make_node("Shape", ["B4"], ["shp_b"]),
          oh.make_node("Gather", ["shp_b", "i1"], ["ng"], axis=0)]
    # Delta: + bias, then torch's softplus (threshold 20) when delta_softplus.
    dl = "dl_o"
    if "delta_bias" in present:
        n += [oh.make_node("Unsqueeze", ["delta_bias", "i1"], ["bias_c"]),
              oh.make_node("Add", ["dl_o", "bias_c"], ["dl_b"])]
        dl = "dl_b"
    n += [oh.make_node("Softplus", [dl], ["dl_sp0"]),
          oh.make_node("Greater", [dl, "f20"], ["dl_big"]),
          oh.make_node("Where", ["dl_big", dl, "dl_sp0"], ["dl_sp"]),
          oh.make_node("Where", ["sp", "dl_sp", dl], ["dt"])]
    # dA = exp(dt * A) and dBu = dt * u * B, both (batch, channels, L, N).
    n += [oh.make_node("Unsqueeze", ["dt", "m1"], ["dt4"]),
          _const_i64("a_axes", [0, 2]),
          oh.make_node("Unsqueeze", ["A", "a_axes"], ["A4"]),
          oh.make_node("Mul", ["dt4", "A4"], ["dtA"]),
          oh.make_node("Exp", ["dtA"], ["dA"]),
          oh.make_node("Mul", ["dt", "u_o"], ["du"]),
          oh.make_node("Concat", ["nb", "ng", "m1", "nl", "i1"], ["du_shape"], axis=0),
          oh.make_node("Reshape", ["du", "du_shape"], ["du5"]),
          oh.make_node("Transpose", ["B_o"], ["Bt"], perm=[0, 1, 3, 2]),
          oh.make_node("Unsqueeze", ["Bt", "i2"], ["Bt5"]),
          oh.make_node("Mul", ["du5", "Bt5"], ["dBu5"]),
          oh.make_node("Concat", ["nb", "nd", "nl", "nn"], ["bdln"], axis=0),
          oh.make_node("Reshape", ["dBu5", "bdln"], ["dBu"]),
          oh.make_node("Concat", ["nb", "nd", "nn"], ["h_shape"], axis=0),
          oh.make_node("ConstantOfShape", ["h_shape"], ["h0"],
                       value=oh.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])),
          oh.make_node("Scan", ["h0", "dA", "dBu"], ["h_last", "hs"], num_scan_inputs=2,
                       scan_input_axes=[2, 2], scan_output_axes=[2], body=_scan_body())]
    # y = <C, h> per group, then the D skip and the z gate.
    n += [oh.make_node("Concat", ["nb", "ng", "m1", "nl", "nn"], ["hs_shape"], axis=0),
          oh.make_node("Reshape", ["hs", "hs_shape"], ["hs5"]),
          oh.make_node("Transpose", ["C_o"], ["Ct"], perm=[0, 1, 3, 2]),
          oh.make_node("Unsqueeze", ["Ct", "i2"], ["Ct5"]),
          oh.make_node("Mul", ["hs5", "Ct5"], ["hc"]),
          _const_i64("n_axis", [4]),
          oh.make_node("ReduceSum", ["hc", "n_axis"], ["y4"], keepdims=0),
          oh.make_node("Concat", ["nb", "nd", "nl"], ["y_shape"], axis=0),
          oh.make_node("Reshape", ["y4", "y_shape"], ["y0"])]
    y = "y0"
    if "D" in present:
        n += [oh.make_node("Unsqueeze", ["D", "i1"], ["D2"]),
              oh.make_node("Mul", ["D2", "u_o"], ["Du"]),
              oh.make_node("Add", [y, "Du"], ["y1"])]
        y = "y1"
    if "z" in present:
        n += [oh.make_node("Gather", ["z", "idx"], ["z_o"], axis=2),
              oh.make_node("Sigmoid", ["z_o"], ["z_sig"]),
              oh.make_node("Mul", ["z_o", "z_sig"], ["z_silu"]),
              oh.make_node("Mul", [y, "z_silu"], ["y2"])]
        y = "y2"
    n.append(oh.make_node("Gather", [y, "idx"], ["y"], axis=2))
    fn = oh.make_function(DOMAIN, OP, INPUTS, ["y"], n, [oh.make_opsetid("", opset)],
                          doc_string="Mamba selective scan; see docs/ops/SelectiveScan.md")
    fn.attribute_proto.extend([oh.make_attribute("delta_softplus", 0), oh.make_attribute("reverse", 0)])
    fn.overload = overload_name(present)
    return fn


def _attr_ref(name, ref, kind):
    a = onnx.AttributeProto()
    a.name = name
    a.ref_attr_name = ref
    a.type = kind
    return a


def make_node(inputs, output, delta_softplus=0, reverse=0, name=""):
    """A SelectiveScan node; `inputs` maps names in INPUTS to value names (absent optional: missing or None)."""
    args = [inputs.get(k) or "" for k in INPUTS]
    present = [k for k in OPTIONAL if inputs.get(k)]
    node = oh.make_node(OP, args, [output], domain=DOMAIN, name=name,
                        delta_softplus=int(delta_softplus), reverse=int(reverse))
    node.overload = overload_name(present)
    return node, present


def default_opset(model):
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return imp.version
    raise ValueError("model imports no default-domain opset")


def finalize_model(model):
    """Rewrites marker-carrying nodes from the torch exporter into the final encoding and adds the
    function bodies the model needs. Idempotent; returns the model."""
    opset = default_opset(model)
    needed = {}
    for graph in _graphs(model.graph):
        for node in graph.node:
            if node.domain != DOMAIN or node.op_type != OP:
                continue
            marker = [a for a in node.attribute if a.name == PRESENT_ATTR]
            if marker:
                flags = marker[0].s.decode()
                given = list(node.input)
                args = []
                for k, flag in zip(INPUTS, flags):
                    args.append(given.pop(0) if flag == "1" else "")
                assert not given, "marker and inputs disagree"
                del node.input[:]
                node.input.extend(args)
                node.attribute.remove(marker[0])
            present = [k for k, v in zip(INPUTS, list(node.input) + [""] * 8) if k in OPTIONAL and v]
            node.overload = overload_name(present)
            needed[node.overload] = present
    have = {f.overload for f in model.functions if f.domain == DOMAIN and f.name == OP}
    for ov, present in sorted(needed.items()):
        if ov not in have:
            model.functions.append(make_function(present, opset))
    uses_domain = any(n.domain == DOMAIN for g in _graphs(model.graph) for n in g.node)
    if uses_domain and not any(i.domain == DOMAIN for i in model.opset_import):
        model.opset_import.append(oh.make_opsetid(DOMAIN, 1))
    if needed and model.ir_version < MIN_IR_VERSION:
        model.ir_version = MIN_IR_VERSION
    return model


def _graphs(graph):
    yield graph
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from _graphs(a.g)
            for g in a.graphs:
                yield from _graphs(g)

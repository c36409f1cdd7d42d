"""Writes the newest default-domain ONNX op schemas (inputs, outputs, attributes with defaults) of the pinned
onnx package as JSON, the oracle that SSMCIRTests/OnnxSchemaTests compares ssmc's op definitions with.

Usage: tools/py tools/dump-onnx-schemas.py > Tests/SSMCIRTests/Inputs/onnx-schemas.json
"""
import json
import sys

import onnx
import onnx.defs
from onnx import AttributeProto

KINDS = {
    AttributeProto.INT: "int", AttributeProto.FLOAT: "float", AttributeProto.STRING: "string",
    AttributeProto.INTS: "ints", AttributeProto.FLOATS: "floats", AttributeProto.STRINGS: "strings",
    AttributeProto.TENSOR: "tensor", AttributeProto.GRAPH: "graph", AttributeProto.GRAPHS: "graphs",
    AttributeProto.SPARSE_TENSOR: "sparse_tensor", AttributeProto.TYPE_PROTO: "type_proto",
}
OPTION = {0: "single", 1: "optional", 2: "variadic"}


def default(attr):
    d = attr.default_value
    if d.type == AttributeProto.UNDEFINED:
        return None
    if d.type == AttributeProto.INT:
        return d.i
    if d.type == AttributeProto.FLOAT:
        return d.f
    if d.type == AttributeProto.STRING:
        return d.s.decode()
    if d.type == AttributeProto.INTS:
        return list(d.ints)
    if d.type == AttributeProto.FLOATS:
        return list(d.floats)
    return "<" + KINDS.get(d.type, "?") + ">"


schemas = {}
for s in onnx.defs.get_all_schemas():
    if s.domain not in ("", "ai.onnx") or s.deprecated:
        continue
    schemas[s.name] = {
        "since": s.since_version,
        "inputs": [{"name": i.name, "option": OPTION[int(i.option)]} for i in s.inputs],
        "outputs": [{"name": o.name, "option": OPTION[int(o.option)]} for o in s.outputs],
        "attributes": {
            name: {"kind": KINDS.get(a.type, "?"), "required": a.required, "default": default(a)}
            for name, a in sorted(s.attributes.items())
        },
    }
json.dump({"onnx": onnx.__version__, "ops": dict(sorted(schemas.items()))}, sys.stdout, indent=1, sort_keys=True)
sys.stdout.write("\n")

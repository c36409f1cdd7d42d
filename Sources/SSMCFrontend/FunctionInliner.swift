import SSMCIR

/// Expands calls of model-local functions whose op ssmc does not know into the function bodies, recursively.
///
/// Values inside a body are renamed `CALLNODE/NAME` so that two calls never collide; formal inputs and
/// outputs map to the call's actual names; attributes with a `ref_attr_name` take the call's value or the
/// function's default. Known ops (ssmc.SelectiveScan among them) are never expanded: their bodies only
/// exist so that other runtimes can run the file.
struct FunctionInliner {
  let functions: [FunctionKey: ONNXFunction]
  let isImportable: (String, String) -> Bool

  func expand(_ nodes: [ONNXNode], opsets: [String: Int64], depth: Int = 0) -> [ONNXNode] {
    var out: [ONNXNode] = []
    for (index, node) in nodes.enumerated() {
      guard !isImportable(node.opType, node.domain), depth < 32,
        let function = functions[FunctionKey(domain: node.domain, name: node.opType)]
      else {
        out.append(node)
        continue
      }
      let prefix = (node.name.isEmpty ? "\(node.opType)_\(index)" : node.name) + "/"
      var rename: [String: String] = [:]
      for (formal, actual) in zip(function.inputs, node.inputs) { rename[formal] = actual }
      for formal in function.inputs.dropFirst(node.inputs.count) { rename[formal] = "" }
      for (formal, actual) in zip(function.outputs, node.outputs) { rename[formal] = actual }
      func mapped(_ name: String) -> String { name.isEmpty ? "" : rename[name] ?? prefix + name }
      let callAttributes = Dictionary(node.attributes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
      let defaults = Dictionary(function.attributeDefaults.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
      let body = function.nodes.map { inner -> ONNXNode in
        var copy = inner
        copy.name = prefix + (inner.name.isEmpty ? inner.opType : inner.name)
        copy.inputs = inner.inputs.map(mapped)
        copy.outputs = inner.outputs.map(mapped)
        copy.attributes = inner.attributes.compactMap { a -> ONNXAttribute? in
          guard let ref = a.refAttrName else { return a }
          guard var bound = callAttributes[ref] ?? defaults[ref] else { return nil }
          bound.name = a.name
          bound.refAttrName = nil
          return bound
        }
        return copy
      }
      out += expand(body, opsets: function.opsetImports, depth: depth + 1)
    }
    return out
  }
}

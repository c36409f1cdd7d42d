import SSMCIR

/// What `ssmc inspect` shows: inputs and outputs with shapes, op histogram, parameter count, unsupported ops.
public struct ModelSummary {
  public let model: ONNXModel
  public init(_ model: ONNXModel) { self.model = model }

  public var parameterCount: Int {
    model.graph.initializers.reduce(0) { $0 + $1.dims.reduce(1) { $0 * Int($1) } }
  }
  /// Node count per op (domain-qualified for non-default domains), model-local function bodies not expanded.
  public var histogram: [(op: String, count: Int)] {
    var counts: [String: Int] = [:]
    for node in model.graph.nodes { counts[node.domain.isEmpty ? node.opType : "\(node.domain).\(node.opType)", default: 0] += 1 }
    return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) }
  }
  public var unsupported: [Diagnostic] { UnsupportedOpFinder(model: model).find() }

  public var text: String {
    func describe(_ info: ONNXValueInfo) -> String {
      let element = info.elementType.flatMap { ElementType(rawValue: $0)?.description } ?? "type \(info.elementType.map(String.init) ?? "?")"
      let dims = info.dims.map { $0.map { d in
        switch d {
        case .value(let v): String(v)
        case .param(let p): p
        case .unknown: "?"
        }
      }.joined(separator: ",") } ?? "rank ?"
      return "  \(info.name): \(element)[\(dims)]"
    }
    let initializers = Set(model.graph.initializers.map(\.name))
    var out = "model: \(model.path)\n"
    out += "producer: \(model.producerName.isEmpty ? "?" : model.producerName), ir_version \(model.irVersion)\n"
    out += "opsets: " + model.opsetImports.sorted { $0.key < $1.key }.map { "\($0.key.isEmpty ? "ai.onnx" : $0.key) \($0.value)" }.joined(separator: ", ") + "\n"
    out += "inputs:\n" + model.graph.inputs.filter { !initializers.contains($0.name) }.map(describe).joined(separator: "\n") + "\n"
    out += "outputs:\n" + model.graph.outputs.map(describe).joined(separator: "\n") + "\n"
    out += "parameters: \(parameterCount) in \(model.graph.initializers.count) initializers\n"
    if !model.functions.isEmpty { out += "functions: " + model.functions.map { "\($0.domain).\($0.name)" }.joined(separator: ", ") + "\n" }
    out += "ops (\(model.graph.nodes.count) nodes):\n"
    for (op, count) in histogram { out += "  \(String(count).leftPadded(6)) \(op)\n" }
    let missing = unsupported
    out += missing.isEmpty ? "unsupported ops: none\n" : "unsupported ops (\(missing.count)):\n" + missing.map { "  \($0.location)" }.joined(separator: "\n") + "\n"
    return out
  }
}

extension String {
  func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

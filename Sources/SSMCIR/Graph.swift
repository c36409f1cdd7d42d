/// Names an SSA value of a graph (an index into `Graph.values`).
public struct ValueID: Sendable, Hashable, Comparable, CustomStringConvertible {
  public let index: Int
  public init(_ index: Int) { self.index = index }
  public static func < (a: ValueID, b: ValueID) -> Bool { a.index < b.index }
  public var description: String { "v\(index)" }
}

/// An SSA value: its name (the ONNX name where it came from one), and its type once known.
public struct Value: Sendable, Hashable {
  public var name: String
  public var type: TensorType?
  /// For a small integer tensor computed from symbolic shapes: its elements as dims (`[batch, height*width]`),
  /// found by shape inference (see `OpSchema.elementDims`) and read by shape rules like a constant's values.
  public var symbolicElements: [Dim]?
  public init(name: String, type: TensorType?, symbolicElements: [Dim]? = nil) {
    self.name = name
    self.type = type
    self.symbolicElements = symbolicElements
  }
}

/// One operation: an op name from the registry, operands (nil = an absent optional input), results, attributes.
public struct Node: Sendable, Hashable {
  public var op: String
  public var operands: [ValueID?]
  public var results: [ValueID]
  public var attributes: [String: Attribute]
  /// The ONNX node name, for diagnostics (may be empty).
  public var name: String

  public init(op: String, operands: [ValueID?], results: [ValueID], attributes: [String: Attribute] = [:], name: String = "") {
    self.op = op
    self.operands = operands
    self.results = results
    self.attributes = attributes
    self.name = name
  }
}

/// A named graph output: the value it returns and the name callers see.
public struct GraphOutput: Sendable, Hashable {
  public var name: String
  public var value: ValueID
  public init(name: String, value: ValueID) {
    self.name = name
    self.value = value
  }
}

/// A typed SSA graph. Nodes are kept in topological order; constants (weights and folded values) live apart
/// from the node list. Values are never removed from `values`, only left unused (IDs stay stable); the printer
/// and dead-code elimination ignore unused ones.
public struct Graph: Sendable, Hashable {
  public var name: String
  public var values: [Value] = []
  public var inputs: [ValueID] = []
  public var outputs: [GraphOutput] = []
  public var constants: [ValueID: TensorData] = [:]
  public var nodes: [Node] = []

  public init(name: String) { self.name = name }

  public subscript(_ id: ValueID) -> Value {
    get { values[id.index] }
    set { values[id.index] = newValue }
  }
  public func type(of id: ValueID) -> TensorType? { values[id.index].type }

  /// Adds a value; the name is made unique among existing values if needed.
  @discardableResult
  public mutating func addValue(name: String, type: TensorType?) -> ValueID {
    values.append(Value(name: name, type: type))
    return ValueID(values.count - 1)
  }
  @discardableResult
  public mutating func addInput(name: String, type: TensorType) -> ValueID {
    let id = addValue(name: name, type: type)
    inputs.append(id)
    return id
  }
  @discardableResult
  public mutating func addConstant(name: String, _ data: TensorData) -> ValueID {
    let id = addValue(name: name, type: data.type)
    constants[id] = data
    return id
  }
  /// Appends a node whose results are new values with the given names and types.
  @discardableResult
  public mutating func addNode(
    _ op: String, _ operands: [ValueID?], attributes: [String: Attribute] = [:], name: String = "",
    results: [(name: String, type: TensorType?)]
  ) -> [ValueID] {
    let ids = results.map { addValue(name: $0.name, type: $0.type) }
    nodes.append(Node(op: op, operands: operands, results: ids, attributes: attributes, name: name))
    return ids
  }

  /// A name not used by any value, built from `hint`.
  public func freshName(_ hint: String) -> String {
    let used = Set(values.map(\.name))
    if !used.contains(hint) { return hint }
    var k = 1
    while used.contains("\(hint)_\(k)") { k += 1 }
    return "\(hint)_\(k)"
  }

  /// For each value, the node index that produces it (absent for inputs and constants).
  public func producers() -> [ValueID: Int] {
    var map: [ValueID: Int] = [:]
    for (i, node) in nodes.enumerated() { for r in node.results { map[r] = i } }
    return map
  }
  /// How many times each value is used as an operand or graph output.
  public func useCounts() -> [ValueID: Int] {
    var counts: [ValueID: Int] = [:]
    for node in nodes { for case let v? in node.operands { counts[v, default: 0] += 1 } }
    for o in outputs { counts[o.value, default: 0] += 1 }
    return counts
  }
  /// Rewrites every use of `old` (operands and graph outputs) to `new`.
  public mutating func replaceUses(of old: ValueID, with new: ValueID) {
    for i in nodes.indices {
      for j in nodes[i].operands.indices where nodes[i].operands[j] == old { nodes[i].operands[j] = new }
    }
    for i in outputs.indices where outputs[i].value == old { outputs[i].value = new }
  }
}

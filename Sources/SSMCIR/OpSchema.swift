/// A shape rule: result types from what the node sees.
public typealias ShapeRule = @Sendable (OpContext) throws(Diagnostic) -> [TensorType]
/// A constant evaluator: result values from constant operands.
public typealias Folder = @Sendable (OpContext) throws(Diagnostic) -> [TensorData]
/// A forwarding rule: per result, the index of the operand it equals, or nil when not known yet.
public typealias Forwarder = @Sendable (OpContext) throws(Diagnostic) -> [Int]?
/// A symbolic evaluator: per result, its elements (row-major) as dims.
public typealias ElementDimsRule = @Sendable (OpContext) throws(Diagnostic) -> [[Dim]]

/// One operand slot of an op.
public struct OperandSpec: Sendable {
  public enum Arity: Sendable { case required, optional, variadic(min: Int) }
  public var name: String
  public var arity: Arity
  public static func required(_ name: String) -> OperandSpec { OperandSpec(name: name, arity: .required) }
  public static func optional(_ name: String) -> OperandSpec { OperandSpec(name: name, arity: .optional) }
  /// Any number of trailing operands (at least `min`); only valid as the last spec.
  public static func variadic(_ name: String, min: Int = 1) -> OperandSpec { OperandSpec(name: name, arity: .variadic(min: min)) }
}

/// One attribute an op accepts: its kind, and either a default or `required`.
public struct AttributeSpec: Sendable {
  public var name: String
  public var kind: AttributeKind
  public var defaultValue: Attribute?
  public var required: Bool
  public init(_ name: String, _ kind: AttributeKind, default defaultValue: Attribute? = nil, required: Bool = false) {
    self.name = name
    self.kind = kind
    self.defaultValue = defaultValue
    self.required = required
  }
}

/// Everything the compiler knows about one op, defined once: operands, attributes, shape rule and (optionally)
/// a constant evaluator. Importers and lowerings attach to the op by `name` in their own modules.
public struct OpSchema: Sendable {
  /// IR spelling: ONNX ops keep their name (`Add`); ssmc's own are prefixed (`ssmc.SelectiveScan`).
  public var name: String
  /// ONNX domain the op comes from ("" for the default domain, "ai.ssmc" for ours).
  public var domain: String
  public var operands: [OperandSpec]
  /// Number of results; nil means the node decides (Split).
  public var resultCount: Int?
  public var attributes: [AttributeSpec]
  /// Shape rule: the result types from the operand types (and constant operands where the shape depends on them).
  public var inferTypes: ShapeRule
  /// Constant evaluator used by folding; nil for ops never folded.
  public var fold: Folder?
  /// True when the folder needs only operand types, not constant operands (Shape, Size): constant folding
  /// should try it on every such node and keep the node when it throws (symbolic dims).
  public var foldsFromTypes: Bool
  /// How the op treats the samples of a run-time batch; nil when it has not been worked out (a graph that
  /// varies its batch at run time then cannot use the op on per-sample data).
  public var samples: SampleRule?
  /// For ops whose results can be operands as they are (a choice decided at compile time): the operand each
  /// result is, or nil while that is not known. Shape inference then replaces the results by those operands.
  public var forward: Forwarder?
  /// For ops that compute shapes (Shape, and Gather, Concat or arithmetic on its result): the results' elements
  /// as dims, from operands whose elements are known as dims (`OpContext.elementDims`). Shape inference keeps
  /// them on the result values, so a Reshape whose target shape is built from a symbolic input's Shape still
  /// gets its result dims (`[batch, height*width, 8]`).
  public var elementDims: ElementDimsRule?

  public init(
    _ name: String, domain: String = "", operands: [OperandSpec], results: Int? = 1, attributes: [AttributeSpec] = [],
    inferTypes: @escaping ShapeRule,
    fold: Folder? = nil, foldsFromTypes: Bool = false, samples: SampleRule? = nil, forward: Forwarder? = nil,
    elementDims: ElementDimsRule? = nil
  ) {
    self.name = name
    self.domain = domain
    self.operands = operands
    self.resultCount = results
    self.attributes = attributes
    self.inferTypes = inferTypes
    self.fold = fold
    self.foldsFromTypes = foldsFromTypes
    self.samples = samples
    self.forward = forward
    self.elementDims = elementDims
  }

  public func attributeSpec(_ name: String) -> AttributeSpec? { attributes.first { $0.name == name } }

  /// The allowed operand counts (absent trailing optionals may be dropped).
  public var operandCountRange: ClosedRange<Int> {
    var minimum = 0
    var maximum = 0
    for spec in operands {
      switch spec.arity {
      case .required:
        minimum = maximum + 1
        maximum += 1
      case .optional: maximum += 1
      case .variadic(let m):
        minimum = maximum + m
        maximum = Int.max / 2
      }
    }
    return minimum...maximum
  }
}

/// What a shape rule or folder sees of one node: operand types, constant operand values, attributes.
public struct OpContext: Sendable {
  public var schema: OpSchema
  public var operandTypes: [TensorType?]
  /// Values of operands that are constants (nil where not constant or absent).
  public var constants: [TensorData?]
  public var attributes: [String: Attribute]
  public var resultCount: Int
  public var location: Location
  /// Elements of operands that shape inference knows as dims but are no constants (see `OpSchema.elementDims`).
  public var symbolicElements: [[Dim]?]

  public init(
    schema: OpSchema, operandTypes: [TensorType?], constants: [TensorData?], attributes: [String: Attribute],
    resultCount: Int, location: Location, symbolicElements: [[Dim]?] = []
  ) {
    self.schema = schema
    self.operandTypes = operandTypes
    self.constants = constants
    self.symbolicElements = symbolicElements
    self.attributes = attributes
    self.resultCount = resultCount
    self.location = location
  }

  public var operandCount: Int { operandTypes.count }
  public func has(_ index: Int) -> Bool { index < operandTypes.count && operandTypes[index] != nil }

  public func error(_ code: Diagnostic.Code, _ message: String) -> Diagnostic {
    Diagnostic(code, message, at: location)
  }
  /// A shape error at this node.
  public func error(_ message: String) -> Diagnostic { Diagnostic(.shapeMismatch, message, at: location) }
  /// The type of operand `index`, which must be present and typed.
  public func type(_ index: Int) throws(Diagnostic) -> TensorType {
    guard index < operandTypes.count, let t = operandTypes[index] else {
      throw self.error(.unknownShape, "operand \(index) (\(operandName(index))) is absent or its type is unknown")
    }
    return t
  }
  public func type(_ index: Int, rank: Int) throws(Diagnostic) -> TensorType {
    let t = try type(index)
    guard t.rank == rank else { throw self.error("operand \(operandName(index)) must have rank \(rank), got \(t)") }
    return t
  }
  public func operandName(_ index: Int) -> String {
    if index < schema.operands.count { return schema.operands[index].name }
    return schema.operands.last.map { "\($0.name)[\(index - schema.operands.count + 1)]" } ?? "#\(index)"
  }
  /// The constant value of operand `index`, or nil when it is not a compile-time constant.
  public func constant(_ index: Int) -> TensorData? { index < constants.count ? constants[index] : nil }
  /// The constant value of operand `index`, which the shape rule needs.
  public func requireConstant(_ index: Int) throws(Diagnostic) -> TensorData {
    guard let c = constant(index) else {
      throw self.error(.unsupportedFeature, "operand \(operandName(index)) must be a compile-time constant to infer the shape")
    }
    return c
  }

  public func attribute(_ name: String) -> Attribute? { attributes[name] ?? schema.attributeSpec(name)?.defaultValue }
  public func int(_ name: String) throws(Diagnostic) -> Int {
    switch attribute(name) {
    case .int(let v)?: return v
    case nil: throw self.error(.badAttribute, "missing attribute '\(name)'")
    default: throw self.error(.badAttribute, "attribute '\(name)' must be an int")
    }
  }
  public func optionalInt(_ name: String) throws(Diagnostic) -> Int? {
    attribute(name) == nil ? nil : try int(name)
  }
  public func float(_ name: String) throws(Diagnostic) -> Float {
    switch attribute(name) {
    case .float(let v)?: return v
    case .int(let v)?: return Float(v)
    case nil: throw self.error(.badAttribute, "missing attribute '\(name)'")
    default: throw self.error(.badAttribute, "attribute '\(name)' must be a float")
    }
  }
  public func ints(_ name: String) throws(Diagnostic) -> [Int]? {
    switch attribute(name) {
    case .ints(let v)?: return v
    case nil: return nil
    default: throw self.error(.badAttribute, "attribute '\(name)' must be a list of ints")
    }
  }
  public func string(_ name: String) throws(Diagnostic) -> String? {
    switch attribute(name) {
    case .string(let v)?: return v
    case nil: return nil
    default: throw self.error(.badAttribute, "attribute '\(name)' must be a string")
    }
  }
  /// Normalizes an axis in [-rank, rank) to [0, rank).
  public func axis(_ axis: Int, rank: Int, what: String = "axis") throws(Diagnostic) -> Int {
    guard axis >= -rank && axis < max(rank, 1) else {
      throw self.error(.badAttribute, "\(what) \(axis) is out of range for rank \(rank)")
    }
    return axis < 0 ? axis + rank : axis
  }
}

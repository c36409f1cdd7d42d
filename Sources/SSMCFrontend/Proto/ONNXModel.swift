// Plain Swift values mirroring the parts of ONNX's ModelProto that ssmc reads.
// No protobuf-c pointers survive past `ONNXModel.parse`: everything here is owned Swift data.

/// A decoded ONNX model (`ModelProto`).
public struct ONNXModel: Sendable {
  /// `ir_version` (0 when absent).
  public var irVersion: Int64
  public var producerName: String
  public var producerVersion: String
  /// Operator set imports, domain -> version. The default domain is `""` (`"ai.onnx"` is normalized to it).
  public var opsetImports: [String: Int64]
  public var graph: ONNXGraph
  /// Model-local functions (`ModelProto.functions`).
  public var functions: [ONNXFunction]
  /// The file the model came from, for diagnostics.
  public var path: String

  public init(
    irVersion: Int64, producerName: String, producerVersion: String = "", opsetImports: [String: Int64],
    graph: ONNXGraph, functions: [ONNXFunction], path: String
  ) {
    self.irVersion = irVersion
    self.producerName = producerName
    self.producerVersion = producerVersion
    self.opsetImports = opsetImports
    self.graph = graph
    self.functions = functions
    self.path = path
  }
}

/// A computation graph (`GraphProto`), also used for graph-valued attributes (If/Loop/Scan bodies).
public struct ONNXGraph: Sendable {
  public var name: String
  /// Nodes in file order (ONNX requires topological order, but the importer should not rely on it blindly).
  public var nodes: [ONNXNode]
  public var initializers: [ONNXTensor]
  public var inputs: [ONNXValueInfo]
  public var outputs: [ONNXValueInfo]
  public var valueInfo: [ONNXValueInfo]

  public init(
    name: String, nodes: [ONNXNode], initializers: [ONNXTensor], inputs: [ONNXValueInfo],
    outputs: [ONNXValueInfo], valueInfo: [ONNXValueInfo]
  ) {
    self.name = name
    self.nodes = nodes
    self.initializers = initializers
    self.inputs = inputs
    self.outputs = outputs
    self.valueInfo = valueInfo
  }
}

/// One operator application (`NodeProto`).
public struct ONNXNode: Sendable {
  public var name: String
  public var opType: String
  /// Operator domain; the default domain is `""` (`"ai.onnx"` is normalized to it).
  public var domain: String
  /// Input value names; `""` marks an absent optional input.
  public var inputs: [String]
  public var outputs: [String]
  public var attributes: [ONNXAttribute]

  public init(
    name: String, opType: String, domain: String, inputs: [String], outputs: [String],
    attributes: [ONNXAttribute]
  ) {
    self.name = name
    self.opType = opType
    self.domain = domain
    self.inputs = inputs
    self.outputs = outputs
    self.attributes = attributes
  }

  /// The attribute called `name`, if present.
  public func attribute(_ name: String) -> ONNXAttribute? {
    attributes.first { $0.name == name }
  }
}

/// A typed value name (`ValueInfoProto`). Non-tensor types (sequences, maps...) have `elementType == nil`
/// and `dims == nil`.
public struct ONNXValueInfo: Sendable {
  public var name: String
  /// `TensorProto.DataType` of the tensor, nil when not given or not a tensor.
  public var elementType: Int32?
  /// The shape, nil when the rank is unknown.
  public var dims: [ONNXDim]?

  public init(name: String, elementType: Int32?, dims: [ONNXDim]?) {
    self.name = name
    self.elementType = elementType
    self.dims = dims
  }
}

/// One dimension of a value's shape.
public enum ONNXDim: Sendable, Hashable {
  /// A known size (never negative).
  case value(Int64)
  /// A named symbolic size such as `"batch"`.
  case param(String)
  /// Neither a size nor a name was given (or the size was negative, which some exporters write for "dynamic").
  case unknown
}

/// A model-local function (`FunctionProto`): the importer inlines it or maps it to a known op.
public struct ONNXFunction: Sendable {
  public var name: String
  /// The function's domain, normalized like node domains (`"ai.onnx"` -> `""`).
  public var domain: String
  public var inputs: [String]
  public var outputs: [String]
  /// Attribute names declared without a default.
  public var attributes: [String]
  /// Attributes declared with a default value.
  public var attributeDefaults: [ONNXAttribute]
  public var nodes: [ONNXNode]
  /// The function body's own opset imports, normalized like the model's.
  public var opsetImports: [String: Int64]
  public var valueInfo: [ONNXValueInfo]

  public init(
    name: String, domain: String, inputs: [String], outputs: [String], attributes: [String],
    attributeDefaults: [ONNXAttribute], nodes: [ONNXNode], opsetImports: [String: Int64],
    valueInfo: [ONNXValueInfo] = []
  ) {
    self.name = name
    self.domain = domain
    self.inputs = inputs
    self.outputs = outputs
    self.attributes = attributes
    self.attributeDefaults = attributeDefaults
    self.nodes = nodes
    self.opsetImports = opsetImports
    self.valueInfo = valueInfo
  }
}

/// Maps the default ONNX domain's long name to the empty string, as ONNX treats them the same.
@inlinable
public func normalizedONNXDomain(_ domain: String) -> String {
  domain == "ai.onnx" ? "" : domain
}

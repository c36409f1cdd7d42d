import CLLVM
import SSMCIR

/// Lowers one node: emits the loops that compute its results from its operands.
public typealias Lowering = @Sendable (LoweringContext) throws -> Void

/// What a lowering sees: the node, its typed operands and results as data pointers, the builder, the pool.
///
/// Each node is lowered into its own function whose pointer parameters are `noalias` (the memory plan
/// never lets a result share memory with an operand), so LLVM vectorizes without runtime checks.
public struct LoweringContext {
  public let k: KernelBuilder
  public let node: Node
  public let graph: Graph
  /// Data pointers of the operands (nil for absent optional operands).
  public let operands: [IRValue?]
  /// Data pointers of the results.
  public let results: [IRValue]
  /// The context's thread pool, for `parallelFor`.
  public let pool: IRValue
  /// f32 lanes of the target's preferred vector width (16 with AVX-512, 8 with AVX2).
  public let vectorLanes: Int
  /// The node's workspace: scratch bytes reserved for this node alone in the memory plan.
  let arena: WorkspaceArena
  /// Operands that are strided views (see `ViewPlan`), by operand index: their element strides. Only ops
  /// that read operands through `operandStrides` are given such operands.
  var stridedOperands: [Int: [Int]] = [:]
  /// The target is x86-64 with AVX-512F: kernels may use its instructions directly (the scan's exp2).
  var x86AVX512 = false
  /// The model's run-time symbols and their values (`int64_t[]`), for extents given at run time.
  var symbols = RuntimeSymbols([])
  var dims: IRValue? = nil

  /// The node as its shape rule sees it: attribute accessors with ONNX defaults.
  public var op: OpContext { graph.context(for: node) }

  public func operandType(_ index: Int) -> TensorType { graph.type(of: node.operands[index]!)! }
  public func resultType(_ index: Int) -> TensorType { graph.type(of: node.results[index])! }
  /// Static shape of operand `index` (the compiler checked every shape is static before lowering).
  public func operandShape(_ index: Int) -> [Int] { operandType(index).staticShape! }
  public func resultShape(_ index: Int) -> [Int] { resultType(index).staticShape! }
  /// An extent as an i64 value: a constant when fixed, else computed from the run-time symbol values.
  func extent(_ dim: Dim) -> IRValue { k.extent(dim, symbols: symbols, dims: dims) }
  /// Whether any operand or result has a dim given at run time.
  var hasRuntimeExtents: Bool {
    (node.operands.compactMap { $0 } + node.results).contains { graph.type(of: $0).map { !$0.isStatic } ?? false }
  }
  /// Element strides of operand `index` per dim: contiguous row-major unless it is a strided view.
  public func operandStrides(_ index: Int) -> [Int] { stridedOperands[index] ?? rowMajorStrides(operandShape(index)) }
  public func hasOperand(_ index: Int) -> Bool { index < node.operands.count && node.operands[index] != nil }
  /// The compile-time value of operand `index`, when it is a constant.
  public func constant(_ index: Int) -> TensorData? { hasOperand(index) ? graph.constants[node.operands[index]!] : nil }
  public func operand(_ index: Int) -> IRValue { operands[index]! }

  public func error(_ message: String) -> CodegenError {
    CodegenError(.invalidModule, "\(node.op)\(node.name.isEmpty ? "" : " '\(node.name)'"): \(message)")
  }

  /// The register type used for an IR element type.
  public func scalar(_ element: ElementType) throws(CodegenError) -> ScalarType {
    switch element {
    case .f32: .f32
    case .f64: .f64
    case .i64: .i64
    case .i32: .i32
    case .i8: .i8
    case .u8: .u8
    case .bool: .i1
    default: throw error("element type \(element) is not supported by code generation")
    }
  }

  /// A constant operand that the lowering needs at compile time (axes, shapes, pads given as inputs).
  public func requireConstant(_ index: Int, what: String) throws(CodegenError) -> TensorData {
    guard let data = constant(index) else { throw error("\(what) must be a compile-time constant") }
    return data
  }
}

/// A tensor at the model's boundary, as the generated C ABI describes and checks it.
public struct TensorSignature: Sendable, Equatable {
  public var name: String
  /// ONNX `TensorProto.DataType` code, one of `ModelSignature.elementTypes`.
  public var elementType: Int32
  /// Dims of one sample when `sampleAxis` is set (the run-time batch multiplies that axis), else all dims.
  public var dims: [Int64]
  /// The axis that holds the samples of a run-time batch; nil for a tensor of fixed shape.
  public var sampleAxis: Int?
  /// Axes whose extent differs between the shape variants of a library (see `LibrarySignature`).
  public var variableAxes: [Int] = []
  /// Per axis, the index of the run-time symbol it is (`ModelSignature.runtimeSymbols`), or nil for a fixed
  /// extent. Such an axis has dim -1. Output extents given by symbols come from the kernel's shape function.
  public var dimSymbols: [Int?] = []

  public init(name: String, elementType: Int32, dims: [Int64], sampleAxis: Int? = nil) {
    self.name = name
    self.elementType = elementType
    self.dims = dims
    self.sampleAxis = sampleAxis
  }

  /// Dims as the C metadata reports them: -1 on the sample axis, on variable axes and where a run-time
  /// symbol gives the extent.
  public var reportedDims: [Int64] {
    dims.enumerated().map { $0.offset == sampleAxis || variableAxes.contains($0.offset) ? -1 : $0.element }
  }
}

/// Everything the C ABI of one compiled model (of one shape; see `LibrarySignature`) needs: its name, boundary tensors, scratch size and the
/// symbol of the LLVM kernel implementing it.
public struct ModelSignature: Sendable, Equatable {
  /// Prefix of every exported symbol; a C identifier.
  public var name: String
  public var inputs: [TensorSignature]
  public var outputs: [TensorSignature]
  /// Bytes of scratch memory the kernel gets (64-byte aligned, owned by the context).
  public var scratchBytes: Int
  /// `int32_t KERNEL(void *const *inputs, void *const *outputs, void *scratch, void *pool, const int64_t *dims)` (dims: the run-time symbols' values).
  public var kernelSymbol: String
  /// The nodes the kernel times, in call order; empty unless compiled for profiling. When present, the
  /// kernel takes a fifth parameter `int64_t *profile` (three counters per node: wall ns, CPU ns, calls).
  public var profiledNodes: [ProfiledNode]
  /// Symbolic input dims whose values arrive at run time, in the order of the kernel's `dims` array; empty
  /// for a model of static shapes. With any, the kernel has a shape function `KERNEL_shapes(dims, out)`
  /// that writes the scratch bytes the call needs and then every output's dims.
  public var runtimeSymbols: [String] = []
  /// What the run-time sizes must satisfy, in the order the shape function numbers them (-(k + 1) in its
  /// out[0] for the k-th), as the error a call that breaks one gets.
  public var runtimeChecks: [String] = []

  public init(
    name: String, inputs: [TensorSignature], outputs: [TensorSignature], scratchBytes: Int, kernelSymbol: String,
    profiledNodes: [ProfiledNode] = []
  ) {
    self.name = name
    self.inputs = inputs
    self.outputs = outputs
    self.scratchBytes = scratchBytes
    self.kernelSymbol = kernelSymbol
    self.profiledNodes = profiledNodes
  }

  /// True when the batch size is given at run time (some tensor has a sample axis).
  public var hasRuntimeBatch: Bool { (inputs + outputs).contains { $0.sampleAxis != nil } }

  /// The element types the C ABI supports: the one table the compiler's checks, the C glue's
  /// `ssmc_element_size` / `ssmc_type_name` and the header's constants and comments all come from.
  public static let elementTypes: [ABIElementType] = [
    ABIElementType(code: 1, byteSize: 4, name: "float32", constant: "SSMC_FLOAT"),
    ABIElementType(code: 2, byteSize: 1, name: "uint8", constant: "SSMC_UINT8"),
    ABIElementType(code: 3, byteSize: 1, name: "int8", constant: "SSMC_INT8"),
    ABIElementType(code: 6, byteSize: 4, name: "int32", constant: "SSMC_INT32"),
    ABIElementType(code: 7, byteSize: 8, name: "int64", constant: "SSMC_INT64"),
    ABIElementType(code: 9, byteSize: 1, name: "bool", constant: "SSMC_BOOL"),
    ABIElementType(code: 11, byteSize: 8, name: "float64", constant: "SSMC_DOUBLE"),
  ]

  /// Bytes per element for the ONNX element types the ABI supports.
  public static let elementSizes: [Int32: Int] = Dictionary(uniqueKeysWithValues: elementTypes.map { ($0.code, $0.byteSize) })

  /// Checks that names are C identifiers and that types and dims are supported.
  public func validate() throws(CodegenError) {
    for (what, identifier) in [("model name", name), ("kernel symbol", kernelSymbol)] where !Self.isCIdentifier(identifier) {
      throw CodegenError(.invalidModule, "\(what) '\(identifier)' is not a C identifier (letters, digits, _; not starting with a digit)")
    }
    if name.hasPrefix("ssmc_") || name == "ssmc" {
      throw CodegenError(.invalidModule, "model name '\(name)' would clash with the generic ssmc_* symbols")
    }
    for (role, tensors) in [("input", inputs), ("output", outputs)] {
      for tensor in tensors {
        guard Self.elementSizes[tensor.elementType] != nil else {
          throw CodegenError(.invalidModule, "\(role) '\(tensor.name)': element type \(tensor.elementType) is not supported by the C ABI")
        }
        // -1: an extent given at run time (a run-time symbol's, or any for an output computed from them).
        let runtime = !runtimeSymbols.isEmpty
        guard zip(tensor.dims.indices, tensor.dims).allSatisfy({ axis, d in
          d >= 0 || (runtime && d == -1 && (role == "output" || (axis < tensor.dimSymbols.count && tensor.dimSymbols[axis] != nil)))
        }) else {
          throw CodegenError(.invalidModule, "\(role) '\(tensor.name)': dims \(tensor.dims) must be static and non-negative")
        }
        guard tensor.dims.count <= 64 else {
          throw CodegenError(.invalidModule, "\(role) '\(tensor.name)': rank \(tensor.dims.count) is above the C ABI's limit of 64")
        }
        if let axis = tensor.sampleAxis, !(0..<tensor.dims.count).contains(axis) {
          throw CodegenError(.invalidModule, "\(role) '\(tensor.name)': sample axis \(axis) is outside its rank \(tensor.dims.count)")
        }
      }
    }
    guard scratchBytes >= 0 else { throw CodegenError(.invalidModule, "negative scratch size \(scratchBytes)") }
  }

  static func isCIdentifier(_ s: String) -> Bool {
    guard let first = s.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
    return s.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0)) }
  }
}

/// An element type at the C ABI: its ONNX `TensorProto.DataType` code, bytes per element (bool takes a byte),
/// the name error messages and header comments use, and the header's enum constant for the code.
public struct ABIElementType: Sendable, Equatable {
  public var code: Int32
  public var byteSize: Int
  public var name: String
  public var constant: String

  public init(code: Int32, byteSize: Int, name: String, constant: String) {
    self.code = code
    self.byteSize = byteSize
    self.name = name
    self.constant = constant
  }
}

/// One node as the profile reports it.
public struct ProfiledNode: Sendable, Equatable {
  /// The node's name in the model (or `node.N` when it has none).
  public var name: String
  /// The IR op, e.g. `Conv` or `ssmc.SelectiveScan`.
  public var op: String
  /// Operand and result shapes, e.g. `1x96x56x56, 96x1x3x3 -> 1x96x56x56`.
  public var shapes: String

  public init(name: String, op: String, shapes: String) {
    self.name = name
    self.op = op
    self.shapes = shapes
  }
}

/// C string literal for arbitrary text (tensor names come from the user's model).
func cStringLiteral(_ text: String) -> String {
  var out = "\""
  for byte in text.utf8 {
    switch byte {
    case UInt8(ascii: "\""): out += "\\\""
    case UInt8(ascii: "\\"): out += "\\\\"
    case 0x20..<0x7f: out.unicodeScalars.append(Unicode.Scalar(byte))
    default: out += "\\" + String(byte, radix: 8).leftPadded(to: 3)
    }
  }
  return out + "\""
}

extension String {
  func leftPadded(to width: Int) -> String { String(repeating: "0", count: Swift.max(0, width - count)) + self }
}

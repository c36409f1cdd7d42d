import CLLVM

/// Element types of tensors in memory, as kernels load and store them.
public enum ScalarType: Sendable, CaseIterable {
  case f32, f64, i64, i32, i8
  /// Booleans: `i1` in registers, one byte (0 or 1) in memory.
  case i1
  /// Unsigned bytes: one byte in memory, zero-extended to `i32` in registers. Every value 0...255 is then
  /// non-negative, so the signed integer comparisons, division, max/min and int-to-float conversions all
  /// compute the unsigned results; stores keep the low byte, which wraps sums and products as uint8 does.
  case u8

  /// Bytes per element in memory.
  public var byteSize: Int {
    switch self {
    case .f32, .i32: 4
    case .f64, .i64: 8
    case .i8, .i1, .u8: 1
    }
  }

  public var isFloat: Bool { self == .f32 || self == .f64 }
}

/// An SSA value being built, tied to its builder so that arithmetic reads as formulas (`x * 2 + y`).
public struct IRValue {
  public let ref: LLVMValueRef
  public unowned let builder: KernelBuilder

  public init(_ ref: LLVMValueRef, _ builder: KernelBuilder) {
    self.ref = ref
    self.builder = builder
  }

  public var type: LLVMTypeRef { LLVMTypeOf(ref) }
  /// The element type for vectors, the type itself for scalars.
  public var scalarType: LLVMTypeRef {
    LLVMGetTypeKind(type) == LLVMVectorTypeKind ? LLVMGetElementType(type) : type
  }
  public var isVector: Bool { LLVMGetTypeKind(type) == LLVMVectorTypeKind }
  /// Lanes of a vector; 1 for a scalar.
  public var lanes: Int { isVector ? Int(LLVMGetVectorSize(type)) : 1 }
  public var isFloat: Bool {
    let kind = LLVMGetTypeKind(scalarType)
    return kind == LLVMFloatTypeKind || kind == LLVMDoubleTypeKind
  }
}

/// A small DSL over LLVM's IR builder for writing loop-nest kernels readably.
///
/// Code is appended at the builder's current position; `defineFunction`, `forLoop`, `ifThen` and
/// `parallelFor` move that position and restore it, so nested Swift closures mirror the nested loops.
public final class KernelBuilder {
  public let llvm: LLVMModule
  var builder: LLVMBuilderRef { llvm.builder }
  /// The function whose body is being built.
  public private(set) var currentFunction: LLVMValueRef?
  private var uniqueCounter = 0

  public init(module: LLVMModule) { self.llvm = module }

  /// A name no other helper function of this module has.
  func uniqueName(_ stem: String) -> String {
    uniqueCounter += 1
    return "\(stem).\(uniqueCounter)"
  }

  // MARK: Types and constants

  /// The register type of `scalar`, or `<lanes x scalar>`.
  public func type(_ scalar: ScalarType, lanes: Int = 1) -> LLVMTypeRef {
    let base: LLVMTypeRef =
      switch scalar {
      case .f32: llvm.f32
      case .f64: llvm.f64
      case .i64: llvm.i64
      case .i32, .u8: llvm.i32
      case .i8: llvm.i8
      case .i1: llvm.i1
      }
    return lanes == 1 ? base : llvm.vector(base, lanes: lanes)
  }

  /// A constant of `type` (scalar or vector, float or integer) with every lane equal to `value`.
  public func constant(_ value: Double, _ type: LLVMTypeRef) -> IRValue {
    if LLVMGetTypeKind(type) == LLVMVectorTypeKind {
      let lane = constant(value, LLVMGetElementType(type)).ref
      var lanes = [LLVMValueRef?](repeating: lane, count: Int(LLVMGetVectorSize(type)))
      return IRValue(LLVMConstVector(&lanes, UInt32(lanes.count)), self)
    }
    switch LLVMGetTypeKind(type) {
    case LLVMFloatTypeKind, LLVMDoubleTypeKind: return IRValue(LLVMConstReal(type, value), self)
    default:
      // A non-finite or out-of-range value (only a malformed model's) becomes 0 or the nearest Int64 rather
      // than trapping.
      let integer = value.isNaN ? 0 : Int64(exactly: value.rounded(.towardZero)) ?? (value < 0 ? .min : .max)
      return IRValue(LLVMConstInt(type, UInt64(bitPattern: integer), 1), self)
    }
  }

  /// An integer constant of `type` (scalar or vector) from its bit pattern, for bit tricks.
  public func constant(bits: Int64, _ type: LLVMTypeRef) -> IRValue {
    if LLVMGetTypeKind(type) == LLVMVectorTypeKind {
      let lane = constant(bits: bits, LLVMGetElementType(type)).ref
      var lanes = [LLVMValueRef?](repeating: lane, count: Int(LLVMGetVectorSize(type)))
      return IRValue(LLVMConstVector(&lanes, UInt32(lanes.count)), self)
    }
    return IRValue(LLVMConstInt(type, UInt64(bitPattern: bits), 1), self)
  }

  public func f32(_ value: Float) -> IRValue { constant(Double(value), llvm.f32) }
  public func f64(_ value: Double) -> IRValue { constant(value, llvm.f64) }
  public func i64(_ value: Int64) -> IRValue { constant(bits: value, llvm.i64) }
  public func i32(_ value: Int32) -> IRValue { constant(bits: Int64(value), llvm.i32) }
  public func bool(_ value: Bool) -> IRValue { constant(bits: value ? 1 : 0, llvm.i1) }

  // MARK: Functions

  /// Defines a function and builds its body with `body(parameters)`; the builder position is restored after.
  /// A body whose last block is unterminated gets `ret void` (void functions) or `ret 0` (integer results).
  /// Errors thrown by `body` (e.g. a lowering's diagnostics) pass through; the module is then unusable.
  @discardableResult
  public func defineFunction<E: Error>(
    _ name: String, returns: LLVMTypeRef, params: [LLVMModule.Parameter],
    linkage: LLVMLinkage = LLVMExternalLinkage, body: ([IRValue]) throws(E) -> Void
  ) throws(E) -> LLVMValueRef {
    let function = llvm.addFunction(name, returns: returns, params: params, linkage: linkage)
    let savedBlock = LLVMGetInsertBlock(builder)
    let savedFunction = currentFunction
    currentFunction = function
    LLVMPositionBuilderAtEnd(builder, llvm.appendBlock("entry", to: function))
    defer {
      currentFunction = savedFunction
      if let savedBlock { LLVMPositionBuilderAtEnd(builder, savedBlock) }
    }
    try body((0..<params.count).map { IRValue(LLVMGetParam(function, UInt32($0)), self) })
    if LLVMGetBasicBlockTerminator(LLVMGetInsertBlock(builder)) == nil {
      if LLVMGetTypeKind(returns) == LLVMVoidTypeKind {
        LLVMBuildRetVoid(builder)
      } else {
        LLVMBuildRet(builder, constant(0, returns).ref)
      }
    }
    return function
  }

  /// The parameters of a kernel with ssmc's kernel ABI, `int32_t KERNEL(void *const *inputs,
  /// void *const *outputs, void *scratch, void *pool, const int64_t *dims)`.
  public struct KernelParameters {
    public let inputs: IRValue
    public let outputs: IRValue
    /// 64-byte aligned scratch memory of the size the model signature asks for.
    public let scratch: IRValue
    /// The context's thread pool, for `parallelFor`.
    public let pool: IRValue
    /// The values of the model's run-time symbols (`int64_t[]`, see `RuntimeSymbols`); null without any.
    public let dims: IRValue
    /// With `profiling`: the context's per-node counters (see `ModelCompiler+Profile.swift`).
    public let profile: IRValue?
    unowned let builder: KernelBuilder

    /// The data pointer of input `index`.
    public func input(_ index: Int) -> IRValue { builder.load(pointerAt: inputs, index: index, name: "in\(index)") }
    /// The data pointer of output `index`.
    public func output(_ index: Int) -> IRValue { builder.load(pointerAt: outputs, index: index, name: "out\(index)") }
  }

  /// Defines an exported kernel entry point; the body returns by falling off the end (status 0) or by `ret`.
  /// Its parameters: inputs, outputs, scratch, pool, the run-time symbol values, and with `profiling` the
  /// context's profile counters.
  @discardableResult
  public func defineKernel<E: Error>(
    _ symbol: String, profiling: Bool = false, body: (KernelParameters) throws(E) -> Void
  ) throws(E) -> LLVMValueRef {
    let ptr = llvm.ptr
    return try defineFunction(
      symbol, returns: llvm.i32,
      params: [.init("inputs", ptr, noalias: true), .init("outputs", ptr, noalias: true),
               .init("scratch", ptr, noalias: true), .init("pool", ptr), .init("dims", ptr, noalias: true)]
        + (profiling ? [.init("profile", ptr, noalias: true)] : [])
    ) { (p) throws(E) in
      try body(KernelParameters(
        inputs: p[0], outputs: p[1], scratch: p[2], pool: p[3], dims: p[4], profile: profiling ? p[5] : nil, builder: self))
    }
  }

  func load(pointerAt array: IRValue, index: Int, name: String) -> IRValue {
    let element = elementAddress(array, type: llvm.ptr, index: i64(Int64(index)))
    let value = LLVMBuildLoad2(builder, llvm.ptr, element.ref, name)!
    LLVMSetAlignment(value, 8)
    return IRValue(value, self)
  }

  /// Returns `value` from the current function.
  public func ret(_ value: IRValue? = nil) {
    if let value { LLVMBuildRet(builder, value.ref) } else { LLVMBuildRetVoid(builder) }
  }

  // MARK: Intrinsics

  /// Calls the overloaded LLVM intrinsic `name` (e.g. `llvm.fma`) instantiated at `overloads`.
  public func intrinsic(_ name: String, overloads: [LLVMTypeRef], _ args: [IRValue]) -> IRValue {
    let id = LLVMLookupIntrinsicID(name, name.utf8.count)
    precondition(id != 0, "unknown intrinsic \(name)")
    var types = overloads.map { Optional($0) }
    let function = LLVMGetIntrinsicDeclaration(llvm.module, id, &types, types.count)
    let fnType = LLVMIntrinsicGetType(llvm.context, id, &types, types.count)
    var argRefs = args.map { Optional($0.ref) }
    return IRValue(LLVMBuildCall2(builder, fnType, function, &argRefs, UInt32(argRefs.count), "")!, self)
  }

  /// Calls `function` of type `type` with `args`.
  @discardableResult
  public func call(_ function: LLVMValueRef, type: LLVMTypeRef, _ args: [IRValue]) -> IRValue {
    var argRefs = args.map { Optional($0.ref) }
    return IRValue(LLVMBuildCall2(builder, type, function, &argRefs, UInt32(argRefs.count), "")!, self)
  }
}

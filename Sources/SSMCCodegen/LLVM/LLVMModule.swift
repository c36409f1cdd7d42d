import CLLVM

/// Owner of one LLVM context, the module built in it, and an IR builder.
///
/// LLVM objects are not thread-safe and all belong to the context, so one class owns them together and
/// disposes them in the right order. Values and types handed out stay valid as long as this object lives.
public final class LLVMModule {
  public let context: LLVMContextRef
  public let module: LLVMModuleRef
  public let builder: LLVMBuilderRef

  /// Creates an empty module named `name` (the name only appears in printed IR).
  public init(name: String) {
    context = LLVMContextCreate()
    module = LLVMModuleCreateWithNameInContext(name, context)
    builder = LLVMCreateBuilderInContext(context)
  }

  deinit {
    LLVMDisposeBuilder(builder)
    LLVMDisposeModule(module)
    LLVMContextDispose(context)
  }

  // MARK: Types

  public var void: LLVMTypeRef { LLVMVoidTypeInContext(context) }
  public var i1: LLVMTypeRef { LLVMInt1TypeInContext(context) }
  public var i8: LLVMTypeRef { LLVMInt8TypeInContext(context) }
  public var i32: LLVMTypeRef { LLVMInt32TypeInContext(context) }
  public var i64: LLVMTypeRef { LLVMInt64TypeInContext(context) }
  public var f32: LLVMTypeRef { LLVMFloatTypeInContext(context) }
  public var f64: LLVMTypeRef { LLVMDoubleTypeInContext(context) }
  /// The opaque pointer type of address space 0.
  public var ptr: LLVMTypeRef { LLVMPointerTypeInContext(context, 0) }

  /// `<lanes x element>`.
  public func vector(_ element: LLVMTypeRef, lanes: Int) -> LLVMTypeRef {
    LLVMVectorType(element, UInt32(lanes))
  }

  public func functionType(returns: LLVMTypeRef, params: [LLVMTypeRef], variadic: Bool = false) -> LLVMTypeRef {
    var params = params.map { Optional($0) }
    return params.withUnsafeMutableBufferPointer {
      LLVMFunctionType(returns, $0.baseAddress, UInt32($0.count), variadic ? 1 : 0)
    }
  }

  /// Attribute index of the function itself (LLVMAttributeFunctionIndex, imported as Int).
  public let functionIndex = UInt32(bitPattern: -1)

  // MARK: Functions

  /// One parameter of a function created by `addFunction`.
  public struct Parameter {
    public var name: String
    public var type: LLVMTypeRef
    /// For pointers: the pointee is reached only through this pointer during the call (`noalias`)
    /// and the pointer does not escape (`nocapture`); this is what lets LLVM vectorize without runtime checks.
    public var noalias: Bool
    public init(_ name: String, _ type: LLVMTypeRef, noalias: Bool = false) {
      self.name = name
      self.type = type
      self.noalias = noalias
    }
  }

  /// Adds a function definition or declaration. Defined functions get `nounwind` since kernels never unwind.
  @discardableResult
  public func addFunction(
    _ name: String, returns: LLVMTypeRef, params: [Parameter], linkage: LLVMLinkage = LLVMExternalLinkage
  ) -> LLVMValueRef {
    let type = functionType(returns: returns, params: params.map(\.type))
    let function = LLVMAddFunction(module, name, type)!
    LLVMSetLinkage(function, linkage)
    for (index, param) in params.enumerated() {
      let value = LLVMGetParam(function, UInt32(index))!
      LLVMSetValueName2(value, param.name, param.name.utf8.count)
      if param.noalias {
        addAttribute("noalias", to: function, index: UInt32(index + 1))
        addAttribute("nocapture", to: function, index: UInt32(index + 1))
      }
    }
    addAttribute("nounwind", to: function, index: functionIndex)
    return function
  }

  /// Adds an enum attribute (`noalias`, `nounwind`, `alwaysinline` ...) by name; index 0 is the return
  /// value, `functionIndex` the function, i + 1 parameter i.
  public func addAttribute(_ name: String, to function: LLVMValueRef, index: UInt32) {
    let kind = LLVMGetEnumAttributeKindForName(name, name.utf8.count)
    precondition(kind != 0, "unknown LLVM attribute \(name)")
    LLVMAddAttributeAtIndex(function, index, LLVMCreateEnumAttribute(context, kind, 0))
  }

  /// Adds a string function attribute such as `"prefer-vector-width"="512"`.
  public func addStringAttribute(_ key: String, _ value: String, to function: LLVMValueRef) {
    let attribute = LLVMCreateStringAttribute(
      context, key, UInt32(key.utf8.count), value, UInt32(value.utf8.count))
    LLVMAddAttributeAtIndex(function, functionIndex, attribute)
  }

  /// The function named `name`, if the module has one.
  public func function(named name: String) -> LLVMValueRef? { LLVMGetNamedFunction(module, name) }

  /// All functions with a body.
  public var definedFunctions: [LLVMValueRef] {
    var result: [LLVMValueRef] = []
    var function = LLVMGetFirstFunction(module)
    while let f = function {
      if LLVMIsDeclaration(f) == 0 { result.append(f) }
      function = LLVMGetNextFunction(f)
    }
    return result
  }

  /// Appends a basic block to `function` and returns it.
  public func appendBlock(_ name: String, to function: LLVMValueRef) -> LLVMBasicBlockRef {
    LLVMAppendBasicBlockInContext(context, function, name)
  }

  // MARK: Checking and printing

  /// Runs LLVM's verifier; a broken module is a compiler bug, reported with the verifier's message.
  public func verify() throws(CodegenError) {
    var message: UnsafeMutablePointer<CChar>?
    let failed = LLVMVerifyModule(module, LLVMReturnStatusAction, &message)
    let text = message.map { String(cString: $0) } ?? ""
    LLVMDisposeMessage(message)
    if failed != 0 { throw CodegenError(.invalidModule, "LLVM verifier: \(text)") }
  }

  /// The module as LLVM IR text.
  public var irText: String {
    let raw = LLVMPrintModuleToString(module)!
    defer { LLVMDisposeMessage(raw) }
    return String(cString: raw)
  }

  /// Constant globals by contents: equal constants (such as the weights the shape variants of a model
  /// share) are emitted once.
  private var constantsByBytes: [[UInt8]: LLVMValueRef] = [:]

  /// A private, read-only, 64-byte aligned global holding `bytes` (weights, offset tables); one per contents.
  public func addConstantData(name: String, bytes: [UInt8]) -> LLVMValueRef {
    if let existing = constantsByBytes[bytes] { return existing }
    let initializer = bytes.withUnsafeBufferPointer { buffer in
      buffer.withMemoryRebound(to: CChar.self) { chars in
        LLVMConstStringInContext(context, chars.baseAddress, UInt32(bytes.count), 1)!
      }
    }
    let global = LLVMAddGlobal(module, LLVMTypeOf(initializer), name)!
    LLVMSetInitializer(global, initializer)
    LLVMSetGlobalConstant(global, 1)
    LLVMSetLinkage(global, LLVMPrivateLinkage)
    LLVMSetUnnamedAddress(global, LLVMGlobalUnnamedAddr)
    LLVMSetAlignment(global, 64)
    constantsByBytes[bytes] = global
    return global
  }
}

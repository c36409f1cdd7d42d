import CLLVM

/// What `emit` writes.
public enum EmitKind: String, Sendable, CaseIterable {
  /// A relocatable ELF (or the triple's format) object file.
  case object
  /// Target assembly text.
  case assembly
  /// LLVM IR text (`.ll`).
  case llvmIR
}

extension TargetMachine {
  /// Stamps `module` with this machine's triple and data layout and its functions with the target
  /// CPU and features, so optimization sees the real costs (vector widths, FMA ...).
  ///
  /// On x86 every function also gets `"prefer-vector-width"="512"`: LLVM otherwise keeps to 256-bit vectors
  /// on several AVX-512 CPUs (skylake-avx512, icelake ...; LLVM 19 already uses 512 bits on znver4); on a CPU without AVX-512 the attribute changes nothing, since the
  /// vectorizer never exceeds the widest legal register.
  public func prepare(_ module: LLVMModule) {
    LLVMSetTarget(module.module, triple)
    let layout = LLVMCreateTargetDataLayout(machine)
    LLVMSetModuleDataLayout(module.module, layout)
    LLVMDisposeTargetData(layout)
    for function in module.definedFunctions {
      module.addStringAttribute("target-cpu", cpu, to: function)
      if !features.isEmpty { module.addStringAttribute("target-features", features, to: function) }
      if isX86 && !features.contains("-avx512f") {
        module.addStringAttribute("prefer-vector-width", "512", to: function)
      }
    }
  }

  /// Runs LLVM's `default<On>` pipeline for this machine (after `prepare`).
  public func optimize(_ module: LLVMModule) throws(CodegenError) {
    let options = LLVMCreatePassBuilderOptions()!
    defer { LLVMDisposePassBuilderOptions(options) }
    LLVMPassBuilderOptionsSetLoopVectorization(options, optLevel >= 2 ? 1 : 0)
    LLVMPassBuilderOptionsSetSLPVectorization(options, optLevel >= 2 ? 1 : 0)
    LLVMPassBuilderOptionsSetLoopUnrolling(options, optLevel >= 2 ? 1 : 0)
    if let error = LLVMRunPasses(module.module, "default<O\(optLevel)>", machine, options) {
      throw CodegenError(.optimization, "LLVM pass pipeline failed: \(takeMessage(LLVMGetErrorMessage(error)))")
    }
  }

  /// The bytes of `module` compiled to `kind`.
  public func emit(_ module: LLVMModule, as kind: EmitKind) throws(CodegenError) -> [UInt8] {
    if kind == .llvmIR { return Array(module.irText.utf8) }
    var error: UnsafeMutablePointer<CChar>?
    var buffer: LLVMMemoryBufferRef?
    let fileType = kind == .object ? LLVMObjectFile : LLVMAssemblyFile
    if LLVMTargetMachineEmitToMemoryBuffer(machine, module.module, fileType, &error, &buffer) != 0 || buffer == nil {
      throw CodegenError(.emission, "LLVM could not emit \(kind.rawValue): \(takeMessage(error))")
    }
    defer { LLVMDisposeMemoryBuffer(buffer) }
    let size = LLVMGetBufferSize(buffer)
    guard let start = LLVMGetBufferStart(buffer) else { return [] }
    return start.withMemoryRebound(to: UInt8.self, capacity: size) { Array(UnsafeBufferPointer(start: $0, count: size)) }
  }

  /// Writes `module` compiled to `kind` to `path` atomically (temporary file, then rename).
  public func emit(_ module: LLVMModule, as kind: EmitKind, to path: String) throws(CodegenError) {
    try AtomicFile.write(try emit(module, as: kind), to: path)
  }

  /// Prepares, verifies, and (for levels above 0) optimizes `module`: the usual sequence before emitting.
  public func compile(_ module: LLVMModule) throws(CodegenError) {
    prepare(module)
    try module.verify()
    if optLevel > 0 { try optimize(module) }
  }
}

import CLLVM

extension KernelBuilder {
  /// The runtime's work splitter, defined hidden in each model's glue (so two models in one process
  /// each call their own): `void ssmc_parallel_for(void *pool, int64_t n, void (*body)(void *closure,
  /// int64_t begin, int64_t end), void *closure)`. It calls `body` on disjoint ranges covering `0..<n`,
  /// possibly concurrently, and returns when all are done.
  public static let parallelForSymbol = "ssmc_parallel_for"

  private var parallelForFunction: (LLVMValueRef, LLVMTypeRef) {
    let ptr = llvm.ptr
    let type = llvm.functionType(returns: llvm.void, params: [ptr, llvm.i64, ptr, ptr])
    if let existing = llvm.function(named: Self.parallelForSymbol) { return (existing, type) }
    let function = llvm.addFunction(
      Self.parallelForSymbol, returns: llvm.void,
      params: [.init("pool", ptr), .init("n", llvm.i64), .init("body", ptr), .init("closure", ptr)])
    LLVMSetVisibility(function, LLVMHiddenVisibility)
    return (function, type)
  }

  /// Splits `0..<count` across the pool's threads and runs `body(begin, end, captured)` on each range.
  ///
  /// The body is outlined into its own function, so it must use only `captures` (as passed to it, in the
  /// same order), its range, and constants, never other values of the enclosing function. With
  /// `noaliasPointers`, pointer captures are declared `noalias`: the body promises that memory it writes
  /// through one capture is not accessed through another, which lets LLVM vectorize without runtime checks.
  public func parallelFor<E: Error>(
    count: IRValue, pool: IRValue, captures: [IRValue], noaliasPointers: Bool = true,
    body: (_ begin: IRValue, _ end: IRValue, _ captured: [IRValue]) throws(E) -> Void
  ) throws(E) {
    let ptr = llvm.ptr
    let captureTypes = captures.map(\.type)
    // The range body gets captures as parameters, where noalias can be stated; it is inlined into the
    // trampoline, keeping the noalias facts as scoped alias metadata.
    let params = captures.enumerated().map { index, value in
      LLVMModule.Parameter(
        "c\(index)", value.type, noalias: noaliasPointers && LLVMGetTypeKind(value.type) == LLVMPointerTypeKind)
    } + [.init("begin", llvm.i64), .init("end", llvm.i64)]
    let rangeBody = try defineFunction(
      uniqueName("parallel.body"), returns: llvm.void, params: params, linkage: LLVMInternalLinkage
    ) { (p) throws(E) in
      try body(p[captures.count], p[captures.count + 1], Array(p[0..<captures.count]))
    }
    llvm.addAttribute("alwaysinline", to: rangeBody, index: llvm.functionIndex)
    let rangeBodyType = llvm.functionType(returns: llvm.void, params: params.map(\.type))

    var fields = captureTypes.map { Optional($0) }
    let closureType = LLVMStructTypeInContext(llvm.context, &fields, UInt32(fields.count), 0)!
    let trampoline = defineFunction(
      uniqueName("parallel.trampoline"), returns: llvm.void,
      params: [.init("closure", ptr), .init("begin", llvm.i64), .init("end", llvm.i64)], linkage: LLVMInternalLinkage
    ) { p in
      let loaded = captureTypes.enumerated().map { index, type in
        let field = LLVMBuildStructGEP2(builder, closureType, p[0].ref, UInt32(index), "")
        return IRValue(LLVMBuildLoad2(builder, type, field, "")!, self)
      }
      call(rangeBody, type: rangeBodyType, loaded + [p[1], p[2]])
    }

    let closure = stackSlot(closureType, name: "closure")
    for (index, value) in captures.enumerated() {
      let field = LLVMBuildStructGEP2(builder, closureType, closure.ref, UInt32(index), "")
      LLVMBuildStore(builder, value.ref, field)
    }
    let (splitter, splitterType) = parallelForFunction
    call(splitter, type: splitterType, [pool, count, IRValue(trampoline, self), closure])
  }
}

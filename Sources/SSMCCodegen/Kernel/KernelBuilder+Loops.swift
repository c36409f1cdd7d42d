import CLLVM

/// Optimization hints attached to a loop as `llvm.loop` metadata.
public struct LoopHints: Sendable, Equatable {
  /// `false` forbids vectorizing this loop (e.g. an outer loop whose inner loop is the vector one).
  public var vectorize: Bool?
  /// Vector width the vectorizer should use.
  public var vectorizeWidth: Int?
  /// Independent vector iterations in flight (hides FMA latency in reductions).
  public var interleaveCount: Int?
  /// Unroll factor; 1 disables unrolling.
  public var unrollCount: Int?

  public init(vectorize: Bool? = nil, vectorizeWidth: Int? = nil, interleaveCount: Int? = nil, unrollCount: Int? = nil) {
    self.vectorize = vectorize
    self.vectorizeWidth = vectorizeWidth
    self.interleaveCount = interleaveCount
    self.unrollCount = unrollCount
  }

  public static let none = LoopHints()
  var isEmpty: Bool { self == .none }
}

extension KernelBuilder {
  /// Emits `for (i = from; i < to; i += step)` (or `i > to` for a negative step) over `i64` values,
  /// with loop-carried values: `carrying` are the initial values, `body` receives the induction variable
  /// and the current carried values and returns their next values. Returns the carried values at exit.
  /// Carried values are PHIs, so reductions written this way vectorize.
  @discardableResult
  public func forLoop<E: Error>(
    from start: IRValue, to end: IRValue, step: Int64 = 1, hints: LoopHints = .none,
    carrying initial: [IRValue], body: (IRValue, [IRValue]) throws(E) -> [IRValue]
  ) throws(E) -> [IRValue] {
    precondition(step != 0, "loop step must not be zero")
    let function = currentFunction!
    let preheader = LLVMGetInsertBlock(builder)!
    let header = llvm.appendBlock("loop", to: function)
    let bodyBlock = llvm.appendBlock("loop.body", to: function)
    let exit = llvm.appendBlock("loop.exit", to: function)
    LLVMBuildBr(builder, header)

    LLVMPositionBuilderAtEnd(builder, header)
    let index = IRValue(LLVMBuildPhi(builder, start.type, "i")!, self)
    let carried = initial.map { IRValue(LLVMBuildPhi(builder, $0.type, "acc")!, self) }
    let more = compare(step > 0 ? .lt : .gt, index, end)
    LLVMBuildCondBr(builder, more.ref, bodyBlock, exit)

    LLVMPositionBuilderAtEnd(builder, bodyBlock)
    let next = try body(index, carried)
    precondition(next.count == initial.count, "loop body must return one value per carried value")
    let latch = LLVMGetInsertBlock(builder)!
    let incremented = IRValue(LLVMBuildNSWAdd(builder, index.ref, constant(bits: step, index.type).ref, "i.next")!, self)
    let backEdge = LLVMBuildBr(builder, header)!
    if !hints.isEmpty { attachLoopMetadata(hints, to: backEdge) }

    addIncoming(index, [(start, preheader), (incremented, latch)])
    for (phi, (first, later)) in zip(carried, zip(initial, next)) {
      addIncoming(phi, [(first, preheader), (later, latch)])
    }
    LLVMPositionBuilderAtEnd(builder, exit)
    return carried
  }

  /// `for (i = from; i < to; i += step) body(i)` without carried values.
  public func forLoop<E: Error>(
    from start: IRValue, to end: IRValue, step: Int64 = 1, hints: LoopHints = .none, body: (IRValue) throws(E) -> Void
  ) throws(E) {
    try forLoop(from: start, to: end, step: step, hints: hints, carrying: []) { (i, _) throws(E) in
      try body(i)
      return []
    }
  }

  private func addIncoming(_ phi: IRValue, _ edges: [(IRValue, LLVMBasicBlockRef)]) {
    var values = edges.map { Optional($0.0.ref) }
    var blocks = edges.map { Optional($0.1) }
    LLVMAddIncoming(phi.ref, &values, &blocks, UInt32(edges.count))
  }

  /// Builds the self-referential `!llvm.loop !{!self, !{"llvm.loop.vectorize.width", i32 8}, ...}` node.
  private func attachLoopMetadata(_ hints: LoopHints, to branch: LLVMValueRef) {
    let ctx = llvm.context
    func string(_ s: String) -> LLVMMetadataRef { LLVMMDStringInContext2(ctx, s, s.utf8.count) }
    func node(_ items: [LLVMMetadataRef]) -> LLVMMetadataRef {
      var items = items.map { Optional($0) }
      return LLVMMDNodeInContext2(ctx, &items, items.count)
    }
    func int(_ value: Int, _ type: LLVMTypeRef) -> LLVMMetadataRef {
      LLVMValueAsMetadata(LLVMConstInt(type, UInt64(value), 0))
    }
    var entries: [LLVMMetadataRef] = []
    if let enable = hints.vectorize {
      entries.append(node([string("llvm.loop.vectorize.enable"), int(enable ? 1 : 0, llvm.i1)]))
    }
    if let width = hints.vectorizeWidth {
      entries.append(node([string("llvm.loop.vectorize.width"), int(width, llvm.i32)]))
    }
    if let count = hints.interleaveCount {
      entries.append(node([string("llvm.loop.interleave.count"), int(count, llvm.i32)]))
    }
    if let count = hints.unrollCount {
      entries.append(
        count == 1 ? node([string("llvm.loop.unroll.disable")]) : node([string("llvm.loop.unroll.count"), int(count, llvm.i32)]))
    }
    // A fresh placeholder makes the node unique to this loop; it is then pointed at itself.
    let loopID = node([node([string(uniqueName("placeholder"))])] + entries)
    let loopValue = LLVMMetadataAsValue(ctx, loopID)!
    LLVMReplaceMDNodeOperandWith(loopValue, 0, loopID)
    LLVMSetMetadata(branch, LLVMGetMDKindIDInContext(ctx, "llvm.loop", 9), loopValue)
  }

  /// Emits `if (condition) { then() }`.
  public func ifThen<E: Error>(_ condition: IRValue, then: () throws(E) -> Void) throws(E) {
    let function = currentFunction!
    let thenBlock = llvm.appendBlock("then", to: function)
    let merge = llvm.appendBlock("endif", to: function)
    LLVMBuildCondBr(builder, condition.ref, thenBlock, merge)
    LLVMPositionBuilderAtEnd(builder, thenBlock)
    try then()
    if LLVMGetBasicBlockTerminator(LLVMGetInsertBlock(builder)) == nil { LLVMBuildBr(builder, merge) }
    LLVMPositionBuilderAtEnd(builder, merge)
  }

  /// Reserves a stack slot of `type` in the entry block (where LLVM promotes it to registers).
  public func stackSlot(_ type: LLVMTypeRef, name: String = "slot") -> IRValue {
    let entry = LLVMGetEntryBasicBlock(currentFunction!)!
    let temporary = LLVMCreateBuilderInContext(llvm.context)!
    defer { LLVMDisposeBuilder(temporary) }
    if let first = LLVMGetFirstInstruction(entry) {
      LLVMPositionBuilderBefore(temporary, first)
    } else {
      LLVMPositionBuilderAtEnd(temporary, entry)
    }
    return IRValue(LLVMBuildAlloca(temporary, type, name)!, self)
  }
}

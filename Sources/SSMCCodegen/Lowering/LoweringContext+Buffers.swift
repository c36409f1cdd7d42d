import CLLVM

/// Kernel-private memory and work splitting for lowerings that need more than one loop nest: packed
/// constants baked into the library and parallel loops that stay serial when small (temporary buffers
/// come from the node's workspace, see Workspace.swift).
extension LoweringContext {
  /// A private, 64-byte aligned, read-only global holding `floats` (e.g. weights re-laid out at compile time).
  func addConstantGlobal(name: String, floats: [Float]) -> IRValue {
    addConstantGlobal(name: name, bytes: floats.withUnsafeBufferPointer { Array(UnsafeRawBufferPointer($0)) })
  }

  /// A private, 64-byte aligned, read-only global holding `int64s` (e.g. offset tables).
  func addConstantGlobal(name: String, int64s: [Int64]) -> IRValue {
    addConstantGlobal(name: name, bytes: int64s.withUnsafeBufferPointer { Array(UnsafeRawBufferPointer($0)) })
  }

  private func addConstantGlobal(name: String, bytes: [UInt8]) -> IRValue {
    IRValue(k.llvm.addConstantData(name: name, bytes: bytes), k)
  }

  /// Runs `body` over `0..<items`: split across the pool when `work` (a rough count of inner operations) is
  /// large enough to pay for waking threads, else on the calling thread. As with `parallelFor`, the body may
  /// use only the captured values it receives.
  func parallelIfLarge(
    items: Int, work: Int, captures: [IRValue], body: (_ begin: IRValue, _ end: IRValue, _ captured: [IRValue]) -> Void
  ) {
    guard items > 0 else { return }
    if items > 1 && work >= Self.parallelThreshold {
      k.parallelFor(count: k.i64(Int64(items)), pool: pool, captures: captures, body: body)
    } else {
      body(k.i64(0), k.i64(Int64(items)), captures)
    }
  }
}

import CLLVM

/// The scratch memory one node function may use besides its operands and results.
///
/// Lowerings ask for buffers while they emit code (`LoweringContext.workspace(bytes:)`); each request is a
/// 64-byte aligned slice of the node's workspace parameter. After the node is lowered, `bytes` is its total,
/// and the memory plan reserves that much scratch for the node alone (see `MemoryPlan`), so no node
/// function allocates at run time and none can fail to.
final class WorkspaceArena {
  /// The node function's `noalias` workspace pointer parameter.
  let base: IRValue
  /// Bytes handed out so far (a multiple of 64).
  private(set) var bytes = 0

  init(base: IRValue) { self.base = base }

  /// Reserves `count` bytes and returns their offset from `base`.
  func reserve(_ count: Int) -> Int {
    let offset = bytes
    bytes += MemoryPlan.round(max(count, 1))
    return offset
  }
}

extension LoweringContext {
  /// A 64-byte aligned buffer of `bytes` bytes in the node's workspace, valid for this node function only.
  ///
  /// Call it in the node function's own body, not inside a `parallelFor` body (that is another function):
  /// pass the returned pointer to the body as a capture. A body that needs private scratch per thread can
  /// take `parts x bytes` here and index it by chunk: split the range into a compile-time number of parts
  /// (the pool runs each part on one thread), not by the run-time thread count.
  func workspace(bytes: Int) -> IRValue {
    k.byteOffset(arena.base, k.i64(Int64(arena.reserve(bytes))))
  }
}

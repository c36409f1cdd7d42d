import CLLVM

extension KernelBuilder {
  /// Copies `bytes` bytes (non-overlapping) with LLVM's memcpy intrinsic.
  public func memcpy(to destination: IRValue, from source: IRValue, bytes: Int) {
    guard bytes > 0 else { return }
    _ = intrinsic("llvm.memcpy", overloads: [llvm.ptr, llvm.ptr, llvm.i64], [destination, source, i64(Int64(bytes)), bool(false)])
  }
}

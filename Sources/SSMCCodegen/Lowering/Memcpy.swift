import CLLVM

extension KernelBuilder {
  /// Copies `bytes` bytes (non-overlapping) with LLVM's memcpy intrinsic.
  public func memcpy(to destination: IRValue, from source: IRValue, bytes: Int) {
    guard bytes > 0 else { return }
    memcpy(to: destination, from: source, bytes: i64(Int64(bytes)))
  }
  /// A copy of a size known only at run time.
  public func memcpy(to destination: IRValue, from source: IRValue, bytes: IRValue) {
    _ = intrinsic("llvm.memcpy", overloads: [llvm.ptr, llvm.ptr, llvm.i64], [destination, source, bytes, bool(false)])
  }
}

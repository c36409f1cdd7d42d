/// What to generate code for and how hard to optimize; built from the CLI flags.
public struct TargetOptions: Sendable, Equatable {
  /// `native` (the host CPU and its features) or a CPU name LLVM knows (`znver4`, `x86-64-v3`, `neoverse-v2` ...).
  public var cpu: String
  /// An LLVM target triple for cross-compiling objects; nil means the host triple.
  public var triple: String?
  /// Optimization level, 0...3, as in `-O0` ... `-O3`.
  public var optLevel: Int

  public init(cpu: String = "native", triple: String? = nil, optLevel: Int = 3) {
    self.cpu = cpu
    self.triple = triple
    self.optLevel = optLevel
  }
}

import CLLVM
import SSMCIR

/// Profiling: with `ModelCompiler.profile`, the kernel reads two clocks around every node call, the
/// monotonic wall clock and the calling thread's CPU time (which a machine busy with other processes does
/// not inflate), and adds the elapsed nanoseconds of each and one call to that node's three counters in
/// the context. The clocks are the glue's hidden `ssmc_profile_now`/`ssmc_profile_cpu_now` (clock_gettime;
/// the thread CPU clock is a system call, well under a microsecond per node).
extension ModelCompiler {
  /// Symbols of `int64_t ssmc_profile_now(void)` (wall) and `ssmc_profile_cpu_now(void)` (thread CPU time),
  /// defined hidden in the glue of profiling libraries.
  static let profileClockSymbol = "ssmc_profile_now"
  static let profileCPUClockSymbol = "ssmc_profile_cpu_now"
  /// Counters per node: wall nanoseconds, CPU nanoseconds, calls.
  static let profileCounters = 3

  /// What the profile table says about each node, in call order.
  var profiledNodes: [ProfiledNode] {
    graph.nodes.enumerated().map { index, node in
      func shape(_ id: ValueID?) -> String {
        guard let id, let type = graph.type(of: id) else { return "-" }
        guard let dims = type.staticShape else { return "\(type)" }
        return dims.isEmpty ? "scalar" : dims.map(String.init).joined(separator: "x")
      }
      let shapes = node.operands.map(shape).joined(separator: ", ") + " -> " + node.results.map(shape).joined(separator: ", ")
      return ProfiledNode(name: node.name.isEmpty ? "node.\(index)" : node.name, op: node.op, shapes: shapes)
    }
  }

  /// Emits `call()` between clock reads and accumulates into the node's counters `counters[3 * node ...]`:
  /// wall ns, CPU ns, calls.
  func timed(node: Int, counters: IRValue, _ k: KernelBuilder, call: () -> Void) {
    let i64 = k.llvm.i64
    let clockType = k.llvm.functionType(returns: i64, params: [])
    func clock(_ symbol: String) -> LLVMValueRef {
      if let existing = k.llvm.function(named: symbol) { return existing }
      let function = k.llvm.addFunction(symbol, returns: i64, params: [])
      LLVMSetVisibility(function, LLVMHiddenVisibility)
      return function
    }
    let (wall, cpu) = (clock(Self.profileClockSymbol), clock(Self.profileCPUClockSymbol))
    let wallStart = k.call(wall, type: clockType, [])
    let cpuStart = k.call(cpu, type: clockType, [])
    call()
    let cpuEnd = k.call(cpu, type: clockType, [])
    let wallEnd = k.call(wall, type: clockType, [])
    for (slot, amount) in [(0, wallEnd - wallStart), (1, cpuEnd - cpuStart), (2, k.i64(1))] {
      let index = k.i64(Int64(Self.profileCounters * node + slot))
      k.store(k.load(.i64, from: counters, at: index) + amount, .i64, to: counters, at: index)
    }
  }
}

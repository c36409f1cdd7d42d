import CLLVM
import SSMCIR

/// Profiling: with `ModelCompiler.profile`, the kernel reads a monotonic clock around every node call and
/// adds the elapsed nanoseconds and one call to that node's two counters in the context. The clock is the
/// glue's hidden `ssmc_profile_now` (clock_gettime), so a run costs two clock reads per node, about 40 ns.
extension ModelCompiler {
  /// Symbol of `int64_t ssmc_profile_now(void)`, defined hidden in the glue of profiling libraries.
  static let profileClockSymbol = "ssmc_profile_now"

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

  /// Emits `call()` between two clock reads and accumulates into `counters[2 * node]` (ns) and
  /// `counters[2 * node + 1]` (calls).
  func timed(node: Int, counters: IRValue, _ k: KernelBuilder, call: () -> Void) {
    let i64 = k.llvm.i64
    let clockType = k.llvm.functionType(returns: i64, params: [])
    let clock = k.llvm.function(named: Self.profileClockSymbol) ?? {
      let function = k.llvm.addFunction(Self.profileClockSymbol, returns: i64, params: [])
      LLVMSetVisibility(function, LLVMHiddenVisibility)
      return function
    }()
    let start = k.call(clock, type: clockType, [])
    call()
    let end = k.call(clock, type: clockType, [])
    let nsIndex = k.i64(Int64(2 * node))
    let callsIndex = k.i64(Int64(2 * node + 1))
    k.store(k.load(.i64, from: counters, at: nsIndex) + (end - start), .i64, to: counters, at: nsIndex)
    k.store(k.load(.i64, from: counters, at: callsIndex) + k.i64(1), .i64, to: counters, at: callsIndex)
  }
}

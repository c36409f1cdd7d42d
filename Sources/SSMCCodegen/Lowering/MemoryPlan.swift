import SSMCIR

/// Where every intermediate value and every node's workspace lives in the context's scratch memory.
///
/// Values are placed in topological order; a value's bytes are free again after its last use, so later
/// values reuse them (first fit over free intervals). A result never shares memory with an operand of
/// the node that produces it, so kernels may treat all their pointers as non-aliasing. A node's workspace
/// is placed after its results and lives during that node only: it overlaps none of the node's operands
/// and results, and its bytes are free again for the values and workspaces of later nodes.
/// Views (see `ViewPlan`) get no bytes of their own: the value they read stays live until the view's last use.
struct MemoryPlan {
  static let alignment = 64
  /// Byte offset into scratch of each value that lives there.
  private(set) var offsets: [ValueID: Int] = [:]
  /// Byte offset into scratch of each node's workspace, by node index (absent for nodes that need none).
  private(set) var workspaceOffsets: [Int: Int] = [:]
  private(set) var scratchBytes = 0

  /// `workspaceBytes[i]` is the workspace node `i` needs (no entry or 0: none).
  init(
    _ graph: Graph, byteSize: (ValueID) -> Int, isExternal: (ValueID) -> Bool, workspaceBytes: [Int] = [],
    views: ViewPlan? = nil
  ) {
    var lastUse: [ValueID: Int] = [:]
    for (i, node) in graph.nodes.enumerated() {
      for case let v? in node.operands { lastUse[views?.root(of: v).value ?? v] = i }
    }
    var live: [(offset: Int, size: Int, value: ValueID?)] = []
    func place(_ bytes: Int) -> (offset: Int, size: Int) {
      let size = max(Self.round(bytes), Self.alignment)
      let offset = Self.firstFit(size, live.map { ($0.offset, $0.size) })
      scratchBytes = max(scratchBytes, offset + size)
      return (offset, size)
    }
    for (i, node) in graph.nodes.enumerated() {
      for result in node.results where !isExternal(result) && views?.root(of: result).value ?? result == result {
        let (offset, size) = place(byteSize(result))
        offsets[result] = offset
        live.append((offset, size, result))
      }
      if i < workspaceBytes.count && workspaceBytes[i] > 0 {
        // Placed while the node's operands and results are live; the entry without a value is freed below.
        let (offset, size) = place(workspaceBytes[i])
        workspaceOffsets[i] = offset
        live.append((offset, size, nil))
      }
      // Free what this node used for the last time (after placing its results, so they never overlap).
      live.removeAll { entry in entry.value.flatMap { lastUse[$0] }.map { $0 <= i } ?? true }
    }
  }

  static func round(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

  static func firstFit(_ size: Int, _ used: [(Int, Int)]) -> Int {
    var candidate = 0
    for (offset, length) in used.sorted(by: { $0.0 < $1.0 }) {
      if candidate + size <= offset { return candidate }
      candidate = max(candidate, offset + length)
    }
    return candidate
  }
}

import SSMCIR

/// Where every intermediate value lives in the context's scratch memory.
///
/// Values are placed in topological order; a value's bytes are free again after its last use, so later
/// values reuse them (first fit over free intervals). A result never shares memory with an operand of
/// the node that produces it, so kernels may treat all their pointers as non-aliasing.
struct MemoryPlan {
  static let alignment = 64
  /// Byte offset into scratch of each value that lives there.
  private(set) var offsets: [ValueID: Int] = [:]
  private(set) var scratchBytes = 0

  init(_ graph: Graph, byteSize: (ValueID) -> Int, isExternal: (ValueID) -> Bool) {
    var lastUse: [ValueID: Int] = [:]
    for (i, node) in graph.nodes.enumerated() { for case let v? in node.operands { lastUse[v] = i } }
    var live: [(offset: Int, size: Int, value: ValueID)] = []
    for (i, node) in graph.nodes.enumerated() {
      for result in node.results where !isExternal(result) {
        let size = max(Self.round(byteSize(result)), Self.alignment)
        let offset = Self.firstFit(size, live.map { ($0.offset, $0.size) })
        offsets[result] = offset
        live.append((offset, size, result))
        scratchBytes = max(scratchBytes, offset + size)
      }
      // Free what this node used for the last time (after placing its results, so they never overlap).
      live.removeAll { entry in lastUse[entry.value].map { $0 <= i } ?? true }
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

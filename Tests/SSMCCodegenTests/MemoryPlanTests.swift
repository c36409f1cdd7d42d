import SSMCIR
import Testing

@testable import SSMCCodegen

/// The memory plan: values and node workspaces that are live at the same time never share bytes, and
/// memory freed by one node is reused by later ones.
struct MemoryPlanTests {
  /// A scratch interval with the nodes during which it is live (inclusive).
  struct Interval: CustomStringConvertible {
    let what: String
    let offset: Int, size: Int
    let firstNode: Int, lastNode: Int
    var description: String { "\(what) [\(offset), \(offset + size)) nodes \(firstNode)...\(lastNode)" }
  }

  /// Every scratch interval of `plan`, with lifetimes computed here from the graph (independently of the plan).
  static func intervals(_ graph: Graph, _ plan: MemoryPlan, byteSize: (ValueID) -> Int, workspace: [Int]) -> [Interval] {
    var result: [Interval] = []
    for (i, node) in graph.nodes.enumerated() {
      for value in node.results {
        guard let offset = plan.offsets[value] else { continue }
        let uses = graph.nodes.indices.filter { graph.nodes[$0].operands.contains(value) }
        result.append(Interval(what: graph[value].name, offset: offset, size: byteSize(value), firstNode: i, lastNode: uses.max() ?? i))
      }
      if let offset = plan.workspaceOffsets[i] {
        result.append(Interval(what: "workspace of node \(i)", offset: offset, size: workspace[i], firstNode: i, lastNode: i))
      }
    }
    return result
  }

  static func expectNoLiveOverlap(_ intervals: [Interval], scratchBytes: Int) {
    for (ai, a) in intervals.enumerated() {
      #expect(a.offset % MemoryPlan.alignment == 0, "\(a) is not aligned")
      #expect(a.offset + a.size <= scratchBytes, "\(a) ends past the scratch size \(scratchBytes)")
      for b in intervals[(ai + 1)...] {
        let liveTogether = a.firstNode <= b.lastNode && b.firstNode <= a.lastNode
        let shareBytes = a.offset < b.offset + b.size && b.offset < a.offset + a.size
        #expect(!(liveTogether && shareBytes), "\(a) overlaps \(b)")
      }
    }
  }

  static func byteSize(_ graph: Graph) -> (ValueID) -> Int {
    { id in
      let type = graph.type(of: id)!
      return type.elementCount! * type.element.byteSize
    }
  }

  /// x -> a -> b -> c -> d: each node has a 4 KB f32 result.
  static let chain = """
    graph @chain(%x: f32[1024]) {
      %a = Relu(%x) : f32[1024]
      %b = Neg(%a) : f32[1024]
      %c = Exp(%b) : f32[1024]
      %d = Abs(%c) : f32[1024]
      return %d
    }
    """

  @Test func valuesReuseFreedMemoryWithoutWorkspaces() throws {
    let graph = try Parser.parseGraph(Self.chain)
    let output = graph.outputs[0].value
    let plan = MemoryPlan(graph, byteSize: Self.byteSize(graph), isExternal: { $0 == output })
    // Only two of a, b, c are ever live at once; d is the caller's buffer.
    #expect(plan.scratchBytes == 2 * 4096)
    #expect(plan.workspaceOffsets.isEmpty)
    #expect(plan.offsets[output] == nil)
    Self.expectNoLiveOverlap(Self.intervals(graph, plan, byteSize: Self.byteSize(graph), workspace: []), scratchBytes: plan.scratchBytes)
  }

  @Test func workspaceAvoidsTheNodesOperandsAndResults() throws {
    let graph = try Parser.parseGraph(Self.chain)
    let output = graph.outputs[0].value
    // Node 1 (Neg) reads a and writes b, both live: its workspace must sit beside them.
    let workspace = [0, 1000, 0, 0]
    let plan = MemoryPlan(graph, byteSize: Self.byteSize(graph), isExternal: { $0 == output }, workspaceBytes: workspace)
    let offset = try #require(plan.workspaceOffsets[1])
    #expect(offset == 2 * 4096)
    #expect(plan.scratchBytes == 2 * 4096 + 1024)
    #expect(plan.workspaceOffsets.count == 1)
    Self.expectNoLiveOverlap(Self.intervals(graph, plan, byteSize: Self.byteSize(graph), workspace: workspace), scratchBytes: plan.scratchBytes)
  }

  @Test func workspaceIsFreeAgainAfterItsNode() throws {
    let graph = try Parser.parseGraph(Self.chain)
    let output = graph.outputs[0].value
    // Node 0's workspace is freed when Relu returns: Neg's result b reuses its bytes.
    let workspace = [8192, 0, 0, 0]
    let plan = MemoryPlan(graph, byteSize: Self.byteSize(graph), isExternal: { $0 == output }, workspaceBytes: workspace)
    let values = plan.offsets
    #expect(plan.workspaceOffsets[0] == 4096)
    #expect(values[graph.nodes[1].results[0]] == 4096)
    #expect(plan.scratchBytes == 4096 + 8192)
    Self.expectNoLiveOverlap(Self.intervals(graph, plan, byteSize: Self.byteSize(graph), workspace: workspace), scratchBytes: plan.scratchBytes)
  }

  @Test func workspaceReusesMemoryFreedByEarlierNodes() throws {
    // A diamond: after p and q die, the last node's workspace fits in their bytes.
    let graph = try Parser.parseGraph("""
      graph @diamond(%x: f32[256]) {
        %p = Relu(%x) : f32[256]
        %q = Neg(%x) : f32[256]
        %s = Add(%p, %q) : f32[256]
        %t = Exp(%s) : f32[256]
        %u = Abs(%t) : f32[256]
        return %u
      }
      """)
    let output = graph.outputs[0].value
    let workspace = [0, 0, 0, 0, 2048]
    let plan = MemoryPlan(graph, byteSize: Self.byteSize(graph), isExternal: { $0 == output }, workspaceBytes: workspace)
    // p, q, s live together at node 2: 3 KB; node 4 has t live (1 KB) and a 2 KB workspace.
    #expect(plan.scratchBytes == 3 * 1024)
    Self.expectNoLiveOverlap(Self.intervals(graph, plan, byteSize: Self.byteSize(graph), workspace: workspace), scratchBytes: plan.scratchBytes)
  }

  @Test func randomWorkspacesNeverOverlapLiveValues() throws {
    // A wider graph: each node reads the two previous values, so values stay live across two nodes.
    var lines = ["graph @wide(%x: f32[64], %y: f32[64]) {"]
    var names = ["x", "y"]
    for i in 0..<24 {
      let size = [64, 16, 200, 48][i % 4]
      lines.append("  %v\(i) = Add(%\(names[names.count - 2]), %\(names[names.count - 1])) : f32[\(size)]")
      names.append("v\(i)")
    }
    lines.append("  return %v23, %v20")
    lines.append("}")
    let graph = try Parser.parseGraph(lines.joined(separator: "\n"))
    let outputs = Set(graph.outputs.map(\.value))
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<50 {
      let workspace = graph.nodes.indices.map { _ in Bool.random(using: &generator) ? Int.random(in: 1...3000, using: &generator) : 0 }
      let plan = MemoryPlan(graph, byteSize: Self.byteSize(graph), isExternal: { outputs.contains($0) }, workspaceBytes: workspace)
      #expect(plan.workspaceOffsets.count == workspace.filter { $0 > 0 }.count)
      Self.expectNoLiveOverlap(Self.intervals(graph, plan, byteSize: Self.byteSize(graph), workspace: workspace), scratchBytes: plan.scratchBytes)
    }
  }
}

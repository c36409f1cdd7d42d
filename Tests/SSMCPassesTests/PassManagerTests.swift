import Foundation
import SSMCIR
import Testing

@testable import SSMCPasses

/// The pass manager's instrumentation: IR dumps, stop-after, verify-each; and pipeline parsing.
struct PassManagerTests {
  static let text = """
    graph @g(%x: f32[2]) {
      %a = const f32[2] [1.0, 2.0]
      %k = Add(%a, %a) : ?
      %y = Mul(%x, %k) : ?
      %dead = Neg(%x) : ?
      return %y
    }
    """

  /// Collects dumps from the `@Sendable` dump closure.
  final class DumpLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
  }

  func manager(_ passes: [any Pass], log: DumpLog) -> PassManager {
    var m = PassManager(passes: passes)
    m.dump = { log.append($0) }
    return m
  }

  @Test func standardPipelineOrder() {
    #expect(Pipeline.standard.map(\.name) == [
      "shape-inference", "fold-constants", "expand-s4nd", "raise-linear-attention", "raise-selective-scan",
      "fold-scan-operands", "absorb-scan-layouts", "fold-pad-into-conv", "cse", "fuse-layernorm", "fuse-gelu", "fuse-elementwise", "fuse-epilogue",
      "dce",
    ])
    #expect(Set(Pipeline.registry.keys) == Set(Pipeline.standard.map(\.name)))
  }

  @Test func parsesPassLists() throws {
    #expect(try Pipeline.parse("shape-inference, dce").map(\.name) == ["shape-inference", "dce"])
    #expect(try Pipeline.parse("").isEmpty)
  }

  @Test func unknownPassNameIsAnError() {
    let error = #expect(throws: Diagnostics.self) { try Pipeline.parse("shape-inference,fold-constant") }
    #expect(error?.description.contains("unknown pass 'fold-constant'; known passes: absorb-scan-layouts, cse, dce, expand-s4nd, fold-constants, fold-pad-into-conv, fold-scan-operands, fuse-elementwise, fuse-epilogue, fuse-gelu, fuse-layernorm, raise-linear-attention, raise-selective-scan, shape-inference") == true)
  }

  @Test func printAfterAllDumpsOncePerPassInOrder() throws {
    var graph = try Parser.parseGraph(Self.text)
    let log = DumpLog()
    var m = manager(Pipeline.standard, log: log)
    m.printAfterAll = true
    try m.run(&graph)
    let dumps = log.all
    #expect(dumps.count == Pipeline.standard.count)
    let headers = dumps.map { String($0.prefix { $0 != "\n" }) }
    #expect(headers == Pipeline.standard.map { "// ----- IR after \($0.name) -----" })
    // Each dump is the IR as that pass left it: types after shape-inference, the dead Neg until dce.
    #expect(dumps[0].contains("%y = Mul(%x, %k) : f32[2]"))
    let dce = Pipeline.standard.count - 1
    #expect(dumps[dce - 1].contains("%dead = Neg(%x) : f32[2]"))
    #expect(!dumps[dce].contains("Neg"))
    #expect(dumps[dce].hasSuffix(Printer().print(graph)))
  }

  @Test func printAfterNamedPassOnly() throws {
    var graph = try Parser.parseGraph(Self.text)
    let log = DumpLog()
    var m = manager(Pipeline.standard, log: log)
    m.printAfter = ["cse"]
    try m.run(&graph)
    #expect(log.all.count == 1)
    #expect(log.all.first?.hasPrefix("// ----- IR after cse -----") == true)
  }

  @Test func noDumpsByDefault() throws {
    var graph = try Parser.parseGraph(Self.text)
    let log = DumpLog()
    try manager(Pipeline.standard, log: log).run(&graph)
    #expect(log.all.isEmpty)
  }

  @Test func stopAfterStops() throws {
    var graph = try Parser.parseGraph(Self.text)
    let log = DumpLog()
    var m = manager(Pipeline.standard, log: log)
    m.printAfterAll = true
    m.stopAfter = "shape-inference"
    try m.run(&graph)
    #expect(log.all.count == 1)
    // dce did not run: the dead node is still there, now typed.
    #expect(graph.nodes.contains { $0.op == "Neg" })
    #expect(graph.nodes.allSatisfy { $0.results.allSatisfy { graph.type(of: $0) != nil } })
  }

  @Test func stopAfterUnknownPassIsAnError() throws {
    var graph = try Parser.parseGraph(Self.text)
    let before = graph
    var m = PassManager(passes: Pipeline.standard)
    m.stopAfter = "fuse-everything"
    let error = #expect(throws: Diagnostics.self) { try m.run(&graph) }
    #expect(error?.description.contains("no pass named 'fuse-everything'") == true)
    #expect(graph == before)
  }

  /// A pass that breaks an invariant: it gives the first result a type its shape rule disagrees with.
  struct BreakTypes: Pass {
    let name = "break-types"
    func run(on graph: inout Graph) throws(Diagnostics) -> Bool {
      graph[graph.nodes[0].results[0]].type = TensorType(.f32, shape: [99])
      return true
    }
  }

  @Test func verifyEachNamesThePassThatBrokeTheIR() throws {
    var graph = try Parser.parseGraph(Self.text)
    let error = #expect(throws: Diagnostics.self) {
      try PassManager(passes: [ShapeInference(), BreakTypes(), EliminateDeadCode()]).run(&graph)
    }
    #expect(error?.all.count == 1)
    #expect(error?.description.contains("after pass 'break-types': result types f32[99] differ from the shape rule's f32[2]") == true)

    var unchecked = try Parser.parseGraph(Self.text)
    var m = PassManager(passes: [ShapeInference(), BreakTypes()])
    m.verifyEach = false
    try m.run(&unchecked)  // without verify-each the broken IR goes through unnoticed
  }

  /// The standard pipeline reaches a fixed point: run again, no pass changes anything.
  @Test func standardPipelineIsIdempotent() throws {
    var graph = try Parser.parseGraph(Self.text)
    try PassManager(passes: Pipeline.standard).run(&graph)
    let once = graph
    for pass in Pipeline.standard {
      #expect(try pass.run(on: &graph) == false, "\(pass.name) changed an already optimized graph")
    }
    #expect(graph == once)
  }
}

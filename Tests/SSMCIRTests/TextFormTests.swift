import Testing
@testable import SSMCIR

/// The text form round-trips: print(parse(text)) == text, and parse(print(g)) == g.
struct TextFormTests {
  static let sample = """
    graph @sample(%x: f32[2,B,3], %"odd name": i64[]) {
      %w = const f32[3] [0.5, 1.0, -2.25]
      %shape = const i64[2] [-1, 3]
      %big = const f32[20] 0x\(String(repeating: "0000803f", count: 20))
      %y = Mul(%x, %w) : f32[2,B,3] loc("mul/0")
      %a, %b = Split(%y) {axis = 0, num_outputs = 2} : ?, ?
      %z = Gelu(%a) {approximate = "tanh", eps = 1e-05, list = [1.5, 2.0], names = ["p", "q"], t = dense<i64[2] [1, 2]>} : f32[1,B,3]
      %s = ssmc.SelectiveScan(%a, none, %b) : f32[1,B,3]
      return %z as "output", %s
    }

    """

  @Test func printParseIsIdentity() throws {
    let graph = try Parser.parseGraph(Self.sample)
    #expect(Printer().print(graph) == Self.sample)
    #expect(try Parser.parseGraph(Printer().print(graph)) == graph)
  }

  @Test func parsedStructure() throws {
    let graph = try Parser.parseGraph(Self.sample)
    #expect(graph.inputs.count == 2)
    #expect(graph[graph.inputs[1]].name == "odd name")
    #expect(graph.type(of: graph.inputs[0]) == TensorType(.f32, [.fixed(2), .symbol("B"), .fixed(3)]))
    #expect(graph.constants.count == 3)
    let w = graph.constants.values.first { $0.count == 3 }!
    #expect(w.floats == [0.5, 1.0, -2.25])
    #expect(graph.nodes[0].name == "mul/0")
    #expect(graph.nodes[2].attributes["eps"] == .float(1e-05))
    #expect(graph.nodes[2].attributes["list"] == .floats([1.5, 2.0]))
    #expect(graph.nodes[3].operands[1] == nil)
    #expect(graph.outputs.map(\.name) == ["output", "s"])
  }

  @Test(arguments: [
    ("graph @g() { return %x }", "used before it is defined"),
    ("graph @g(%x: f32[2]) { %x = Relu(%x) : f32[2]\n return %x }", "defined twice"),
    ("graph @g(%x: q9[2]) { return %x }", "element type"),
    ("graph @g(%x: f32[2]) { %c = const f32[2] [1.0] \n return %c }", "needs 2"),
  ])
  func parseErrors(text: String, message: String) {
    #expect {
      _ = try Parser.parseGraph(text)
    } throws: { error in
      "\(error)".contains(message)
    }
  }

  @Test func floatsPrintExactly() throws {
    let values: [Float] = [0.1, 1e-7, 3.4028235e38, -0.0, 1.0 / 3.0, 16_777_217]
    var g = Graph(name: "f")
    let c = g.addConstant(name: "c", TensorData(floats: values))
    g.outputs = [GraphOutput(name: "c", value: c)]
    let back = try Parser.parseGraph(Printer().print(g))
    #expect(back.constants.values.first!.floats.map(\.bitPattern) == values.map(\.bitPattern))
  }
}

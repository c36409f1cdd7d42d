import Testing
@testable import SSMCIR

/// Folding a weight-sized transpose stays fast enough for the constant-folding pass.
struct FoldSpeedTests {
  @Test func transposeOfAWeightMatrix() throws {
    let (rows, cols) = (1536, 384)
    var g = Graph(name: "w")
    let w = g.addConstant(name: "w", TensorData(floats: (0..<(rows * cols)).map { Float($0) }, shape: [rows, cols]))
    g.addNode("Transpose", [w], results: [("t", nil)])
    let clock = ContinuousClock()
    var result: [TensorData] = []
    let elapsed = try clock.measure { result = try OpRegistry.schema("Transpose")!.fold!(g.context(for: g.nodes[0])) }
    #expect(result[0].shape == [cols, rows])
    // Element (i, j) of the result is w[j][i] = j * cols + i.
    #expect(result[0].floats[1] == Float(cols) && result[0].floats[rows] == 1)
    #expect(elapsed < .seconds(5), "took \(elapsed)")
  }
}

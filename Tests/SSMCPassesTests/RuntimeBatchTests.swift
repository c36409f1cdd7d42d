import SSMCIR
import Testing

@testable import SSMCPasses

/// The proof that a graph keeps the samples of a run-time batch apart, on small text graphs.
@Suite struct RuntimeBatchTests {
  func analyze(_ text: String) throws -> RuntimeBatch {
    let graph = try Parser.parseGraph(text)
    let symbol = try #require(try RuntimeBatch.symbol(of: graph))
    return try RuntimeBatch.analyze(graph, symbol: symbol)
  }

  func problems(_ text: String) throws -> [String] {
    let graph = try Parser.parseGraph(text)
    do {
      let symbol = try #require(try RuntimeBatch.symbol(of: graph))
      _ = try RuntimeBatch.analyze(graph, symbol: symbol)
      return []
    } catch let error as Diagnostics {
      return error.all.map(\.description)
    }
  }

  @Test func staticGraphHasNoBatch() throws {
    let graph = try Parser.parseGraph("graph @g(%x: f32[2,3]) {\n  %y = Relu(%x) : ?\n  return %y\n}")
    #expect(try RuntimeBatch.symbol(of: graph) == nil)
  }

  @Test func followsTheSampleAxisThroughTransposeMatMulAndReductions() throws {
    let batch = try analyze("""
      graph @g(%x: f32[N,4,6], %w: f32[6,5]) {
        %axes = const i64[1] [0]
        %t = Transpose(%x) {perm = [1, 0, 2]} : ?
        %m = MatMul(%t, %w) : ?
        %r = ReduceMean(%m, %axes) {keepdims = 0} : ?
        %s = Softmax(%r) {axis = -1} : ?
        return %s
      }
      """)
    #expect(batch.inputAxes == [0, nil])
    // ReduceMean over axis 0 of [4, N, 5] leaves the samples on axis 0.
    #expect(batch.outputAxes == [0])
    // An output with its samples on axis 1 of [4, N, 6] does not hold each sample as one block.
    let inner = try problems("""
      graph @g(%x: f32[N,4,6]) {
        %t = Transpose(%x) {perm = [1, 0, 2]} : ?
        return %t
      }
      """)
    #expect(inner.count == 1 && inner[0].contains("contiguous"))
  }

  @Test func rejectsOpsThatMixSamples() throws {
    let softmax = try problems("""
      graph @g(%x: f32[N,5]) {
        %y = Softmax(%x) {axis = 0} : ?
        return %y
      }
      """)
    #expect(softmax.count == 1 && softmax[0].contains("mixes the samples") && softmax[0].contains("Softmax"))
    let contraction = try problems("""
      graph @g(%x: f32[N,5]) {
        %t = Transpose(%x) : ?
        %y = MatMul(%t, %x) : ?
        return %y
      }
      """)
    #expect(contraction.count == 1 && contraction[0].contains("contracted"))
    let reversal = try problems("""
      graph @g(%x: f32[N,5]) {
        %s = const i64[1] [-1]
        %e = const i64[1] [-9223372036854775807]
        %a = const i64[1] [0]
        %st = const i64[1] [-1]
        %y = Slice(%x, %s, %e, %a, %st) : ?
        return %y
      }
      """)
    #expect(reversal.count == 1 && reversal[0].contains("sample axis"))
  }

  @Test func shapeMathFromTheBatchSizeFeedsOnlyShapeOperands() throws {
    // Shape -> Reshape is fine (the reshape keeps samples outermost) ...
    let batch = try analyze("""
      graph @g(%x: f32[N,2,3]) {
        %zero = const i64[] [0]
        %zeros = const i64[1] [0]
        %minus1 = const i64[1] [-1]
        %s = Shape(%x) : ?
        %n = Gather(%s, %zero) {axis = 0} : ?
        %n1 = Unsqueeze(%n, %zeros) : ?
        %shape = Concat(%n1, %minus1) {axis = 0} : ?
        %y = Reshape(%x, %shape) : ?
        return %y
      }
      """)
    #expect(batch.outputAxes == [0])
    // ... but the batch size used as data gives every sample a different value than the batch would.
    let asData = try problems("""
      graph @g(%x: f32[N,2]) {
        %s = Shape(%x) : ?
        %f = Cast(%s) {to = 1} : ?
        %y = Add(%x, %f) : ?
        return %y
      }
      """)
    #expect(asData.count == 1 && asData[0].contains("computed from the batch size"))
  }

  @Test func reshapesThatMoveSamplesInwardAreRejected() throws {
    let inward = try problems("""
      graph @g(%x: f32[N,6]) {
        %shape = const i64[2] [3, -1]
        %y = Reshape(%x, %shape) : ?
        return %y
      }
      """)
    #expect(inward.count == 1)
  }

  @Test func onlyOneLeadingSymbolMayVary() throws {
    let graph = try Parser.parseGraph("graph @g(%x: f32[N,C], %y: f32[M,3]) {\n  %z = Relu(%x) : ?\n  return %z, %y\n}")
    let error = #expect(throws: Diagnostics.self) { try RuntimeBatch.symbol(of: graph) }
    #expect(error?.all.count == 2)
  }
}

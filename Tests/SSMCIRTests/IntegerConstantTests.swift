import Testing
@testable import SSMCIR

/// 64-bit integer constants survive the text form bit for bit (ONNX shape math uses INT64_MAX/MIN as
/// "unbounded" Slice ends, and Double cannot hold them).
struct IntegerConstantTests {
  @Test func int64ExtremesRoundTrip() throws {
    let values: [Int64] = [.max, .min, 9_007_199_254_740_993, -1, 0]
    var g = Graph(name: "i")
    let c = g.addConstant(name: "c", TensorData(int64s: values))
    g.outputs = [GraphOutput(name: "c", value: c)]
    let text = Printer().print(g)
    #expect(text.contains("[9223372036854775807, -9223372036854775808, 9007199254740993, -1, 0]"))
    #expect(try Parser.parseGraph(text).constants.values.first?.int64s == values)
  }

  @Test func uint64ExtremesRoundTrip() throws {
    let text = "graph @u() {\n  %c = const u64[2] [18446744073709551615, 9007199254740993]\n  return %c\n}\n"
    let g = try Parser.parseGraph(text)
    #expect(TensorData.unpack(g.constants.values.first!.bytes, as: UInt64.self) == [.max, 9_007_199_254_740_993])
    #expect(Printer().print(g) == text)
  }
}

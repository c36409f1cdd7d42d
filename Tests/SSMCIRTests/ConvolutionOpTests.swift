import Testing
@testable import SSMCIR

/// Conv, ConvTranspose and pool shape rules; expected shapes from onnxruntime 1.31 runs of the same nodes.
struct ConvolutionOpTests {
  static func conv(_ op: String, _ x: String, _ w: String?, _ attrs: String) throws -> String {
    let inputs = "%x: f32\(x)" + (w.map { ", %w: f32\($0)" } ?? "")
    let operands = w == nil ? "%x" : "%x, %w"
    return try OpTest.types(inputs, "%y = \(op)(\(operands)) {\(attrs)} : ?")[0]
  }

  @Test(arguments: [
    ("Conv", "[1,3,32,32]", "[8,3,3,3]", "pads = [1, 1, 1, 1], strides = [2, 2]", "f32[1,8,16,16]"),
    ("Conv", "[1,4,10]", "[4,1,3]", "group = 4, dilations = [2]", "f32[1,4,6]"),
    ("Conv", "[2,6,9,9]", "[4,3,2,2]", "auto_pad = \"SAME_UPPER\", strides = [2, 2], group = 2", "f32[2,4,5,5]"),
    ("Conv", "[1,1,5,5]", "[1,1,4,4]", "auto_pad = \"SAME_LOWER\"", "f32[1,1,5,5]"),
    ("Conv", "[1,1,7,7]", "[1,1,3,3]", "auto_pad = \"VALID\", strides = [2, 2]", "f32[1,1,3,3]"),
    ("Conv", "[1,2,5,6,7]", "[3,2,3,3,3]", "pads = [1, 1, 1, 1, 1, 1], kernel_shape = [3, 3, 3]", "f32[1,3,5,6,7]"),
    ("Conv", "[N,96,H,W]", "[96,1,7,7]", "pads = [3, 3, 3, 3], group = 96", "f32[N,96,H,W]"),
    ("Conv", "[N,3,H,W]", "[8,3,3,3]", "auto_pad = \"SAME_UPPER\"", "f32[N,8,H,W]"),
    ("ConvTranspose", "[1,2,3,3]", "[2,4,3,3]", "strides = [2, 2]", "f32[1,4,7,7]"),
    ("ConvTranspose", "[1,2,3,3]", "[2,4,3,3]", "strides = [2, 2], output_padding = [1, 1], pads = [1, 1, 1, 1]", "f32[1,4,6,6]"),
    ("ConvTranspose", "[1,1,3,3]", "[1,2,3,3]", "strides = [3, 3], output_shape = [8, 8]", "f32[1,2,8,8]"),
    ("ConvTranspose", "[1,4,5]", "[4,3,3]", "group = 2", "f32[1,6,7]"),
    ("ConvTranspose", "[1,1,4,4]", "[1,1,3,3]", "strides = [2, 2], auto_pad = \"SAME_UPPER\"", "f32[1,1,8,8]"),
    ("ConvTranspose", "[1,1,4]", "[1,1,3]", "strides = [2], dilations = [2]", "f32[1,1,11]"),
    ("MaxPool", "[1,3,32,32]", nil, "kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1]", "f32[1,3,16,16]"),
    ("AveragePool", "[1,1,6,6]", nil, "kernel_shape = [3, 3], strides = [2, 2], ceil_mode = 1", "f32[1,1,3,3]"),
    ("MaxPool", "[1,1,5]", nil, "kernel_shape = [3], strides = [3], pads = [0, 2], ceil_mode = 1", "f32[1,1,2]"),
    ("AveragePool", "[1,1,7,7]", nil, "kernel_shape = [2, 2], dilations = [2, 2]", "f32[1,1,5,5]"),
    ("MaxPool", "[1,1,5,5]", nil, "kernel_shape = [3, 3], strides = [2, 2], auto_pad = \"SAME_LOWER\"", "f32[1,1,3,3]"),
    ("LpPool", "[1,2,6]", nil, "kernel_shape = [2], strides = [2]", "f32[1,2,3]"),
    ("MaxPool", "[1,1,5,5]", nil, "kernel_shape = [2, 2], strides = [2, 2], auto_pad = \"VALID\"", "f32[1,1,2,2]"),
    ("GlobalAveragePool", "[2,3,7,7]", nil, "", "f32[2,3,1,1]"),
    // Spec text where onnxruntime differs: SAME pools are ceil(size / stride) whatever the dilation, and SAME
    // ConvTranspose outputs are size * stride even when that needs negative padding.
    ("MaxPool", "[1,2,11]", nil, "auto_pad = \"SAME_LOWER\", dilations = [2], kernel_shape = [4], strides = [3]", "f32[1,2,4]"),
    ("AveragePool", "[1,2,8]", nil, "auto_pad = \"SAME_UPPER\", dilations = [2], kernel_shape = [3]", "f32[1,2,8]"),
    ("ConvTranspose", "[1,2,6]", "[2,3,1]", "auto_pad = \"SAME_LOWER\", output_padding = [1], strides = [3]", "f32[1,3,18]"),
    ("GlobalMaxPool", "[B,3,L]", nil, "", "f32[B,3,1]"),
    // Symbolic sizes: floor((H + 2 - 3)/2) + 1 = floor((H + 1)/2); a VALID 2x2 pool with stride 2 is floor(L/2).
    ("Conv", "[1,3,H,W]", "[8,3,3,3]", "strides = [2, 2], pads = [1, 1, 1, 1]", "f32[1,8,(H + 1)/2,(W + 1)/2]"),
    ("MaxPool", "[1,3,L]", nil, "kernel_shape = [2], strides = [2]", "f32[1,3,L/2]"),
  ] as [(String, String, String?, String, String)])
  func shapes(op: String, x: String, w: String?, attrs: String, expected: String) throws {
    #expect(try Self.conv(op, x, w, attrs) == expected)
  }

  @Test(arguments: [
    ("Conv", "[1,3,8,8]", "[8,4,3,3]", "", "channels"),
    ("Conv", "[1,4,8,8]", "[6,1,3,3]", "group = 4", "not divisible by group"),
    ("Conv", "[1,3,8,8]", "[8,3,3,3]", "kernel_shape = [2, 2]", "differs from W"),
    ("Conv", "[1,3,8,8]", "[8,3,3,3]", "pads = [1, 1]", "must have 4 entries"),
    ("Conv", "[1,3,8,8]", "[8,3,3,3]", "strides = [0, 1]", "must be in 1..."),
    ("Conv", "[1,3,8,8]", "[8,3,3,3]", "auto_pad = \"SAME\"", "auto_pad must be"),
    ("Conv", "[1,3,8,8]", "[8,3,3,3]", "auto_pad = \"VALID\", pads = [1, 1, 1, 1]", "must not both"),
    ("Conv", "[1,3,2,2]", "[8,3,3,3]", "", "exceeds the padded input"),
    ("Conv", "[1,3,8]", "[8,3,3,3]", "", "equal rank"),
    ("ConvTranspose", "[1,2,3,3]", "[4,2,3,3]", "", "input channels"),
    ("MaxPool", "[1,3,8,8]", nil, "", "missing attribute 'kernel_shape'"),
    ("MaxPool", "[1,3,8,8]", nil, "kernel_shape = [3]", "2 positive entries"),
    ("AveragePool", "[8,8]", nil, "kernel_shape = [3, 3]", "(N, C, spatial...)"),
    ("LpPool", "[1,3,8]", nil, "kernel_shape = [3], p = 0", "p must be positive"),
  ] as [(String, String, String?, String, String)])
  func rejects(op: String, x: String, w: String?, attrs: String, message: String) throws {
    let inputs = "%x: f32\(x)" + (w.map { ", %w: f32\($0)" } ?? "")
    let e = try OpTest.error(inputs, "%y = \(op)(\(w == nil ? "%x" : "%x, %w")) {\(attrs)} : ?")
    #expect(e?.description.contains(message) == true, "\(String(describing: e))")
  }

  @Test func maxPoolIndicesHaveTheShapeOfY() throws {
    let types = try OpTest.types("%x: f32[1,2,5,5]", "%y, %i = MaxPool(%x) {kernel_shape = [2, 2], strides = [2, 2]} : ?, ?")
    #expect(types == ["f32[1,2,2,2]", "i64[1,2,2,2]"])
    let e = try OpTest.error("%x: f32[1,1,4,4]", "%y, %i, %z = MaxPool(%x) {kernel_shape = [2, 2]} : ?, ?, ?")
    #expect(e?.description.contains("one or two results") == true, "\(String(describing: e))")
  }

  /// SAME padding puts the odd pixel at the end (UPPER) or the beginning (LOWER); ConvTranspose with
  /// output_shape and auto_pad NOTSET puts it at the beginning.
  @Test func windowsResolvePads() throws {
    func windows(_ inputs: String, _ node: String, _ f: (OpContext) throws(Diagnostic) -> [WindowAxis]) throws -> [WindowAxis] {
      let g = try OpTest.graph(inputs, node)
      return try f(g.context(for: g.nodes.last!))
    }
    let lower = try windows("%x: f32[1,1,5,5], %w: f32[1,1,4,4]", "%y = Conv(%x, %w) {auto_pad = \"SAME_LOWER\"} : ?", convWindows)
    #expect(lower.map { [$0.padBegin, $0.padEnd] } == [[2, 1], [2, 1]])
    let upper = try windows("%x: f32[1,1,5], %w: f32[1,1,4]", "%y = Conv(%x, %w) {auto_pad = \"SAME_UPPER\"} : ?", convWindows)
    #expect(upper.map { [$0.padBegin, $0.padEnd] } == [[1, 2]])
    let strided = try windows("%x: f32[1,1,9], %w: f32[1,1,2]", "%y = Conv(%x, %w) {auto_pad = \"SAME_UPPER\", strides = [2]} : ?", convWindows)
    #expect(strided.map { [$0.padBegin, $0.padEnd, $0.output.value!] } == [[0, 1, 5]])
    let transposed = try windows(
      "%x: f32[1,1,3], %w: f32[1,2,3]", "%y = ConvTranspose(%x, %w) {strides = [3], output_shape = [8]} : ?", convTransposeWindows)
    #expect(transposed.map { [$0.padBegin, $0.padEnd] } == [[1, 0]])
    // An output_shape beyond what the input reaches gives negative pads (onnxruntime accepts it too); the
    // halves of the total (-3) are floor-rounded as in the ONNX reference implementation: end = -3 // 2.
    let wide = try windows(
      "%x: f32[1,1,3], %w: f32[1,2,3]", "%y = ConvTranspose(%x, %w) {strides = [3], output_shape = [12]} : ?", convTransposeWindows)
    #expect(wide.map { [$0.padBegin, $0.padEnd, $0.output.value!] } == [[-1, -2, 12]])
  }
}

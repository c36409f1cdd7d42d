import Testing
@testable import SSMCIR

/// `ConvKernelFamily`: the kernel family the Conv lowering and fuse-epilogue both go by. Expected families are
/// the rules its documentation states (depthwise geometry, then 4 output channels per group and a vector of
/// output positions for the GEMM), at their boundaries.
struct ConvKernelFamilyTests {
  static func family(_ element: String, _ x: String, _ w: String, _ attrs: String, lanes: Int) throws -> ConvKernelFamily {
    let g = try OpTest.graph("%x: \(element)\(x), %w: \(element)\(w)", "%y = Conv(%x, %w) {\(attrs)} : ?")
    return try ConvKernelFamily(conv: g.context(for: g.nodes.last!), lanes: lanes)
  }

  @Test(arguments: [
    // One input channel per group, 1-D or 2-D, unit stride along the width: the depthwise kernels.
    ("f32", "[1,8,6,6]", "[8,1,3,3]", "group = 8, pads = [1, 1, 1, 1]", 16, ConvKernelFamily.depthwise),
    ("f32", "[1,8,6,6]", "[16,1,3,3]", "group = 8, strides = [2, 1]", 16, .depthwise),
    ("f32", "[1,4,40]", "[4,1,7]", "group = 4", 16, .depthwise),
    // Strided along the width or 3-D: not depthwise; with 4+ output channels per group and a full vector of
    // output positions a GEMM, else the loop nest.
    ("f32", "[1,8,8,64]", "[32,1,1,2]", "group = 8, strides = [1, 2]", 16, .gemm),
    ("f32", "[1,8,6,6]", "[8,1,3,3]", "group = 8, strides = [1, 2]", 16, .direct),
    ("f32", "[1,2,4,4,4]", "[8,2,1,1,1]", "", 16, .gemm),
    ("f32", "[1,2,4,4,4]", "[8,1,1,1,1]", "group = 2", 16, .gemm),
    // The GEMM's bounds: 4 output channels per group, `lanes` output positions.
    ("f32", "[1,3,4,4]", "[4,3,1,1]", "", 16, .gemm),
    ("f32", "[1,3,4,4]", "[3,3,1,1]", "", 16, .direct),
    ("f32", "[1,3,3,5]", "[8,3,1,1]", "", 16, .direct),
    ("f32", "[1,3,3,5]", "[8,3,1,1]", "", 8, .gemm),
    ("f32", "[1,4,4,4]", "[8,2,1,1]", "group = 2", 16, .gemm),
    ("f32", "[1,4,4,4]", "[6,2,1,1]", "group = 2", 16, .direct),
    // Other element types take the loop nest, whatever the geometry.
    ("f64", "[1,3,8,8]", "[8,3,3,3]", "", 16, .direct),
    ("f64", "[1,8,6,6]", "[8,1,3,3]", "group = 8", 16, .direct),
  ] as [(String, String, String, String, Int, ConvKernelFamily)])
  func families(element: String, x: String, w: String, attrs: String, lanes: Int, expected: ConvKernelFamily) throws {
    #expect(try Self.family(element, x, w, attrs, lanes: lanes) == expected)
  }

  @Test func symbolicOutputIsAnError() throws {
    #expect(throws: Diagnostic.self) { _ = try Self.family("f32", "[1,3,H,W]", "[8,3,1,1]", "", lanes: 16) }
  }
}

import Testing
@testable import SSMCIR

/// MatMul, Gemm and Einsum shape rules; expected shapes from numpy.matmul / numpy.einsum.
struct LinalgOpTests {
  static let inputs = """
    %a: f32[B,197,384], %w: f32[384,1536], %v: f32[384], %m: f32[3,4], %n: f32[4,5], %b4: f32[7,1,3,4], \
    %b3: f32[6,4,5], %b43: f32[1,6,4,5], %c: f32[5], %sq: f32[3,3], %i: i64[4,5]
    """

  @Test(arguments: [
    ("%y = MatMul(%a, %w) : ?", "f32[B,197,1536]"),
    ("%y = MatMul(%a, %v) : ?", "f32[B,197]"),
    ("%y = MatMul(%v, %w) : ?", "f32[1536]"),
    ("%y = MatMul(%v, %v) : ?", "f32[]"),
    ("%y = MatMul(%b4, %b3) : ?", "f32[7,6,3,5]"),
    ("%y = Gemm(%m, %n) : ?", "f32[3,5]"),
    ("%y = Gemm(%m, %m) {transA = 1} : ?", "f32[4,4]"),
    ("%y = Gemm(%m, %n, %c) {alpha = 0.5, beta = 2.0} : ?", "f32[3,5]"),
    ("%y = Gemm(%n, %m) {transA = 1, transB = 1} : ?", "f32[5,3]"),
    ("%y = Einsum(%m, %n) {equation = \"ij,jk->ik\"} : ?", "f32[3,5]"),
    ("%y = Einsum(%m, %n) {equation = \"ij,jk\"} : ?", "f32[3,5]"),
    ("%y = Einsum(%b4, %b43) {equation = \"...ij,...jk\"} : ?", "f32[7,6,3,5]"),
    ("%y = Einsum(%b4, %b43) {equation = \"...ij, ...jk -> ...ik\"} : ?", "f32[7,6,3,5]"),
    ("%y = Einsum(%b4, %n) {equation = \"...ij,jk->...ik\"} : ?", "f32[7,1,3,5]"),
    ("%y = Einsum(%sq) {equation = \"ii\"} : ?", "f32[]"),
    ("%y = Einsum(%sq) {equation = \"ii->i\"} : ?", "f32[3]"),
    ("%y = Einsum(%m) {equation = \"bA\"} : ?", "f32[4,3]"),
    ("%y = Einsum(%a) {equation = \"bld->bdl\"} : ?", "f32[B,384,197]"),
    ("%y = Einsum(%b4) {equation = \"a...c->...ca\"} : ?", "f32[1,3,4,7]"),
  ])
  func shapes(body: String, expected: String) throws {
    #expect(try OpTest.types(Self.inputs, body) == [expected])
  }

  @Test(arguments: [
    ("%y = MatMul(%a, %m) : ?", "inner dims differ"),
    ("%y = MatMul(%m, %i) : ?", "element type"),
    ("%y = MatMul(%b4, %b4) : ?", "inner dims differ"),
    ("%y = Gemm(%m, %n) {transB = 1} : ?", "inner dims differ"),
    ("%y = Gemm(%m, %n, %m) : ?", "does not broadcast"),
    ("%y = Gemm(%v, %n) : ?", "rank 2"),
    ("%y = Einsum(%m, %n) {equation = \"ij,kj->ik\"} : ?", "letter 'j'"),
    ("%y = Einsum(%m) {equation = \"ijk\"} : ?", "does not match the rank"),
    ("%y = Einsum(%m, %n) {equation = \"ij->ik\"} : ?", "2 inputs"),
    ("%y = Einsum(%m) {equation = \"ij->iz\"} : ?", "in no input"),
    ("%y = Einsum(%b4) {equation = \"...ij->ij\"} : ?", "needs '...'"),
    ("%y = Einsum(%m) {equation = \"i1\"} : ?", "only hold letters"),
    ("%y = Einsum(%b4, %b3) {equation = \"...ij,...jk\"} : ?", "different numbers of dims"),
  ])
  func rejects(body: String, message: String) throws {
    let e = try OpTest.error(Self.inputs, body)
    #expect(e?.description.contains(message) == true, "\(String(describing: e))")
  }
}

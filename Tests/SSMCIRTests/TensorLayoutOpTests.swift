import Testing
@testable import SSMCIR

/// Transpose, Reshape, Flatten, Squeeze, Unsqueeze, DepthToSpace, SpaceToDepth; expected values from numpy.
struct TensorLayoutOpTests {
  static let inputs = "%x: f32[B,197,384], %z: f32[1,B,1,4], %e: f32[0,4], %img: f32[1,8,2,3]"

  @Test(arguments: [
    ("%y = Transpose(%x) : ?", "f32[384,197,B]"),
    ("%y = Transpose(%x) {perm = [0, 2, 1]} : ?", "f32[B,384,197]"),
    ("%s = const i64[2] [0, -1]\n%y = Reshape(%x, %s) : ?", "f32[B,75648]"),
    ("%s = const i64[4] [0, 197, 2, -1]\n%y = Reshape(%x, %s) : ?", "f32[B,197,2,192]"),
    ("%s = const i64[3] [-1, 197, 384]\n%y = Reshape(%x, %s) : ?", "f32[B,197,384]"),
    ("%s = const i64[2] [0, 4]\n%y = Reshape(%e, %s) {allowzero = 1} : ?", "f32[0,4]"),
    ("%s = const i64[3] [2, 0, -1]\n%y = Reshape(%e, %s) : ?", "f32[2,4,0]"),
    ("%y = Flatten(%x) : ?", "f32[B,75648]"),
    ("%y = Flatten(%img) {axis = 0} : ?", "f32[1,48]"),
    ("%y = Flatten(%img) {axis = -1} : ?", "f32[16,3]"),
    ("%y = Flatten(%img) {axis = 4} : ?", "f32[48,1]"),
    ("%a = const i64[2] [0, -2]\n%y = Squeeze(%z, %a) : ?", "f32[B,4]"),
    ("%y = Squeeze(%img) : ?", "f32[8,2,3]"),
    ("%a = const i64[2] [0, -1]\n%y = Unsqueeze(%e, %a) : ?", "f32[1,0,4,1]"),
    ("%a = const i64[1] [2]\n%y = Unsqueeze(%x, %a) : ?", "f32[B,197,1,384]"),
    // Symbolic products: the -1 of [-1, 384] is 197*B; Flatten at 2 multiplies B and 197.
    ("%s = const i64[2] [-1, 384]\n%y = Reshape(%x, %s) : ?", "f32[197*B,384]"),
    ("%y = Flatten(%x) {axis = 2} : ?", "f32[197*B,384]"),
    ("%y = DepthToSpace(%img) {blocksize = 2} : ?", "f32[1,2,4,6]"),
    ("%y = DepthToSpace(%img) {blocksize = 2, mode = \"CRD\"} : ?", "f32[1,2,4,6]"),
    ("%y = SpaceToDepth(%img) {blocksize = 1} : ?", "f32[1,8,2,3]"),
  ])
  func shapes(body: String, expected: String) throws {
    #expect(try OpTest.types(Self.inputs, body) == [expected])
  }

  @Test(arguments: [
    ("%y = Transpose(%x) {perm = [0, 0, 1]} : ?", "not a permutation"),
    ("%s = const i64[2] [7, -1]\n%y = Reshape(%x, %s) : ?", "cannot infer the -1"),
    ("%s = const i64[2] [-1, -1]\n%y = Reshape(%x, %s) : ?", "more than one -1"),
    ("%s = const i64[2] [5, -1]\n%y = Reshape(%img, %s) : ?", "cannot reshape"),
    ("%s = const i64[2] [6, 7]\n%y = Reshape(%img, %s) : ?", "cannot reshape"),
    ("%s = const i64[2] [0, -1]\n%y = Reshape(%e, %s) {allowzero = 1} : ?", "both 0 and -1"),
    ("%s = const i64[5] [1, 8, 2, 3, 0]\n%y = Reshape(%img, %s) : ?", "copies input dim 4"),
    ("%s = const i64[2] [48, -2]\n%y = Reshape(%img, %s) : ?", "invalid value -2"),
    ("%y = Reshape(%img, %n) : ?", "compile-time constant"),
    ("%y = Flatten(%x) {axis = 4} : ?", "out of range"),
    ("%y = Squeeze(%z) : ?", "cannot tell"),
    ("%a = const i64[1] [3]\n%y = Squeeze(%z, %a) : ?", "size is 4"),
    ("%a = const i64[2] [1, 1]\n%y = Unsqueeze(%x, %a) : ?", "repeats"),
    ("%a = const i64[1] [4]\n%y = Unsqueeze(%x, %a) : ?", "out of range"),
    ("%y = DepthToSpace(%img) {blocksize = 3} : ?", "divisible"),
    ("%y = DepthToSpace(%img) {blocksize = 2, mode = \"XYZ\"} : ?", "DCR or CRD"),
    ("%y = SpaceToDepth(%img) {blocksize = 2} : ?", "divisible"),
    ("%y = DepthToSpace(%x) {blocksize = 2} : ?", "rank 4"),
  ])
  func rejects(body: String, message: String) throws {
    let e = try OpTest.error(Self.inputs + ", %n: i64[2]", body)
    #expect(e?.description.contains(message) == true, "\(String(describing: e))")
  }

  static let x24 = "%x = const i64[2,3,4] [\((0..<24).map(String.init).joined(separator: ", "))]\n"

  @Test func foldTranspose() throws {
    let r = try OpTest.fold(Self.x24 + "%y = Transpose(%x) {perm = [1, 0, 2]} : ?")
    #expect(r[0].shape == [3, 2, 4])
    #expect(r[0].int64s == [0, 1, 2, 3, 12, 13, 14, 15, 4, 5, 6, 7, 16, 17, 18, 19, 8, 9, 10, 11, 20, 21, 22, 23])
    let w = try OpTest.fold("%w = const f32[2,3] [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]\n%y = Transpose(%w) : ?")
    #expect(w[0].shape == [3, 2] && w[0].floats == [0, 3, 1, 4, 2, 5])
  }

  @Test func foldReshapeFamilyKeepsElements() throws {
    let reshaped = try OpTest.fold(Self.x24 + "%s = const i64[2] [-1, 6]\n%y = Reshape(%x, %s) : ?")
    #expect(reshaped[0].shape == [4, 6] && reshaped[0].int64s == (0..<24).map(Int64.init))
    #expect(try OpTest.fold(Self.x24 + "%y = Flatten(%x) {axis = 2} : ?")[0].shape == [6, 4])
    let u = try OpTest.fold("%x = const i64[] [7]\n%a = const i64[1] [0]\n%y = Unsqueeze(%x, %a) : ?")
    #expect(u[0].shape == [1] && u[0].int64s == [7])
    let s = try OpTest.fold("%x = const i64[1,1] [7]\n%y = Squeeze(%x) : ?")
    #expect(s[0].shape == [] && s[0].int64s == [7])
  }
}

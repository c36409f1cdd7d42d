import Testing
@testable import SSMCIR

/// Malformed sizes and attributes give diagnostics, never traps (overflow, huge folds, extreme steps).
struct OpRobustnessTests {
  @Test(arguments: [
    ("%x: f32[4]", "%r = const i64[1] [4611686018427387904]\n%y = Tile(%x, %r) : ?", "overflows"),
    ("%x: f32[4]", "%s = const i64[3] [4294967296, 4294967296, 4]\n%y = Reshape(%x, %s) : ?", "too large"),
    ("%x: f32[4]", "%p = const i64[2] [-9223372036854775808, 0]\n%y = Pad(%x, %p) : ?", "out of range"),
    ("%x: f32[1,1,4]", "%w = const f32[1,1,1] [1.0]\n%y = Conv(%x, %w) {strides = [9223372036854775807]} : ?", "must be in"),
    ("%x: f32[1,1,4]", "%y = MaxPool(%x) {kernel_shape = [9223372036854775807]} : ?", "positive entries"),
    ("", "%a = const f32[] [0.0]\n%b = const f32[] [inf]\n%y = Range(%a, %b, %b) : ?", "no finite length"),
    ("", "%a = const f32[] [0.0]\n%b = const f32[] [1e30]\n%d = const f32[] [1.0]\n%y = Range(%a, %b, %d) : ?", "larger than"),
    ("%x: f32[1,64,4,4]", "%y = DepthToSpace(%x) {blocksize = 9223372036854775807} : ?", "blocksize must be"),
  ])
  func shapeRulesReject(inputs: String, body: String, message: String) throws {
    let e = try OpTest.error(inputs, body)
    #expect(e?.description.contains(message) == true, "\(String(describing: e))")
  }

  @Test func extremeSliceStepsTakeOneElement() throws {
    let x = "%x = const i64[10] [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n%a = const i64[1] [0]\n"
    let down = try OpTest.fold(x + """
      %s = const i64[1] [-1]
      %e = const i64[1] [-100]
      %t = const i64[1] [-9223372036854775808]
      %y = Slice(%x, %s, %e, %a, %t) : ?
      """)
    #expect(down[0].int64s == [9])
    let up = try OpTest.fold(x + """
      %s = const i64[1] [2]
      %e = const i64[1] [9223372036854775807]
      %t = const i64[1] [9223372036854775807]
      %y = Slice(%x, %s, %e, %a, %t) : ?
      """)
    #expect(up[0].int64s == [2])
  }

  @Test func hugeConstantOfShapeHasATypeButDoesNotFold() throws {
    let body = "%c = const i64[2] [1099511627776, 1099511627776]\n%y = ConstantOfShape(%c) : ?"
    #expect(try OpTest.types("", body) == ["f32[1099511627776,1099511627776]"])
    #expect(throws: Diagnostic.self) { try OpTest.fold(body) }
  }
}

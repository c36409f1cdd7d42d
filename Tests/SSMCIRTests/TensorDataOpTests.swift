import Testing
@testable import SSMCIR

/// Concat, Split, Expand, Tile, Slice, Gather, GatherElements, Pad; expected values from numpy.
struct TensorDataOpTests {
  static let inputs = "%x: f32[B,6,4], %v: f32[3,1], %i: i64[2,3]"

  @Test(arguments: [
    ("%y = Concat(%x, %x) {axis = -1} : ?", "f32[B,6,8]"),
    ("%e = const f32[0,6,4] []\n%y = Concat(%e, %x) {axis = 0} : ?", "f32[B,6,4]"),
    ("%a, %b = Split(%x) {axis = 1, num_outputs = 2} : ?, ?", "f32[B,3,4] f32[B,3,4]"),
    ("%a, %b = Split(%x) {num_outputs = 2} : ?, ?", "f32[(B + 1)/2,6,4] f32[-(B + 1)/2 + B,6,4]"),
    ("%p = const i64[6] [1, 0, 0, 1, 0, 0]\n%y = Pad(%x, %p) : ?", "f32[B + 2,6,4]"),
    ("%a, %b, %c = Split(%x) {axis = 1, num_outputs = 3} : ?, ?, ?", "f32[B,2,4] f32[B,2,4] f32[B,2,4]"),
    ("%a, %b, %c, %d = Split(%x) {axis = -2, num_outputs = 4} : ?, ?, ?, ?", "f32[B,2,4] f32[B,2,4] f32[B,2,4] f32[B,0,4]"),
    ("%s = const i64[2] [1, 5]\n%a, %b = Split(%x, %s) {axis = 1} : ?, ?", "f32[B,1,4] f32[B,5,4]"),
    ("%s = const i64[3] [2, 1, 4]\n%y = Expand(%v, %s) : ?", "f32[2,3,4]"),
    ("%s = const i64[2] [1, 1]\n%y = Expand(%x, %s) : ?", "f32[B,6,4]"),
    ("%r = const i64[3] [1, 2, 0]\n%y = Tile(%x, %r) : ?", "f32[B,12,0]"),
    ("%s = const i64[1] [0]\n%e = const i64[1] [9223372036854775807]\n%y = Slice(%x, %s, %e) : ?", "f32[B,6,4]"),
    ("%s = const i64[2] [-1, 0]\n%e = const i64[2] [-100, 9]\n%a = const i64[2] [1, -1]\n%t = const i64[2] [-2, 3]\n%y = Slice(%x, %s, %e, %a, %t) : ?", "f32[B,3,2]"),
    ("%s = const i64[1] [5]\n%e = const i64[1] [2]\n%a = const i64[1] [1]\n%y = Slice(%x, %s, %e, %a) : ?", "f32[B,0,4]"),
    ("%s = const i64[1] [-1]\n%e = const i64[1] [-9223372036854775808]\n%t = const i64[1] [-1]\n%a = const i64[1] [0]\n%y = Slice(%x, %s, %e, %a, %t) : ?", "f32[B,6,4]"),
    ("%y = Gather(%x, %i) {axis = 1} : ?", "f32[B,2,3,4]"),
    // Symbolic dims: sums and multiples; [1:3] of B clamps to min(3, B) - 1 elements (0 for B = 1).
    ("%y = Concat(%x, %x) {axis = 0} : ?", "f32[2*B,6,4]"),
    ("%r = const i64[3] [2, 1, 1]\n%y = Tile(%x, %r) : ?", "f32[2*B,6,4]"),
    ("%s = const i64[1] [1]\n%e = const i64[1] [3]\n%y = Slice(%x, %s, %e) : ?", "f32[min(3, B) - 1,6,4]"),
    ("%k = const i32[] [-1]\n%y = Gather(%x, %k) {axis = -1} : ?", "f32[B,6]"),
    ("%y = GatherElements(%v, %i) {axis = 1} : ?", "f32[2,3]"),
    ("%p = const i64[6] [0, 1, 2, 0, 3, -1]\n%y = Pad(%x, %p) : ?", "f32[B,10,5]"),
    ("%p = const i64[2] [2, 2]\n%a = const i64[1] [-1]\n%y = Pad(%x, %p, none, %a) {mode = \"reflect\"} : ?", "f32[B,6,8]"),
  ])
  func shapes(body: String, expected: String) throws {
    #expect(try OpTest.types(Self.inputs, body).joined(separator: " ") == expected)
  }

  @Test(arguments: [
    ("%y = Concat(%x, %v) {axis = 0} : ?", "differ in rank"),
    ("%y = Concat(%i, %v) {axis = 0} : ?", "element type"),
    ("%a, %b = Split(%x) {axis = 1, num_outputs = 3} : ?, ?", "3 but the node has 2"),
    ("%a, %b = Split(%x) {axis = 1} : ?, ?", "split input or num_outputs"),
    ("%s = const i64[2] [1, 4]\n%a, %b = Split(%x, %s) {axis = 1} : ?, ?", "sums to 5"),
    ("%s = const i64[2] [3, 3]\n%a, %b = Split(%x, %s) {axis = 1, num_outputs = 2} : ?, ?", "not both"),
    ("%s = const i64[2] [2, 4]\n%y = Expand(%v, %s) : ?", "cannot be expanded"),
    ("%r = const i64[2] [1, 2]\n%y = Tile(%x, %r) : ?", "one entry per axis"),
    ("%s = const i64[1] [1]\n%e = const i64[1] [3]\n%a = const i64[1] [1]\n%t = const i64[1] [0]\n%y = Slice(%x, %s, %e, %a, %t) : ?", "step for axis 1 is 0"),
    ("%s = const i64[2] [1, 1]\n%e = const i64[2] [3, 3]\n%a = const i64[2] [1, -2]\n%y = Slice(%x, %s, %e, %a) : ?", "repeats"),
    ("%s = const i64[1] [1]\n%e = const i64[2] [3, 3]\n%a = const i64[1] [1]\n%y = Slice(%x, %s, %e, %a) : ?", "equal lengths"),
    ("%y = Gather(%x, %v) : ?", "i32 or i64"),
    ("%y = GatherElements(%x, %i) : ?", "rank of data"),
    ("%p = const i64[2] [1, 1]\n%y = Pad(%x, %p) : ?", "2 entries per padded axis"),
    ("%p = const i64[2] [-4, -3]\n%a = const i64[1] [1]\n%y = Pad(%x, %p, none, %a) : ?", "crop more"),
    ("%p = const i64[2] [1, 1]\n%a = const i64[1] [1]\n%y = Pad(%x, %p, none, %a) {mode = \"mirror\"} : ?", "mode must be"),
    ("%p = const i64[2] [1, 1]\n%a = const i64[1] [1]\n%c = const i64[] [0]\n%y = Pad(%x, %p, %c, %a) : ?", "constant_value"),
  ])
  func rejects(body: String, message: String) throws {
    let e = try OpTest.error(Self.inputs, body)
    #expect(e?.description.contains(message) == true, "\(String(describing: e))")
  }

  @Test func foldConcat() throws {
    let r = try OpTest.fold("%a = const i64[2,2] [1, 2, 3, 4]\n%b = const i64[2,1] [5, 6]\n%y = Concat(%a, %b) {axis = 1} : ?")
    #expect(r[0].shape == [2, 3] && r[0].int64s == [1, 2, 5, 3, 4, 6])
    let v = try OpTest.fold("%a = const i64[2] [-1, 3]\n%b = const i64[1] [64]\n%y = Concat(%a, %b) {axis = 0} : ?")
    #expect(v[0].int64s == [-1, 3, 64])
  }

  @Test func foldSplit() throws {
    let even = try OpTest.fold("%x = const i64[7] [0, 1, 2, 3, 4, 5, 6]\n%a, %b, %c = Split(%x) {num_outputs = 3} : ?, ?, ?")
    #expect(even.map(\.int64s) == [[0, 1, 2], [3, 4, 5], [6]])
    let sized = try OpTest.fold("""
      %x = const i64[2,4] [0, 1, 2, 3, 4, 5, 6, 7]
      %s = const i64[2] [1, 3]
      %a, %b = Split(%x, %s) {axis = -1} : ?, ?
      """)
    #expect(sized.map(\.shape) == [[2, 1], [2, 3]])
    #expect(sized.map(\.int64s) == [[0, 4], [1, 2, 3, 5, 6, 7]])
  }

  @Test func foldExpandAndTile() throws {
    let e = try OpTest.fold("%x = const i64[3,1] [1, 2, 3]\n%s = const i64[3] [2, 1, 4]\n%y = Expand(%x, %s) : ?")
    #expect(e[0].shape == [2, 3, 4])
    #expect(e[0].int64s == [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3])
    let t = try OpTest.fold("%x = const i64[2,2] [1, 2, 3, 4]\n%r = const i64[2] [1, 2]\n%y = Tile(%x, %r) : ?")
    #expect(t[0].shape == [2, 4] && t[0].int64s == [1, 2, 1, 2, 3, 4, 3, 4])
  }

  @Test func foldSlice() throws {
    let back = try OpTest.fold("""
      %x = const i64[10] [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
      %s = const i64[1] [-1]
      %e = const i64[1] [-100]
      %a = const i64[1] [0]
      %t = const i64[1] [-3]
      %y = Slice(%x, %s, %e, %a, %t) : ?
      """)
    #expect(back[0].int64s == [9, 6, 3, 0])
    let grid = try OpTest.fold("""
      %x = const i64[3,4] [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
      %s = const i64[2] [0, 1]
      %e = const i64[2] [9223372036854775807, 3]
      %a = const i64[2] [0, -1]
      %t = const i64[2] [2, 1]
      %y = Slice(%x, %s, %e, %a, %t) : ?
      """)
    #expect(grid[0].shape == [2, 2] && grid[0].int64s == [1, 2, 9, 10])
  }

  @Test func foldGather() throws {
    let d = "%d = const i64[3,2] [1, 2, 3, 4, 5, 6]\n"
    let rows = try OpTest.fold(d + "%k = const i64[1,2] [0, -1]\n%y = Gather(%d, %k) : ?")
    #expect(rows[0].shape == [1, 2, 2] && rows[0].int64s == [1, 2, 5, 6])
    let col = try OpTest.fold(d + "%k = const i32[] [-1]\n%y = Gather(%d, %k) {axis = 1} : ?")
    #expect(col[0].shape == [3] && col[0].int64s == [2, 4, 6])
    #expect(throws: Diagnostic.self) { try OpTest.fold(d + "%k = const i64[1] [3]\n%y = Gather(%d, %k) : ?") }
    let el = try OpTest.fold("%d = const i64[2,2] [1, 2, 3, 4]\n%k = const i64[2,2] [0, 0, 1, 0]\n%y = GatherElements(%d, %k) {axis = 1} : ?")
    #expect(el[0].int64s == [1, 1, 4, 3])
  }

  @Test(arguments: [
    ("constant", "", [0, 0, 1, 2, 3, 0, 0, 0]),
    ("constant", "%c = const i64[] [9]", [9, 9, 1, 2, 3, 9, 9, 9]),
    ("reflect", "", [3, 2, 1, 2, 3, 2, 1, 2]),
    ("edge", "", [1, 1, 1, 2, 3, 3, 3, 3]),
    ("wrap", "", [2, 3, 1, 2, 3, 1, 2, 3]),
  ] as [(String, String, [Int64])])
  func foldPadModes(mode: String, value: String, expected: [Int64]) throws {
    let c = value.isEmpty ? "none" : "%c"
    let r = try OpTest.fold("""
      %x = const i64[3] [1, 2, 3]
      %p = const i64[2] [2, 3]
      \(value)
      %y = Pad(%x, %p, \(c)) {mode = "\(mode)"} : ?
      """)
    #expect(r[0].int64s == expected)
  }

  @Test func foldPadCropsThenPads() throws {
    let x = "%x = const i64[4] [1, 2, 3, 4]\n"
    #expect(try OpTest.fold(x + "%p = const i64[2] [-1, 2]\n%y = Pad(%x, %p) : ?")[0].int64s == [2, 3, 4, 0, 0])
    #expect(try OpTest.fold(x + "%p = const i64[2] [-1, 2]\n%y = Pad(%x, %p) {mode = \"reflect\"} : ?")[0].int64s == [2, 3, 4, 3, 2])
    let longReflect = try OpTest.fold("%x = const i64[2] [1, 2]\n%p = const i64[2] [5, 0]\n%y = Pad(%x, %p) {mode = \"reflect\"} : ?")
    #expect(longReflect[0].int64s == [2, 1, 2, 1, 2, 1, 2])
    let axes = try OpTest.fold("""
      %x = const i64[2,2] [1, 2, 3, 4]
      %p = const i64[2] [1, 1]
      %a = const i64[1] [-1]
      %y = Pad(%x, %p, none, %a) {mode = "edge"} : ?
      """)
    #expect(axes[0].shape == [2, 4] && axes[0].int64s == [1, 1, 2, 2, 3, 3, 4, 4])
  }
}

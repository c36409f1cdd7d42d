import Testing
@testable import SSMCIR

/// Shape, Size, Range, ConstantOfShape, NonZero; expected values from numpy.
struct ShapeOpTests {
  static let inputs = "%x: f32[B,3,4], %s: f32[2,3], %n: i64[]"

  @Test(arguments: [
    ("%y = Shape(%x) : ?", "i64[3]"),
    ("%y = Shape(%x) {start = -2} : ?", "i64[2]"),
    ("%y = Shape(%x) {start = 1, end = -1} : ?", "i64[1]"),
    ("%y = Shape(%x) {start = 7} : ?", "i64[0]"),
    ("%y = Shape(%x) {start = 2, end = 1} : ?", "i64[0]"),
    ("%y = Shape(%x) {start = -9, end = 9} : ?", "i64[3]"),
    ("%y = Size(%x) : ?", "i64[]"),
    ("%a = const i64[] [3]\n%b = const i64[] [9]\n%y = Range(%a, %b, %a) : ?", "i64[2]"),
    ("%y = ConstantOfShape(%c) : ?", "f32[2,3]"),
    ("%y = ConstantOfShape(%c) {value = dense<i64[1] [7]>} : ?", "i64[2,3]"),
    ("%e = const i64[0] []\n%y = ConstantOfShape(%e) : ?", "f32[]"),
  ])
  func shapes(body: String, expected: String) throws {
    #expect(try OpTest.types(Self.inputs, "%c = const i64[2] [2, 3]\n" + body) == [expected])
  }

  @Test(arguments: [
    ("%y = Range(%n, %n, %n) : ?", "compile-time constant"),
    ("%a = const i64[] [1]\n%z = const i64[] [0]\n%y = Range(%a, %a, %z) : ?", "delta is 0"),
    ("%a = const i64[] [1]\n%f = const f32[] [1.0]\n%y = Range(%a, %f, %a) : ?", "differ in element type"),
    ("%a = const i64[2] [1, 2]\n%y = Range(%a, %a, %a) : ?", "must be a scalar"),
    ("%y = ConstantOfShape(%n) : ?", "1-D i64"),
    ("%c = const i64[2] [2, -3]\n%y = ConstantOfShape(%c) : ?", "negative"),
    ("%c = const i64[1] [2]\n%y = ConstantOfShape(%c) {value = dense<f32[2] [1.0, 2.0]>} : ?", "one element"),
    ("%y = NonZero(%s) : ?", "must be a constant"),
  ])
  func rejects(body: String, message: String) throws {
    let e = try OpTest.error(Self.inputs, body)
    #expect(e?.description.contains(message) == true, "\(String(describing: e))")
  }

  /// Shape and Size fold from the operand's type, even though the operand is not a constant.
  @Test func shapeFoldsFromTypes() throws {
    #expect(OpRegistry.schema("Shape")!.foldsFromTypes && OpRegistry.schema("Size")!.foldsFromTypes)
    #expect(try OpTest.fold("%y = Shape(%x) {start = 1} : ?", inputs: Self.inputs)[0].int64s == [3, 4])
    #expect(try OpTest.fold("%y = Shape(%x) {start = -1, end = 9} : ?", inputs: Self.inputs)[0].int64s == [4])
    let size = try OpTest.fold("%y = Size(%s) : ?", inputs: Self.inputs)
    #expect(size[0].shape == [] && size[0].int64s == [6])
    #expect(throws: Diagnostic.self) { try OpTest.fold("%y = Shape(%x) : ?", inputs: Self.inputs) }
    #expect(throws: Diagnostic.self) { try OpTest.fold("%y = Size(%x) : ?", inputs: Self.inputs) }
  }

  @Test func foldRange() throws {
    func range(_ type: String, _ a: String, _ b: String, _ d: String) throws -> TensorData {
      try OpTest.fold("%a = const \(type)[] [\(a)]\n%b = const \(type)[] [\(b)]\n%d = const \(type)[] [\(d)]\n%y = Range(%a, %b, %d) : ?")[0]
    }
    #expect(try range("i64", "3", "9", "3").int64s == [3, 6])
    #expect(try range("i64", "10", "4", "-2").int64s == [10, 8, 6])
    #expect(try range("i64", "1", "1", "1").shape == [0])
    let f = try range("f32", "0.5", "2.0", "0.4").floats
    let expected: [Float] = [0.5, 0.8999999761581421, 1.2999999523162842, 1.6999999284744263]
    #expect(f.count == 4 && zip(f, expected).allSatisfy { abs($0 - $1) < 1e-6 })
  }

  @Test func foldConstantOfShapeAndNonZero() throws {
    let c = try OpTest.fold("%c = const i64[2] [2, 2]\n%y = ConstantOfShape(%c) {value = dense<i64[1] [-7]>} : ?")
    #expect(c[0].element == .i64 && c[0].int64s == [-7, -7, -7, -7])
    let zero = try OpTest.fold("%c = const i64[1] [3]\n%y = ConstantOfShape(%c) : ?")
    #expect(zero[0].element == .f32 && zero[0].floats == [0, 0, 0])
    let nz = try OpTest.fold("%x = const i64[2,3] [1, 0, 3, 0, 0, 7]\n%y = NonZero(%x) : ?")
    #expect(nz[0].shape == [2, 3] && nz[0].int64s == [0, 0, 1, 0, 2, 2])
  }

  /// An exporter's shape chain (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) verifies with stated types.
  @Test func shapeChainVerifies() throws {
    let g = try Parser.parseGraph("""
      graph @chain(%x: f32[B,197,384]) {
        %k = const i64[] [2]
        %z = const i64[1] [0]
        %m = const i64[1] [-1]
        %s = Shape(%x) : i64[3]
        %d = Gather(%s, %k) : i64[]
        %u = Unsqueeze(%d, %z) : i64[1]
        %c = Concat(%m, %u) {axis = 0} : i64[2]
        return %c
      }
      """)
    try Verifier().verify(g)
  }
}

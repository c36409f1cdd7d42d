import Testing
@testable import SSMCIR

/// Shape rules and folders of the reductions, ArgMax/ArgMin, CumSum and Softmax; expected values from numpy.
struct ReductionOpTests {
  @Test(arguments: [
    ("%a = const i64[1] [-1]\n%y = ReduceMean(%x, %a) : ?", "f32[2,B,1]"),
    ("%a = const i64[2] [0, 2]\n%y = ReduceSum(%x, %a) {keepdims = 0} : ?", "f32[B]"),
    ("%y = ReduceMax(%x) : ?", "f32[1,1,1]"),
    ("%y = ReduceMin(%x) {keepdims = 0} : ?", "f32[]"),
    ("%y = ReduceL2(%x) {noop_with_empty_axes = 1} : ?", "f32[2,B,4]"),
    ("%a = const i64[0] []\n%y = ReduceProd(%x, %a) {keepdims = 0} : ?", "f32[]"),
    ("%y = ArgMax(%x) {axis = -1, keepdims = 0} : ?", "i64[2,B]"),
    ("%y = ArgMin(%x) {axis = 1} : ?", "i64[2,1,4]"),
    ("%a = const i64[] [1]\n%y = CumSum(%x, %a) {exclusive = 1} : ?", "f32[2,B,4]"),
    ("%y = Softmax(%x) : ?", "f32[2,B,4]"),
    ("%y = LogSoftmax(%x) {axis = 0} : ?", "f32[2,B,4]"),
  ])
  func shapes(body: String, expected: String) throws {
    #expect(try OpTest.types("%x: f32[2,B,4]", body) == [expected])
  }

  @Test(arguments: [
    ("%a = const i64[2] [1, -2]\n%y = ReduceSum(%x, %a) : ?", "repeats axis"),
    ("%a = const i64[1] [3]\n%y = ReduceSum(%x, %a) : ?", "out of range"),
    ("%y = ReduceSum(%x, %n) : ?", "compile-time constant"),
    ("%y = ReduceSum(%x) {keepdims = 2} : ?", "must be 0 or 1"),
    ("%y = ArgMax(%x) {axis = 3} : ?", "out of range"),
    ("%a = const i64[] [-4]\n%y = CumSum(%x, %a) : ?", "out of range"),
    ("%y = CumSum(%x, %x) : ?", "scalar"),
    ("%y = Softmax(%x) {axis = -4} : ?", "out of range"),
    ("%y = Softmax(%n) : ?", "float input"),
  ])
  func rejects(body: String, message: String) throws {
    let e = try OpTest.error("%x: f32[2,B,4], %n: i64[1]", body)
    #expect(e?.description.contains(message) == true, "\(String(describing: e))")
  }

  static let x24 = "%x = const i64[2,3,4] [\((0..<24).map(String.init).joined(separator: ", "))]"

  @Test func foldSumOverMiddleAxis() throws {
    let r = try OpTest.fold("\(Self.x24)\n%a = const i64[1] [1]\n%y = ReduceSum(%x, %a) {keepdims = 0} : ?")
    #expect(r[0].shape == [2, 4])
    #expect(r[0].int64s == [12, 15, 18, 21, 48, 51, 54, 57])
  }

  @Test func foldProdOfAll() throws {
    let r = try OpTest.fold("%x = const i64[2,3] [1, 2, 3, 4, 5, 6]\n%y = ReduceProd(%x) : ?")
    #expect(r[0].shape == [1, 1] && r[0].int64s == [720])
  }

  @Test func foldMeanOverTwoAxes() throws {
    let values = (0..<24).map { String(Double($0) / 4) }.joined(separator: ", ")
    let r = try OpTest.fold("%x = const f32[2,3,4] [\(values)]\n%a = const i64[2] [0, -1]\n%y = ReduceMean(%x, %a) {keepdims = 0} : ?")
    #expect(r[0].floats == [1.875, 2.875, 3.875])
  }

  @Test func foldMaxMinL2LogSumExp() throws {
    let m = "%x = const f32[2,3] [1.0, 5.0, 2.0, 7.0, 0.0, 3.0]\n%a = const i64[1] [-1]\n"
    #expect(try OpTest.fold(m + "%y = ReduceMax(%x, %a) : ?")[0].floats == [5, 7])
    #expect(try OpTest.fold(m + "%y = ReduceMin(%x, %a) {keepdims = 0} : ?")[0].floats == [1, 0])
    let l2 = try OpTest.fold("%x = const f32[2,2] [3.0, 4.0, 6.0, 8.0]\n%a = const i64[1] [1]\n%y = ReduceL2(%x, %a) : ?")
    #expect(l2[0].floats == [5, 10] && l2[0].shape == [2, 1])
    let lse = try OpTest.fold("%x = const f64[3] [0.0, 1.0, 2.0]\n%y = ReduceLogSumExp(%x) {keepdims = 0} : ?")
    #expect(abs(lse[0].doubles[0] - 2.40760596444438) < 1e-12)
  }

  /// With no axes and noop_with_empty_axes, composite reductions still apply their elementwise step.
  @Test func foldNoopKeepsElementwiseStep() throws {
    let x = "%x = const f32[3] [1.0, -2.0, 3.0]\n"
    #expect(try OpTest.fold(x + "%y = ReduceSumSquare(%x) {noop_with_empty_axes = 1} : ?")[0].floats == [1, 4, 9])
    #expect(try OpTest.fold(x + "%y = ReduceMin(%x) {noop_with_empty_axes = 1} : ?")[0].floats == [1, -2, 3])
  }

  @Test func foldArgMaxArgMin() throws {
    let a = "%x = const i64[2,4] [1, 3, 3, 0, 2, 2, -1, -1]\n"
    #expect(try OpTest.fold(a + "%y = ArgMax(%x) {axis = 1, keepdims = 0} : ?")[0].int64s == [1, 0])
    #expect(try OpTest.fold(a + "%y = ArgMax(%x) {axis = 1, keepdims = 0, select_last_index = 1} : ?")[0].int64s == [2, 1])
    let r = try OpTest.fold(a + "%y = ArgMin(%x) {select_last_index = 1} : ?")
    #expect(r[0].shape == [1, 4] && r[0].int64s == [0, 1, 1, 1])
  }

  @Test func foldCumSum() throws {
    let c = "%x = const i64[2,3] [1, 2, 3, 4, 5, 6]\n"
    let rev = try OpTest.fold(c + "%a = const i32[] [-1]\n%y = CumSum(%x, %a) {exclusive = 1, reverse = 1} : ?")
    #expect(rev[0].int64s == [5, 3, 0, 11, 6, 0])
    let plain = try OpTest.fold(c + "%a = const i64[1] [0]\n%y = CumSum(%x, %a) : ?")
    #expect(plain[0].int64s == [1, 2, 3, 5, 7, 9])
  }
}

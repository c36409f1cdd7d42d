import SSMCFrontend
import Testing

@testable import SSMCTensorIO

func floats(_ values: [Float], dims: [Int64]? = nil) -> ONNXTensor {
  ONNXTensor(
    name: "", elementType: ONNXElementType.float, dims: dims ?? [Int64(values.count)],
    data: values.withUnsafeBytes { Array($0) })
}

func doubles(_ values: [Double]) -> ONNXTensor {
  ONNXTensor(name: "", elementType: ONNXElementType.double, dims: [Int64(values.count)], data: values.withUnsafeBytes { Array($0) })
}

func int64s(_ values: [Int64]) -> ONNXTensor {
  ONNXTensor(name: "", elementType: ONNXElementType.int64, dims: [Int64(values.count)], data: values.withUnsafeBytes { Array($0) })
}

@Suite struct TensorComparisonTests {
  @Test func identicalTensorsPass() {
    let c = TensorComparison(actual: floats([1, -2, 0]), expected: floats([1, -2, 0]))
    #expect(c.passed && c.mismatches == 0 && c.maxAbsError == 0 && c.worstIndex == nil)
    #expect(c.maxAbsExpected == 2 && c.elementCount == 3 && c.problem == nil)
  }

  /// The rule is |a - e| <= atol + rtol * |e|: exactly at the bound passes, just beyond fails.
  /// Doubles make the bound exact (1 + 1e-3 * 1000 = 2, and 2 + 1e-12 > 2).
  @Test func toleranceEdges() {
    let tolerance = Tolerance(rtol: 1e-3, atol: 1)
    #expect(TensorComparison(actual: doubles([1002]), expected: doubles([1000]), tolerance: tolerance).passed)
    #expect(TensorComparison(actual: doubles([998]), expected: doubles([1000]), tolerance: tolerance).passed)
    let beyond = TensorComparison(actual: doubles([1002.000001]), expected: doubles([1000]), tolerance: tolerance)
    #expect(!beyond.passed && beyond.mismatches == 1)
    // The bound scales with |expected|, not |actual|.
    #expect(!TensorComparison(actual: doubles([-2]), expected: doubles([0]), tolerance: Tolerance(rtol: 1, atol: 1)).passed)
    #expect(TensorComparison(actual: doubles([0]), expected: doubles([-2]), tolerance: Tolerance(rtol: 0.5, atol: 1)).passed)
  }

  @Test func defaultToleranceIsOnnxRunners() {
    #expect(Tolerance() == Tolerance(rtol: 1e-3, atol: 1e-7, relativeToMax: nil))
    // 1e-7 absolute allowance near zero, 1e-3 relative elsewhere.
    #expect(TensorComparison(actual: floats([5e-8, 100.09]), expected: floats([0, 100])).passed)
    #expect(!TensorComparison(actual: floats([2e-7, 100]), expected: floats([0, 100])).passed)
    #expect(!TensorComparison(actual: floats([0, 100.2]), expected: floats([0, 100])).passed)
  }

  @Test func statisticsAndWorstIndex() {
    let expected = floats([1, 2, 3, 4, 0, 8], dims: [2, 3])
    let actual = floats([1, 2.5, 3, 4, 0.25, 8], dims: [2, 3])
    let c = TensorComparison(actual: actual, expected: expected)
    #expect(c.maxAbsError == 0.5)
    #expect(c.maxRelError == 0.25)  // 0.5 / 2; the element with expected 0 is skipped
    #expect(c.maxAbsExpected == 8 && c.relativeToMax == 0.0625)
    #expect(c.mismatches == 2 && c.worstIndex == [0, 1] && !c.passed)
    #expect(c.shape == [2, 3] && c.elementType == ONNXElementType.float)
  }

  /// A mismatch outranks a larger error that is within tolerance.
  @Test func worstIndexPrefersMismatches() {
    let c = TensorComparison(actual: doubles([1001, 0.01]), expected: doubles([1000, 0]), tolerance: Tolerance(rtol: 1e-2, atol: 0))
    #expect(c.mismatches == 1 && c.worstIndex == [1] && c.maxAbsError == 1)
  }

  @Test func nanMatchesNanOnly() {
    #expect(TensorComparison(actual: floats([.nan, 1]), expected: floats([.nan, 1])).passed)
    let actualNaN = TensorComparison(actual: floats([.nan, 1]), expected: floats([0, 1]))
    #expect(!actualNaN.passed && actualNaN.mismatches == 1 && actualNaN.maxAbsError == .infinity && actualNaN.worstIndex == [0])
    let expectedNaN = TensorComparison(actual: floats([0]), expected: floats([.nan]))
    #expect(!expectedNaN.passed && expectedNaN.maxAbsError == .infinity)
    // Even a loose max-relative criterion fails on a NaN mismatch.
    #expect(!TensorComparison(actual: floats([.nan, 1]), expected: floats([0, 1]), tolerance: Tolerance(relativeToMax: 10)).passed)
  }

  @Test func infinitiesMatchOnlyThemselves() {
    #expect(TensorComparison(actual: floats([.infinity, -.infinity]), expected: floats([.infinity, -.infinity])).passed)
    #expect(!TensorComparison(actual: floats([-.infinity]), expected: floats([.infinity])).passed)
    #expect(!TensorComparison(actual: floats([Float.greatestFiniteMagnitude]), expected: floats([.infinity]), tolerance: Tolerance(rtol: 1, atol: 1)).passed)
    #expect(!TensorComparison(actual: floats([.infinity]), expected: floats([1]), tolerance: Tolerance(rtol: 1, atol: 1)).passed)
    // Infinite expected values do not count toward the max magnitude.
    #expect(TensorComparison(actual: floats([.infinity, 2]), expected: floats([.infinity, 2])).maxAbsExpected == 2)
  }

  @Test func integersMustBeEqual() {
    #expect(TensorComparison(actual: int64s([1, -5]), expected: int64s([1, -5])).passed)
    let off = TensorComparison(actual: int64s([1, -4]), expected: int64s([1, -5]), tolerance: Tolerance(rtol: 1, atol: 10, relativeToMax: 1))
    #expect(!off.passed && off.mismatches == 1 && off.maxAbsError == 1)
    // Beyond 2^53 float64 cannot tell these apart; the comparison must.
    let big = TensorComparison(actual: int64s([1 << 60]), expected: int64s([(1 << 60) + 1]))
    #expect(!big.passed && big.mismatches == 1)
    let bools = TensorComparison(
      actual: ONNXTensor(name: "", elementType: ONNXElementType.bool, dims: [2], data: [1, 0]),
      expected: ONNXTensor(name: "", elementType: ONNXElementType.bool, dims: [2], data: [1, 1]))
    #expect(!bools.passed && bools.worstIndex == [1])
  }

  @Test func shapeAndTypeMismatchesFail() {
    let shape = TensorComparison(actual: floats([1, 2], dims: [1, 2]), expected: floats([1, 2], dims: [2, 1]))
    #expect(!shape.passed && shape.problem?.contains("shape") == true)
    let type = TensorComparison(actual: doubles([1]), expected: floats([1]))
    #expect(!type.passed && type.problem?.contains("float64") == true)
    let unsupported = ONNXTensor(name: "", elementType: ONNXElementType.float16, dims: [1], data: [0, 0])
    #expect(!TensorComparison(actual: unsupported, expected: unsupported).passed)
  }

  /// --rel-to-max R: pass when max-abs <= R * max|expected|, whatever the elementwise rule says.
  @Test func relativeToMaxCriterion() {
    let expected = floats([1000, 0.001])
    let actual = floats([1000, 0.05])  // far off elementwise, tiny against the max magnitude
    #expect(!TensorComparison(actual: actual, expected: expected).passed)
    let loose = TensorComparison(actual: actual, expected: expected, tolerance: Tolerance(relativeToMax: 1e-4))
    #expect(loose.passed && loose.mismatches == 1)
    #expect(!TensorComparison(actual: actual, expected: expected, tolerance: Tolerance(relativeToMax: 4e-5)).passed)
    // All-zero expected output: only an exact match passes.
    #expect(TensorComparison(actual: floats([0, 0]), expected: floats([0, 0]), tolerance: Tolerance(relativeToMax: 1e-4)).passed)
    #expect(!TensorComparison(actual: floats([0, 1e-30]), expected: floats([0, 0]), tolerance: Tolerance(relativeToMax: 1e-4)).passed)
  }

  @Test func emptyTensorsPass() {
    let c = TensorComparison(actual: floats([], dims: [0, 3]), expected: floats([], dims: [0, 3]))
    #expect(c.passed && c.elementCount == 0 && c.worstIndex == nil)
  }
}

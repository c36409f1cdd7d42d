import Foundation
import Testing

@testable import SSMCPasses

/// The Float64 S4ND kernel math of expand-s4nd against the Python reference (numpy/LAPACK eigen-solver):
/// Inputs/s4nd-kernels.json is written by tools/make_s4nd_kernel_fixture.py.
struct S4NDKernelTests {
  struct Case: Decodable {
    var name: String
    var l_kernel: Int
    var length: Int
    var log_dt: [Double]
    var A_real: [Double]
    var A_imag: [Double]
    var B: [Double]
    var P: [Double]
    var C: [Double]
    var C_shape: [Int]
    var kernel: [Double]
    var kernel_shape: [Int]

    var parameters: S4NDAxisParameters {
      func complex(_ v: [Double]) -> [Complex] { stride(from: 0, to: v.count, by: 2).map { Complex(v[$0], v[$0 + 1]) } }
      let c = complex(C)
      let (channels, pairs) = (C_shape[1], C_shape[2])
      return S4NDAxisParameters(
        logDt: log_dt, aReal: A_real, aImag: A_imag, b: complex(B), p: complex(P),
        c: (0..<C_shape[0]).map { k in (0..<channels).map { h in Array(c[(k * channels + h) * pairs..<(k * channels + h + 1) * pairs]) } },
        lKernel: l_kernel)
    }
  }
  struct Fixture: Decodable { var cases: [Case] }

  static let cases: [Case] = {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Inputs/s4nd-kernels.json")
    guard let data = try? Data(contentsOf: url), let fixture = try? JSONDecoder().decode(Fixture.self, from: data) else { return [] }
    return fixture.cases
  }()

  @Test func fixtureIsFound() {
    #expect(Self.cases.count >= 6, "Inputs/s4nd-kernels.json is missing or unreadable")
  }

  @Test(arguments: cases.indices)
  func kernelMatchesPythonReference(index: Int) throws {
    let item = Self.cases[index]
    let kernel = try S4NDKernel.axisKernel(item.parameters, length: item.length)
    #expect([kernel.count, kernel.first?.count ?? 0, kernel.first?.first?.count ?? 0] == item.kernel_shape)
    let flat = kernel.flatMap { $0.flatMap { $0 } }
    let scale = item.kernel.map(abs).max() ?? 1
    let error = zip(flat, item.kernel).map { abs($0 - $1) }.max() ?? .infinity
    // Two eigen-solvers agree to a few thousand ulps of the largest tap; float32 storage would be 6e-8.
    #expect(flat.count == item.kernel.count && error <= 1e-10 * scale, "\(item.name): max error \(error) (max |K| \(scale))")
  }

  /// The decomposition itself: A·v = μ·v for every pair, on a non-normal diagonal-plus-rank-1 matrix.
  @Test func eigenPairsSatisfyTheirEquation() throws {
    let n = 12
    var a = ComplexMatrix(n: n)
    let p = (0..<n).map { Complex(sin(Double($0) * 1.3), cos(Double($0) * 0.7)) }
    for i in 0..<n {
      for j in 0..<n { a[i, j] = -(p[i] * p[j].conjugate) }
      a[i, i] += Complex(-0.1 * Double(i + 1), Double(i % 4) - 1.5)
    }
    let eigen = try ComplexEigen(a)
    for k in 0..<n {
      var residual = 0.0
      for i in 0..<n {
        var s = Complex.zero
        for j in 0..<n { s += a[i, j] * eigen.vectors[j, k] }
        residual = max(residual, (s - eigen.values[k] * eigen.vectors[i, k]).magnitude)
      }
      #expect(residual < 1e-12, "eigenpair \(k): residual \(residual)")
    }
    // A Jordan-like block (repeated eigenvalue) must not divide by zero.
    var jordan = ComplexMatrix(n: 3)
    for i in 0..<3 { jordan[i, i] = Complex(-1, 2) }
    jordan[0, 1] = .one
    let repeated = try ComplexEigen(jordan)
    #expect(repeated.values.allSatisfy { ($0 - Complex(-1, 2)).magnitude < 1e-12 })
    #expect(repeated.vectors.storage.allSatisfy { $0.isFinite })
  }

  @Test func linearSolveMatchesProduct() throws {
    var m = ComplexMatrix(n: 4)
    for i in 0..<4 { for j in 0..<4 { m[i, j] = Complex(Double((i * 7 + j * 3) % 5) - 2, Double(i == j ? 4 : j - i)) } }
    let x = (0..<4).map { Complex(Double($0) + 0.5, -Double($0)) }
    let b = (0..<4).map { i in (0..<4).reduce(Complex.zero) { $0 + m[i, $1] * x[$1] } }
    let solved = try m.solve(b)
    #expect(zip(solved, x).allSatisfy { ($0 - $1).magnitude < 1e-12 })
    #expect(throws: LinearAlgebraError.self) { _ = try ComplexMatrix(n: 2).solve([.one, .one]) }
  }
}

import Foundation

/// A complex number in double precision, for the compile-time S4ND kernel math (Swift's standard library
/// has none, and the kernels are computed in Float64 to stay clear of the float32 errors of the official code).
struct Complex: Sendable, Hashable, CustomStringConvertible {
  var re: Double
  var im: Double

  init(_ re: Double, _ im: Double = 0) {
    self.re = re
    self.im = im
  }

  static let zero = Complex(0)
  static let one = Complex(1)

  var conjugate: Complex { Complex(re, -im) }
  /// |z|, computed without overflow for large components.
  var magnitude: Double { hypot(re, im) }
  /// |z|², cheaper where only comparisons are needed.
  var squaredMagnitude: Double { re * re + im * im }
  /// |re| + |im|: LAPACK's cheap norm for negligibility tests.
  var norm1: Double { abs(re) + abs(im) }
  var isFinite: Bool { re.isFinite && im.isFinite }
  var description: String { "(\(re)\(im < 0 ? "-" : "+")\(abs(im))i)" }

  static func + (a: Complex, b: Complex) -> Complex { Complex(a.re + b.re, a.im + b.im) }
  static func - (a: Complex, b: Complex) -> Complex { Complex(a.re - b.re, a.im - b.im) }
  static prefix func - (a: Complex) -> Complex { Complex(-a.re, -a.im) }
  static func * (a: Complex, b: Complex) -> Complex { Complex(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re) }
  static func * (a: Double, b: Complex) -> Complex { Complex(a * b.re, a * b.im) }
  static func * (a: Complex, b: Double) -> Complex { Complex(a.re * b, a.im * b) }
  static func / (a: Complex, b: Double) -> Complex { Complex(a.re / b, a.im / b) }
  /// Smith's algorithm: scales by the larger component of the divisor so no intermediate overflows.
  static func / (a: Complex, b: Complex) -> Complex {
    if abs(b.re) >= abs(b.im) {
      let r = b.im / b.re
      let d = b.re + b.im * r
      return Complex((a.re + a.im * r) / d, (a.im - a.re * r) / d)
    } else {
      let r = b.re / b.im
      let d = b.re * r + b.im
      return Complex((a.re * r + a.im) / d, (a.im * r - a.re) / d)
    }
  }
  static func += (a: inout Complex, b: Complex) { a = a + b }
  static func -= (a: inout Complex, b: Complex) { a = a - b }
  static func *= (a: inout Complex, b: Complex) { a = a * b }

  /// The principal square root (branch cut on the negative real axis).
  var squareRoot: Complex {
    if re == 0 && im == 0 { return .zero }
    let m = magnitude
    // Take the root of the larger component's side first to avoid cancellation.
    if re >= 0 {
      let t = ((m + re) / 2).squareRoot()
      return Complex(t, im / (2 * t))
    } else {
      let t = ((m - re) / 2).squareRoot()
      return Complex(abs(im) / (2 * t), im < 0 ? -t : t)
    }
  }

  /// z^k for k >= 0 by repeated squaring (log2 k multiplications keep the rounding error small).
  func power(_ k: Int) -> Complex {
    var result = Complex.one
    var base = self
    var e = k
    while e > 0 {
      if e & 1 == 1 { result *= base }
      base *= base
      e >>= 1
    }
    return result
  }
}

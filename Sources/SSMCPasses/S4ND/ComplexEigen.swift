import Foundation

/// A dense square complex matrix, row-major.
struct ComplexMatrix: Sendable {
  let n: Int
  var storage: [Complex]

  init(n: Int) {
    self.n = n
    storage = Array(repeating: .zero, count: n * n)
  }

  subscript(_ i: Int, _ j: Int) -> Complex {
    get { storage[i * n + j] }
    set { storage[i * n + j] = newValue }
  }

  static func identity(_ n: Int) -> ComplexMatrix {
    var m = ComplexMatrix(n: n)
    for i in 0..<n { m[i, i] = .one }
    return m
  }
}

/// Why a dense complex linear-algebra routine gave up.
struct LinearAlgebraError: Error, Sendable {
  var message: String
}

/// Eigen-decomposition A = V diag(values) V⁻¹ of a general complex matrix, the way LAPACK's zgeev does it
/// in outline: Householder reduction to Hessenberg form, single-shift complex QR iterations (Wilkinson
/// shifts, exceptional shifts when stuck) to the Schur form T = Qᴴ A Q, then the eigenvectors of T by
/// back substitution, mapped back through Q. Fine for the 64×64 S4ND state matrices; no balancing.
struct ComplexEigen: Sendable {
  var values: [Complex]
  /// Right eigenvectors as columns (each scaled to unit 2-norm).
  var vectors: ComplexMatrix

  init(_ a: ComplexMatrix) throws(LinearAlgebraError) {
    let n = a.n
    guard a.storage.allSatisfy(\.isFinite) else { throw LinearAlgebraError(message: "matrix has non-finite entries") }
    var h = a
    var q = ComplexMatrix.identity(n)
    Self.reduceToHessenberg(&h, &q)
    try Self.schur(&h, &q)
    values = (0..<n).map { h[$0, $0] }
    vectors = Self.eigenvectors(schur: h, q: q)
  }

  /// H ← Pᴴ H P with Householder reflectors zeroing below the subdiagonal; Q accumulates P.
  /// (Loops run on raw buffers: this and `rotate` are most of the work, and debug builds are slow otherwise.)
  private static func reduceToHessenberg(_ h: inout ComplexMatrix, _ q: inout ComplexMatrix) {
    let n = h.n
    guard n > 2 else { return }
    var v = [Complex](repeating: .zero, count: n)
    for k in 0..<(n - 2) {
      let count = n - k - 1
      for t in 0..<count { v[t] = h[k + 1 + t, k] }
      var norm2 = 0.0
      for t in 0..<count { norm2 += v[t].squaredMagnitude }
      if norm2 == 0 { continue }
      // alpha = -e^{i arg x0}·‖x‖ avoids cancellation in v0 = x0 − alpha.
      let phase = v[0].magnitude == 0 ? Complex.one : v[0] / v[0].magnitude
      v[0] += phase * norm2.squareRoot()
      var vNorm2 = 0.0
      for t in 0..<count { vNorm2 += v[t].squaredMagnitude }
      if vNorm2 == 0 { continue }
      let f = 2 / vNorm2
      v.withUnsafeBufferPointer { v in
        // H ← (I − f·vvᴴ) H on rows k+1..n−1.
        h.storage.withUnsafeMutableBufferPointer { a in
          for j in 0..<n {
            var s = Complex.zero
            for t in 0..<count { s += v[t].conjugate * a[(k + 1 + t) * n + j] }
            s = s * f
            for t in 0..<count { a[(k + 1 + t) * n + j] -= v[t] * s }
          }
        }
        // M ← M (I − f·vvᴴ) on columns k+1..n−1, for M = H and M = Q.
        for m in 0..<2 {
          func apply(_ a: UnsafeMutableBufferPointer<Complex>) {
            for i in 0..<n {
              let row = i * n + k + 1
              var s = Complex.zero
              for t in 0..<count { s += a[row + t] * v[t] }
              s = s * f
              for t in 0..<count { a[row + t] -= s * v[t].conjugate }
            }
          }
          if m == 0 { h.storage.withUnsafeMutableBufferPointer { apply($0) } } else { q.storage.withUnsafeMutableBufferPointer { apply($0) } }
        }
      }
      for i in (k + 2)..<n { h[i, k] = .zero }
    }
  }

  /// A unitary rotation G = [[c, s], [−s̄, c]] (c real) with G·(x, y)ᵀ = (r, 0)ᵀ.
  private static func givens(_ x: Complex, _ y: Complex) -> (c: Double, s: Complex) {
    if y.norm1 == 0 { return (1, .zero) }
    if x.norm1 == 0 { return (0, y.conjugate / y.magnitude) }
    let ax = x.magnitude
    let norm = hypot(ax, y.magnitude)
    return (ax / norm, (x / ax) * y.conjugate / norm)
  }

  /// Applies G to rows i, i+1 (columns from `from`), Gᴴ to columns i, i+1 (rows up to `through`) and to Q.
  private static func rotate(_ h: inout ComplexMatrix, _ q: inout ComplexMatrix, _ i: Int, _ g: (c: Double, s: Complex), from: Int, through: Int) {
    let (c, s) = g
    let sBar = s.conjugate
    let n = h.n
    h.storage.withUnsafeMutableBufferPointer { a in
      for j in from..<n {
        let (x, y) = (a[i * n + j], a[(i + 1) * n + j])
        a[i * n + j] = c * x + s * y
        a[(i + 1) * n + j] = c * y - sBar * x
      }
      for r in 0...through {
        let (x, y) = (a[r * n + i], a[r * n + i + 1])
        a[r * n + i] = c * x + y * sBar
        a[r * n + i + 1] = c * y - x * s
      }
    }
    q.storage.withUnsafeMutableBufferPointer { a in
      for r in 0..<n {
        let (x, y) = (a[r * n + i], a[r * n + i + 1])
        a[r * n + i] = c * x + y * sBar
        a[r * n + i + 1] = c * y - x * s
      }
    }
  }

  /// Drives the Hessenberg H to upper-triangular Schur form (applying every rotation to the full matrix so T
  /// is complete for the eigenvectors).
  private static func schur(_ h: inout ComplexMatrix, _ q: inout ComplexMatrix) throws(LinearAlgebraError) {
    let n = h.n
    let eps = Double.ulpOfOne
    var hi = n - 1
    var iterations = 0
    var total = 0
    while hi > 0 {
      // The active block is lo...hi: the last negligible subdiagonal entry splits it off.
      var lo = hi
      while lo > 0 {
        let scale = h[lo - 1, lo - 1].norm1 + h[lo, lo].norm1
        if h[lo, lo - 1].norm1 <= eps * (scale == 0 ? 1 : scale) {
          h[lo, lo - 1] = .zero
          break
        }
        lo -= 1
      }
      if lo == hi {
        hi -= 1
        iterations = 0
        continue
      }
      iterations += 1
      total += 1
      guard total <= 60 * n else { throw LinearAlgebraError(message: "QR iteration did not converge") }
      // Wilkinson shift: the eigenvalue of the trailing 2×2 block nearer to its last diagonal entry;
      // every 10th try an exceptional shift breaks cycles.
      let (a, b, c, d) = (h[hi - 1, hi - 1], h[hi - 1, hi], h[hi, hi - 1], h[hi, hi])
      var shift: Complex
      if iterations % 10 == 0 {
        shift = d + Complex(0.75 * h[hi, hi - 1].magnitude, 0)
      } else {
        let half = (a - d) * 0.5
        let root = (half * half + b * c).squareRoot
        let (m1, m2) = (d + half + root, d + half - root)
        shift = (m1 - d).norm1 < (m2 - d).norm1 ? m1 : m2
      }
      // Implicit single-shift QR sweep: the first rotation is fixed by the shifted first column, the rest
      // chase the bulge down the subdiagonal.
      var g = givens(h[lo, lo] - shift, h[lo + 1, lo])
      rotate(&h, &q, lo, g, from: lo, through: min(lo + 2, hi))
      for k in (lo + 1)..<hi {
        g = givens(h[k, k - 1], h[k + 1, k - 1])
        rotate(&h, &q, k, g, from: k - 1, through: min(k + 2, hi))
        h[k + 1, k - 1] = .zero
      }
    }
  }

  /// Eigenvectors of the triangular T by back substitution, V = Q·Y, columns normalized.
  private static func eigenvectors(schur t: ComplexMatrix, q: ComplexMatrix) -> ComplexMatrix {
    let n = t.n
    let tNorm = t.storage.reduce(0.0) { max($0, $1.norm1) }
    // A tiny floor on the pivots (as LAPACK's ztrevc) keeps repeated eigenvalues from dividing by zero.
    let floor = max(Double.ulpOfOne * tNorm, Double.leastNormalMagnitude)
    var v = ComplexMatrix(n: n)
    for k in 0..<n {
      var y = Array(repeating: Complex.zero, count: k + 1)
      y[k] = .one
      for i in stride(from: k - 1, through: 0, by: -1) {
        var s = Complex.zero
        for j in (i + 1)...k { s += t[i, j] * y[j] }
        var pivot = t[i, i] - t[k, k]
        if pivot.norm1 < floor { pivot = Complex(floor) }
        y[i] = -(s / pivot)
      }
      var column = [Complex](repeating: .zero, count: n)
      q.storage.withUnsafeBufferPointer { qs in
        for r in 0..<n {
          var sum = Complex.zero
          for j in 0...k { sum += qs[r * n + j] * y[j] }
          column[r] = sum
        }
      }
      let norm = column.reduce(0.0) { $0 + $1.squaredMagnitude }.squareRoot()
      if norm > 0 { column = column.map { $0 / norm } }
      for r in 0..<n { v[r, k] = column[r] }
    }
    return v
  }
}

extension ComplexMatrix {
  /// Solves self·x = b by LU with partial pivoting.
  func solve(_ b: [Complex]) throws(LinearAlgebraError) -> [Complex] {
    var a = self
    var x = b
    for k in 0..<n {
      var pivot = k
      for i in (k + 1)..<n where a[i, k].magnitude > a[pivot, k].magnitude { pivot = i }
      guard a[pivot, k].magnitude > 0 else { throw LinearAlgebraError(message: "matrix is singular") }
      if pivot != k {
        for j in 0..<n { (a[k, j], a[pivot, j]) = (a[pivot, j], a[k, j]) }
        x.swapAt(k, pivot)
      }
      for i in (k + 1)..<n {
        let f = a[i, k] / a[k, k]
        if f.norm1 == 0 { continue }
        for j in k..<n { a[i, j] -= f * a[k, j] }
        x[i] -= f * x[k]
      }
    }
    for k in stride(from: n - 1, through: 0, by: -1) {
      var s = x[k]
      for j in (k + 1)..<n { s -= a[k, j] * x[j] }
      x[k] = s / a[k, k]
    }
    return x
  }
}

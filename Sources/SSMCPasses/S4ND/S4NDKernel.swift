import Foundation

/// The raw SSM parameters of one S4ND axis kernel (docs/ops/S4ND2D.md), widened to Float64.
/// Complex tensors are stored as (re, im) pairs in their last axis, as in the ONNX operands.
struct S4NDAxisParameters: Sendable {
  /// log Δ per channel (H).
  var logDt: [Double]
  /// A_real and A_imag (N' each): λ_n = −exp(A_real_n) − i·A_imag_n.
  var aReal: [Double]
  var aImag: [Double]
  /// B and P (N' complex each).
  var b: [Complex]
  var p: [Complex]
  /// C̃ as [kernel channel][H][N'].
  var c: [[[Complex]]]
  /// The length C̃ is attuned to (0: C is the plain C).
  var lKernel: Int

  var channels: Int { logDt.count }
  var pairs: Int { aReal.count }
}

/// One axis kernel of S4ND computed in Float64 with the eigen-diagonal form (s4nd.md §4, docs/ops/S4ND2D.md):
/// A = diag(w) − p pᴴ over the 2N' conjugate-extended modes is factored once as V diag(μ) V⁻¹; per channel,
/// μ̄ = (1 + Δμ/2)/(1 − Δμ/2), b̄ = Δ·V⁻¹b/(1 − Δμ/2), c = c̃ᵀV/(1 − μ̄^l_kernel) and
/// K[j] = Re Σ_n c_n b̄_n μ̄_n^j. Unlike the official Cauchy form at the roots of unity, nothing here divides
/// by 1 + ω, so the Nyquist node of even lengths cannot blow up.
enum S4NDKernel {
  /// The raw kernel as [kernel channel][H][j] for j < `length`.
  static func axisKernel(_ p: S4NDAxisParameters, length: Int) throws(LinearAlgebraError) -> [[[Double]]] {
    let half = p.pairs
    let modes = 2 * half
    let lambda = (0..<half).map { Complex(-exp(p.aReal[$0]), -p.aImag[$0]) }
    let w = lambda + lambda.map(\.conjugate)
    let pe = p.p + p.p.map(\.conjugate)
    let be = p.b + p.b.map(\.conjugate)
    var a = ComplexMatrix(n: modes)
    for i in 0..<modes {
      for j in 0..<modes { a[i, j] = -(pe[i] * pe[j].conjugate) }
      a[i, i] += w[i]
    }
    let eigen = try ComplexEigen(a)
    let mu = eigen.values
    let v = eigen.vectors
    let vInvB = try v.solve(be)
    // V split into real and imaginary row-major planes: the c̃ᵀV products below are the bulk of the work
    // (a 2N'×2N' product per kernel channel and channel), so they run on flat buffers.
    let vRe = v.storage.map(\.re)
    let vIm = v.storage.map(\.im)
    var kernel = [[[Double]]](repeating: [], count: p.c.count)
    var cvRe = [Double](repeating: 0, count: modes)
    var cvIm = [Double](repeating: 0, count: modes)
    for h in 0..<p.channels {
      // Discretization of channel h, shared by its kernel channels.
      let dt = exp(p.logDt[h])
      var muBar = [Complex](repeating: .zero, count: modes)
      var scale = [Complex](repeating: .zero, count: modes)
      for n in 0..<modes {
        let halfStep = mu[n] * (dt / 2)
        let denominator = Complex.one - halfStep
        muBar[n] = (Complex.one + halfStep) / denominator
        // b̄_n, divided by (1 − μ̄_n^l_kernel) when C holds C̃.
        scale[n] = vInvB[n] * dt / denominator
        if p.lKernel > 0 { scale[n] = scale[n] / (Complex.one - muBar[n].power(p.lKernel)) }
      }
      for (k, cTilde) in p.c.enumerated() {
        // c̃ᵀV with c̃ = (C̃, conj C̃).
        let row = cTilde[h]
        vRe.withUnsafeBufferPointer { vr in
          vIm.withUnsafeBufferPointer { vi in
            cvRe.withUnsafeMutableBufferPointer { outRe in
              cvIm.withUnsafeMutableBufferPointer { outIm in
                for n in 0..<modes {
                  outRe[n] = 0
                  outIm[n] = 0
                }
                for m in 0..<modes {
                  let c = m < half ? row[m] : row[m - half].conjugate
                  let base = m * modes
                  for n in 0..<modes {
                    outRe[n] += c.re * vr[base + n] - c.im * vi[base + n]
                    outIm[n] += c.re * vi[base + n] + c.im * vr[base + n]
                  }
                }
              }
            }
          }
        }
        // K[j] = Re Σ_n weight_n μ̄_n^j, the powers advanced by one multiplication per tap.
        var weight = (0..<modes).map { Complex(cvRe[$0], cvIm[$0]) * scale[$0] }
        var taps = [Double](repeating: 0, count: length)
        for j in 0..<length {
          var sum = 0.0
          for n in 0..<modes {
            sum += weight[n].re
            weight[n] *= muBar[n]
          }
          taps[j] = sum
        }
        guard taps.allSatisfy(\.isFinite) else {
          throw LinearAlgebraError(message: "kernel of channel \(h) is not finite (a discretized mode has 1 − Δμ/2 = 0 or |μ̄| = 1 with l_kernel > 0)")
        }
        kernel[k].append(taps)
      }
    }
    return kernel
  }

  /// Cross-correlation taps of the bidirectional kernel, [half][H][2·Lk] = [reverse(k⁺), k⁻]: tap t weighs
  /// x[i − (Lk − 1) + t], so the forward half covers offsets Lk−1 … 0 and the backward half −1 … −Lk
  /// (pads Lk − 1 before, Lk after). `raw` is [2·half][H][Lk], forward half first.
  static func bidirectionalTaps(_ raw: [[[Double]]]) -> [[[Double]]] {
    let half = raw.count / 2
    return (0..<half).map { o in
      zip(raw[o], raw[half + o]).map { forward, backward in forward.reversed() + backward }
    }
  }
}

import CLLVM

// Branch-free fp32 elementary functions in plain LLVM IR, for `float` or `<N x float>` values.
//
// libm calls would stop the loop vectorizer, so each function is range reduction plus a polynomial
// (coefficients fitted by tools/fit-math-coefficients.py), with special values fixed up by selects.
// Only `llvm.fmuladd`, min/max, fabs and copysign are used: they never become library calls, and
// fmuladd fuses where the target has FMA. Rounding uses the 1.5 * 2^23 trick instead of `llvm.rint`,
// which is a libm call on x86-64 without SSE4.1. Accuracy (tested against float64 libm):
// exp, log <= 1.5 ulp; tanh, erf, sigmoid, log1p <= 2.5 ulp; softplus <= 3 ulp;
// pow <= 1.5 ulp + |y log2 x| ulp (log|x|'s error scaled by y; the product's rounding is corrected).

extension KernelBuilder {
  /// `c[0] + t*(c[1] + t*(...))` (Horner's rule).
  func polynomial(_ t: IRValue, _ c: [Float]) -> IRValue {
    var result = constant(Double(c[c.count - 1]), t.type)
    for coefficient in c.dropLast().reversed() {
      result = mulAdd(result, t, constant(Double(coefficient), t.type))
    }
    return result
  }

  private func floatConstant(_ value: Float, _ like: IRValue) -> IRValue { constant(Double(value), like.type) }

  /// 2^n for an integer-typed `n` in -126...127 (same lanes as the result float type).
  private func powerOfTwo(_ n: IRValue, floatType: LLVMTypeRef) -> IRValue {
    bitcast(shiftLeft(n + 127, 23), to: floatType)
  }

  /// e^x. exp(-inf) = 0, exp(+inf) = +inf, overflow to +inf above ~88.72, gradual underflow to denormals
  /// and 0 below ~-103.97, NaN passes through.
  public func exp(_ x: IRValue) -> IRValue {
    let intType = integerType(matching: x.type)
    // The clamp keeps the integer conversion defined; the bounds already overflow/underflow.
    let xc = min(max(x, floatConstant(-104, x)), floatConstant(89, x))
    let shifter = floatConstant(12_582_912, x)  // 1.5 * 2^23: adding it rounds to an integer
    let t = mulAdd(xc, floatConstant(1.442695040888963, x), shifter)
    let nf = t - shifter
    let n = bitcast(t, to: intType) - bitcast(shifter, to: intType)
    // r = x - n ln2 in two steps: n * 0.693359375 is exact, the rest is ln2 - 0.693359375.
    var r = mulAdd(nf, floatConstant(-0.693359375, x), xc)
    r = mulAdd(nf, floatConstant(2.12194440e-4, x), r)
    let p = mulAdd(r * r, polynomial(r, MathCoefficients.expTail), r)
    let mantissa = p + 1
    // 2^n as two factors so that n down to -150 (denormal results) and up to 128 (overflow) stay exact.
    let n1 = shiftRight(n, 1)
    let n2 = n - n1
    let result = mantissa * powerOfTwo(n1, floatType: x.type) * powerOfTwo(n2, floatType: x.type)
    return select(isNaN(x), x, result)
  }

  /// Natural logarithm. log(0) = -inf, log(negative) = NaN, log(+inf) = +inf; denormals are exact inputs.
  public func log(_ x: IRValue) -> IRValue {
    let intType = integerType(matching: x.type)
    // Scale denormals into the normal range first.
    let isDenormal = compare(.lt, x, floatConstant(Float.leastNormalMagnitude, x))
    let xs = select(isDenormal, x * 8_388_608, x)
    let bits = bitcast(xs, to: intType)
    var exponent = and(shiftRight(bits, 23), constant(bits: 0xff, intType)) - 127
    exponent = exponent - select(isDenormal, constant(bits: 23, intType), constant(bits: 0, intType))
    var m = bitcast(or(and(bits, constant(bits: 0x007f_ffff, intType)), constant(bits: 0x3f80_0000, intType)), to: x.type)
    // Mantissa into [sqrt(1/2), sqrt(2)) so that log(m) is small and f = m - 1 is exact.
    let high = compare(.gt, m, floatConstant(1.41421356, x))
    m = select(high, m * 0.5, m)
    exponent = exponent + select(high, constant(bits: 1, intType), constant(bits: 0, intType))
    let e = convert(exponent, to: .f32)
    let f = m - 1
    let z = f * f
    var y = f * z * polynomial(f, MathCoefficients.logTail)
    y = mulAdd(e, floatConstant(-2.12194440e-4, x), y)
    y = mulAdd(z, floatConstant(-0.5, x), y)
    var result = mulAdd(e, floatConstant(0.693359375, x), f + y)
    result = select(compare(.eq, x, floatConstant(.infinity, x)), x, result)
    result = select(compare(.lt, x, floatConstant(0, x)), floatConstant(.nan, x), result)
    result = select(compare(.eq, x, floatConstant(0, x)), floatConstant(-.infinity, x), result)
    return select(isNaN(x), x, result)
  }

  /// log(1 + u), accurate also where 1 + u rounds (the correction u / ((1 + u) - 1) undoes that rounding).
  public func log1p(_ u: IRValue) -> IRValue {
    let w = u + 1
    let corrected = log(w) * (u / (w - 1))
    let result = select(compare(.eq, w, floatConstant(1, u)), u, corrected)
    // Infinite u: the correction is inf/inf.
    return select(compare(.eq, u, floatConstant(.infinity, u)), u, result)
  }

  /// Hyperbolic tangent: an odd polynomial below |x| = 0.625, else 1 - 2 / (e^{2|x|} + 1) with x's sign.
  public func tanh(_ x: IRValue) -> IRValue {
    let a = abs(x)
    let s = x * x
    let small = mulAdd(x * s, polynomial(s, MathCoefficients.tanhSmall), x)
    let large = copySign(1 - 2 / (exp(a * 2) + 1), x)
    return select(compare(.lt, a, floatConstant(0.625, x)), small, large)
  }

  /// Logistic sigmoid 1 / (1 + e^{-x}), computed from e^{-|x|} so that neither side overflows and
  /// negative inputs keep full relative accuracy down to denormal results.
  public func sigmoid(_ x: IRValue) -> IRValue {
    let e = exp(-abs(x))
    let s = 1 / (e + 1)
    return select(compare(.ge, x, floatConstant(0, x)), s, e * s)
  }

  /// Softplus log(1 + e^x) in the stable form max(x, 0) + log1p(e^{-|x|}).
  public func softplus(_ x: IRValue) -> IRValue {
    let result = max(x, floatConstant(0, x)) + log1p(exp(-abs(x)))
    return select(isNaN(x), x, result)
  }

  /// Error function: x P(x^2) below |x| = 1, else 1 - e^{-x^2 + R(|x| - 2.5)} with x's sign (1 from 4 on).
  public func erf(_ x: IRValue) -> IRValue {
    let a = abs(x)
    let small = x * polynomial(x * x, MathCoefficients.erfSmall)
    let ac = min(max(a, floatConstant(1, x)), floatConstant(4, x))
    let rest = polynomial(ac - 2.5, MathCoefficients.erfcLogRest)
    let large = copySign(1 - exp(mulAdd(-ac, ac, rest)), x)
    let result = select(compare(.lt, a, floatConstant(1, x)), small, large)
    return select(isNaN(x), x, result)
  }

  /// x^y as e^{y log|x|} with C99 `powf`'s special cases: pow(x, 0) = 1, pow(1, y) = 1, negative x
  /// only with integer y (sign from y's parity, else NaN), pow(±0, y<0) = inf, pow(-1, ±inf) = 1.
  public func pow(_ x: IRValue, _ y: IRValue) -> IRValue {
    let intType = integerType(matching: x.type)
    let ax = abs(x)
    // The rounding error of y * log|x|, recovered by a fused multiply-add where the target has one (else 0),
    // corrects exp's result to first order: e^(p + e) = e^p (1 + e).
    let l = log(ax)
    let product = y * l
    let productError = mulAdd(y, l, -product)
    let corrected = mulAdd(exp(product), productError, exp(product))
    let magnitude = select(isNaN(productError), exp(product), corrected)
    // |y| >= 2^24 is always an even integer; below, a round trip through i32 tells integers apart.
    let ay = abs(y)
    let huge = compare(.ge, ay, floatConstant(16_777_216, y))
    let yc = min(max(y, floatConstant(-16_777_216, y)), floatConstant(16_777_216, y))
    let yInt = convert(yc, to: .i32)
    let isInteger = or(huge, compare(.eq, convert(yInt, to: .f32), y))
    let isOdd = and(not(huge), compare(.eq, and(yInt, constant(bits: 1, LLVMTypeOf(yInt.ref))), constant(bits: 1, LLVMTypeOf(yInt.ref))))
    let negative = compare(.lt, bitcast(x, to: intType), constant(bits: 0, intType))
    var result = select(and(negative, isOdd), -magnitude, magnitude)
    result = select(and(negative, not(isInteger)), floatConstant(.nan, x), result)
    // x == ±0 with negative y already gives inf (log 0 = -inf); x == -1 with infinite y gives NaN there.
    let one = floatConstant(1, x)
    result = select(and(compare(.eq, ax, one), compare(.eq, ay, floatConstant(.infinity, y))), one, result)
    result = select(compare(.eq, x, one), one, result)
    return select(compare(.eq, y, floatConstant(0, y)), one, result)
  }
}

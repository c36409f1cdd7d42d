import CLLVM

// The scan's decay factor exp(Δ·A) is its hottest function: one per (position, channel, state). A is
// pre-scaled by log2(e) once per channel block, so the loop evaluates 2^x, which needs no range
// reduction multiply and half the special-value handling of the general `exp` in MathFunctions.

enum ScanExpCoefficients {
  /// 2^f = 1 + f P(f) on [-0.5, 0.5]: degree 5, max relative error 1.54e-08 (fitted, lowest degree first,
  /// with the weighted least-squares fit of tools/fit-math-coefficients.py).
  static let exp2Tail: [Float] = [
    0.6931471824645996, 0.24022647738456726, 0.05550331622362137, 0.009618411771953106, 0.0013399138115346432,
    0.00015360444376710802,
  ]
}

extension KernelBuilder {
  /// The scan's 2^x for 16-lane vectors on AVX-512F: `vscalefps` applies the exponent in one instruction
  /// (saturating to 0 and +inf, keeping subnormal results), which saves the integer exponent arithmetic of
  /// the portable `scanExp2`. Same polynomial, same accuracy.
  func scanExp2AVX512(_ x: IRValue) -> IRValue {
    // Clamping keeps f finite for x = ±inf (the scale then saturates); compare+select passes NaN through.
    let low = constant(-151, x.type)
    let high = constant(129, x.type)
    var xc = select(compare(.gt, low, x), low, x)
    xc = select(compare(.lt, high, xc), high, xc)
    let r = intrinsic("llvm.roundeven", overloads: [x.type], [xc])
    let f = xc - r
    let mantissa = mulAdd(f, polynomial(f, ScanExpCoefficients.exp2Tail), constant(1, x.type))
    let allLanes = constant(bits: 0xFFFF, LLVMInt16TypeInContext(llvm.context))
    let currentRounding = i32(4)
    return intrinsic("llvm.x86.avx512.mask.scalef.ps.512", overloads: [], [mantissa, r, mantissa, allLanes, currentRounding])
  }
}

extension KernelBuilder {
  /// 2^x for f32 scalars or vectors, ~1 ulp. NaN propagates. Results below 2^-126.5 (a decay under 1e-38,
  /// invisible next to the state's input term) flush to 0; x >= 127.5 gives +inf (true result >= 2.4e38).
  func scanExp2(_ x: IRValue) -> IRValue {
    let intType = integerType(matching: x.type)
    // Clamps written as compare+select with the operand order of x86 max/min, so each is one instruction
    // and a NaN x passes through (it then poisons the result, as exp(NaN) should).
    let low = constant(-127, x.type)
    let high = constant(128, x.type)
    var xc = select(compare(.gt, low, x), low, x)
    xc = select(compare(.lt, high, xc), high, xc)
    let shifter = constant(12_582_912, x.type)  // 1.5 * 2^23: adding it rounds to an integer
    let t = xc + shifter
    let n = bitcast(t, to: intType) - bitcast(shifter, to: intType)
    let f = xc - (t - shifter)
    let mantissa = mulAdd(f, polynomial(f, ScanExpCoefficients.exp2Tail), constant(1, x.type))
    // n in -127...128: biased exponent 0 makes the scale 0, 255 makes it +inf, as wanted at the clamps.
    let scale = bitcast(shiftLeft(n + 127, 23), to: x.type)
    return mantissa * scale
  }
}

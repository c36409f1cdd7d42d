import Glibc
import Testing
@testable import SSMCCodegen

/// Compiles `void f(const float *x, [const float *y,] float *out, int64_t n)` applying `apply` to every
/// element, links it into a library and returns the loaded function with its library handle.
private final class CompiledMath {
  let handle: UnsafeMutableRawPointer
  let function: UnsafeMutableRawPointer
  let directory: TemporaryDirectory

  init(arity: Int, _ apply: @escaping (KernelBuilder, [IRValue]) -> IRValue) throws {
    let module = LLVMModule(name: "math")
    let k = KernelBuilder(module: module)
    let ptr = module.ptr
    let operands = (0..<arity).map { LLVMModule.Parameter("x\($0)", ptr, noalias: true) }
    k.defineFunction("f", returns: module.void, params: operands + [.init("out", ptr, noalias: true), .init("n", module.i64)]) { p in
      k.forLoop(from: k.i64(0), to: p[arity + 1]) { i in
        let args = (0..<arity).map { k.load(.f32, from: p[$0], at: i) }
        k.store(apply(k, args), .f32, to: p[arity], at: i)
      }
    }
    let target = try TargetMachine(TargetOptions(optLevel: 2))
    try target.compile(module)
    directory = try TemporaryDirectory()
    let path = "\(directory.path)/libmath.so"
    try SharedLibraryLinker().link(objects: [try target.emit(module, as: .object)], cSources: [], to: path)
    handle = try #require(dlopen(path, RTLD_NOW | RTLD_LOCAL))
    function = try #require(dlsym(handle, "f"))
  }

  deinit { dlclose(handle) }

  func callAsFunction(_ x: [Float]) -> [Float] {
    typealias Unary = @convention(c) (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int64) -> Void
    var out = [Float](repeating: 0, count: x.count)
    unsafeBitCast(function, to: Unary.self)(x, &out, Int64(x.count))
    return out
  }

  func callAsFunction(_ x: [Float], _ y: [Float]) -> [Float] {
    typealias Binary = @convention(c) (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int64) -> Void
    var out = [Float](repeating: 0, count: x.count)
    unsafeBitCast(function, to: Binary.self)(x, y, &out, Int64(x.count))
    return out
  }
}

/// Error of `value` against the float64 `reference`, in units of the float32 spacing at the reference
/// (the denormal spacing 2^-149 below the normal range). Special values must match exactly.
private func ulpError(_ value: Float, _ reference: Double) -> Double {
  if reference.isNaN { return value.isNaN ? 0 : .infinity }
  // Compare special values with the correctly rounded float (a finite double can round to inf).
  let rounded = Float(reference)
  if rounded.isInfinite || value.isInfinite || value.isNaN {
    return value == rounded ? 0 : .infinity
  }
  let spacing = Swift.max(Double(Float(Swift.abs(reference)).ulp), Double(Float.leastNonzeroMagnitude))
  return Swift.abs(Double(value) - reference) / spacing
}

private func dense(_ low: Double, _ high: Double, count: Int) -> [Float] {
  (0..<count).map { Float(low + (high - low) * Double($0) / Double(count - 1)) }
}

private let specials: [Float] = [0, -0, .infinity, -.infinity, .nan, 1, -1, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
                                 .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude]

/// The worst ulp error of `f` against `reference` over `inputs`, with the input where it occurs.
private func worst(_ f: CompiledMath, _ inputs: [Float], _ reference: (Double) -> Double) -> (ulps: Double, at: Float) {
  let outputs = f(inputs)
  var result = (ulps: 0.0, at: Float(0))
  for (x, y) in zip(inputs, outputs) {
    let e = ulpError(y, reference(Double(x)))
    if !(e <= result.ulps) { result = (e, x) }
  }
  return result
}

@Suite struct MathFunctionTests {
  @Test func exp() throws {
    let f = try CompiledMath(arity: 1) { k, a in k.exp(a[0]) }
    let w = worst(f, dense(-106, 90, count: 1_000_003) + specials, Glibc.exp)
    #expect(w.ulps <= 1.5, "worst \(w.ulps) ulp at \(w.at)")
    #expect(f([-.infinity, .infinity, 100, -200, .nan]).map { $0.isNaN ? -1 : $0 } == [0, .infinity, .infinity, 0, -1])
  }

  @Test func log() throws {
    let f = try CompiledMath(arity: 1) { k, a in k.log(a[0]) }
    // Every 211th positive float: denormals, normals, and the neighbourhood of 1.
    let sweep = stride(from: UInt32(1), to: 0x7f80_0000, by: 211).map { Float(bitPattern: $0) }
    let w = worst(f, sweep + dense(0.5, 2, count: 200_001) + specials.filter { $0 >= 0 }, Glibc.log)
    #expect(w.ulps <= 1.5, "worst \(w.ulps) ulp at \(w.at)")
    let special = f([0, -0.0, -1, .infinity, -.infinity])
    #expect(special[0] == -.infinity && special[1] == -.infinity && special[2].isNaN && special[3] == .infinity && special[4].isNaN)
  }

  @Test func tanh() throws {
    let f = try CompiledMath(arity: 1) { k, a in k.tanh(a[0]) }
    let w = worst(f, dense(-12, 12, count: 1_000_001) + dense(-1e-3, 1e-3, count: 10_001) + specials, Glibc.tanh)
    #expect(w.ulps <= 2.5, "worst \(w.ulps) ulp at \(w.at)")
  }

  @Test func erf() throws {
    let f = try CompiledMath(arity: 1) { k, a in k.erf(a[0]) }
    let w = worst(f, dense(-6, 6, count: 1_000_001) + dense(-1e-3, 1e-3, count: 10_001) + specials, Glibc.erf)
    #expect(w.ulps <= 2.5, "worst \(w.ulps) ulp at \(w.at)")
  }

  @Test func sigmoid() throws {
    let f = try CompiledMath(arity: 1) { k, a in k.sigmoid(a[0]) }
    let w = worst(f, dense(-110, 110, count: 1_000_001) + specials) { 1 / (1 + Glibc.exp(-$0)) }
    #expect(w.ulps <= 2.5, "worst \(w.ulps) ulp at \(w.at)")
  }

  @Test func softplus() throws {
    let f = try CompiledMath(arity: 1) { k, a in k.softplus(a[0]) }
    let reference = { (x: Double) in x.isNaN ? x : Swift.max(x, 0) + Glibc.log1p(Glibc.exp(-Swift.abs(x))) }
    let w = worst(f, dense(-110, 110, count: 1_000_001) + specials, reference)
    // exp and log1p each contribute their error.
    #expect(w.ulps <= 3, "worst \(w.ulps) ulp at \(w.at)")
  }

  @Test func log1p() throws {
    let f = try CompiledMath(arity: 1) { k, a in k.log1p(a[0]) }
    let w = worst(f, dense(-0.999, 10, count: 500_001) + dense(-1e-6, 1e-6, count: 1001) + [.infinity], Glibc.log1p)
    #expect(w.ulps <= 2.5, "worst \(w.ulps) ulp at \(w.at)")
  }

  @Test func pow() throws {
    let f = try CompiledMath(arity: 2) { k, a in k.pow(a[0], a[1]) }
    var xs: [Float] = [], ys: [Float] = []
    for i in 0..<1000 {
      for j in 0..<201 {
        xs.append(Float(Glibc.pow(10, -3 + 6 * Double(i) / 999)))
        ys.append(Float(-5 + Double(j) / 20))
      }
    }
    let out = f(xs, ys)
    var worstExcess = 0.0
    for (x, (y, z)) in zip(xs, zip(ys, out)) {
      // log|x|'s own error, scaled by y, costs up to about |y log2 x| ulps; the rest must stay within 1.5 ulp.
      let excess = ulpError(z, Glibc.pow(Double(x), Double(y))) - Swift.abs(Double(y) * Glibc.log2(Double(x)))
      worstExcess = Swift.max(worstExcess, excess)
    }
    #expect(worstExcess <= 1.5, "worst \(worstExcess) ulp beyond |y log2 x|")
    // C99 special cases.
    let sx: [Float] = [-2, -2, -2, 0, 0, -0.0, 1, .nan, -1, 2, -8, .infinity, -.infinity, 0.5]
    let sy: [Float] = [3, 2, 0.5, 2, -1, -3, .nan, 0, .infinity, -.infinity, 1.0 / 3, -1, 3, .infinity]
    let expected: [Float] = [-8, 4, .nan, 0, .infinity, -.infinity, 1, 1, 1, 0, .nan, 0, -.infinity, 0]
    for (index, value) in f(sx, sy).enumerated() {
      #expect(value == expected[index] || (value.isNaN && expected[index].isNaN), "pow(\(sx[index]), \(sy[index])) = \(value)")
    }
  }

  /// No libm calls remain, so a loop around exp/log/erf vectorizes to AVX-512 on znver4.
  @Test func mathLoopsVectorize() throws {
    let module = LLVMModule(name: "vec")
    let k = KernelBuilder(module: module)
    k.defineFunction(
      "g", returns: module.void,
      params: [.init("x", module.ptr, noalias: true), .init("y", module.ptr, noalias: true), .init("n", module.i64)]
    ) { p in
      k.forLoop(from: k.i64(0), to: p[2]) { i in
        let x = k.load(.f32, from: p[0], at: i)
        k.store(k.exp(x) + k.log(x) + k.erf(x) + k.tanh(x) + k.softplus(x) + k.sigmoid(x) + k.pow(x, x), .f32, to: p[1], at: i)
      }
    }
    let target = try TargetMachine(TargetOptions(cpu: "znver4", triple: "x86_64-unknown-linux-gnu"))
    try target.compile(module)
    let asm = String(decoding: try target.emit(module, as: .assembly), as: UTF8.self)
    #expect(asm.contains("zmm"))
    #expect(!asm.contains("call"), "a library call remains")
  }
}

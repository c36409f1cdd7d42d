import CLLVM

/// Math functions by element type: f32 uses ssmc's own vectorizable polynomials (MathFunctions.swift);
/// f64 calls libm, which every compiled library may link, so double-precision ops keep double accuracy.
enum MathFunction: String {
  case exp, log, tanh, erf, sigmoid, softplus
}

func math(_ k: KernelBuilder, _ function: MathFunction, _ x: IRValue) -> IRValue {
  guard scalarOf(x) == .f64 else {
    switch function {
    case .exp: return k.exp(x)
    case .log: return k.log(x)
    case .tanh: return k.tanh(x)
    case .erf: return k.erf(x)
    case .sigmoid: return k.sigmoid(x)
    case .softplus: return k.softplus(x)
    }
  }
  switch function {
  case .exp: return libm(k, "exp", [x])
  case .log: return libm(k, "log", [x])
  case .tanh: return libm(k, "tanh", [x])
  case .erf: return libm(k, "erf", [x])
  case .sigmoid: return 1.0 / (1.0 + libm(k, "exp", [-x]))
  case .softplus:
    // log1p(exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)).
    return k.max(x, k.constant(0, x.type)) + libm(k, "log1p", [libm(k, "exp", [-k.abs(x)])])
  }
}

func mathPow(_ k: KernelBuilder, _ x: IRValue, _ y: IRValue) -> IRValue {
  scalarOf(x) == .f64 ? libm(k, "pow", [x, y]) : k.pow(x, y)
}

/// Calls the libm function `name` on scalar doubles.
private func libm(_ k: KernelBuilder, _ name: String, _ args: [IRValue]) -> IRValue {
  let f64 = k.llvm.f64
  let type = k.llvm.functionType(returns: f64, params: args.map { _ in f64 })
  let function = k.llvm.function(named: name) ?? k.llvm.addFunction(name, returns: f64, params: args.indices.map { .init("x\($0)", f64) })
  return k.call(function, type: type, args)
}

/// Calls the libm function `name` (double) or `name`f (float) on each lane of `x`, so formulas stay usable on
/// whole vectors (fused product epilogues). For functions without a vector polynomial of ssmc's own; glibc's
/// are correctly rounded or within an ulp, which keeps f32 and f64 results at their type's accuracy.
func libmLanes(_ k: KernelBuilder, _ name: String, _ x: IRValue) -> IRValue {
  let isDouble = scalarOf(x) == .f64
  let scalarType = isDouble ? k.llvm.f64 : k.llvm.f32
  let symbol = isDouble ? name : name + "f"
  let type = k.llvm.functionType(returns: scalarType, params: [scalarType])
  let function = k.llvm.function(named: symbol) ?? k.llvm.addFunction(symbol, returns: scalarType, params: [.init("x", scalarType)])
  guard x.isVector else { return k.call(function, type: type, [x]) }
  var result = x
  for lane in 0..<x.lanes {
    result = k.insertLane(result, k.call(function, type: type, [k.extractLane(x, lane)]), lane)
  }
  return result
}

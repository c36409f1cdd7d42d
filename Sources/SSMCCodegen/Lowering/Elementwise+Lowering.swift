import CLLVM
import SSMCIR

/// Elementwise ops: one broadcasting loop nest (dims coalesced, outer loop parallel, inner loop vectorized)
/// around a per-element formula from `elementwiseFormulas`. Formulas see loaded scalars in the operand's
/// register type and return the result in the result's register type.
let elementwiseLowerings: [String: Lowering] = {
  var table = elementwiseFormulas.mapValues { elementwise($0) }
  table["Dropout"] = { ctx in
    try lowerElementwise(ctx.restricted(operands: 1, results: 1)) { _, v, _ in v[0] }
    if ctx.node.results.count == 2 {
      try lowerElementwise(ctx.restricted(operands: 1, results: 1, resultOffset: 1)) { k, _, _ in k.bool(true) }
    }
  }
  table["CastLike"] = { ctx in
    let target = try ctx.scalar(ctx.resultType(0).element)
    try lowerElementwise(ctx.restricted(operands: 1, results: 1)) { k, v, _ in castValue(k, v[0], to: target) }
  }
  table["Pow"] = { ctx in
    // A constant exponent of 2 (RMSNorm's x^2): one exact multiply instead of exp(2 log x).
    if ctx.operandType(0).element.isFloat, let e = ctx.constant(1), !e.doubles.isEmpty, e.doubles.allSatisfy({ $0 == 2 }) {
      try lowerElementwise(ctx) { _, v, _ in v[0] * v[0] }
    } else {
      try lowerElementwise(ctx, elementwiseFormulas["Pow"]!)
    }
  }
  return table
}()

/// The per-element formula of every single-result elementwise op, by IR op name: the one place each formula
/// is written, read by the elementwise lowering and by `ssmc.FusedElementwise`.
let elementwiseFormulas: [String: Formula] = {
  var table = unaryFormulas.merging(binaryFormulas, uniquingKeysWith: { a, _ in a })
    .merging(bitwiseFormulas, uniquingKeysWith: { a, _ in a })
  for name in ["Max", "Min", "Sum", "Mean"] { table[name] = variadicFormula(name) }
  table["Where"] = { k, v, _ in k.select(v[0], v[1], v[2]) }
  table["Cast"] = { k, v, op in castValue(k, v[0], to: castScalar(op)) }
  table["Clip"] = clipFormula
  table["PRelu"] = { k, v, _ in k.select(k.compare(.lt, v[0], 0), v[0] * v[1], v[0]) }
  return table
}()

/// The register type of Cast's `to` element type (the lowering checked it is one codegen supports).
private func castScalar(_ op: OpContext) -> ScalarType {
  let target = (try? op.int("to")).flatMap { ElementType(rawValue: Int32($0)) }
  switch target {
  case .f64: return .f64
  case .i64: return .i64
  case .i32: return .i32
  case .i8: return .i8
  case .u8: return .u8
  case .bool: return .i1
  default: return .f32
  }
}

/// The lowering of an elementwise op with `formula`.
func elementwise(_ formula: @escaping Formula) -> Lowering {
  { ctx in try lowerElementwise(ctx, formula) }
}

/// A per-element formula: builder, operand values, and the node context (for attributes).
typealias Formula = @Sendable (KernelBuilder, [IRValue], OpContext) -> IRValue

extension LoweringContext {
  /// A view of this node with only its first operands/results, for ops whose extra results are separate loops.
  func restricted(operands count: Int, results: Int, resultOffset: Int = 0) -> LoweringContext {
    var node = self.node
    node.operands = Array(node.operands.prefix(count))
    node.results = Array(node.results[resultOffset..<(resultOffset + results)])
    return LoweringContext(
      k: k, node: node, graph: graph, operands: Array(operands.prefix(count)),
      results: Array(self.results[resultOffset..<(resultOffset + results)]), pool: pool, vectorLanes: vectorLanes,
      arena: arena, symbols: symbols, dims: dims)
  }
}

/// Emits `result[i] = formula(operand_0[i'], operand_1[i''], ...)` with broadcasting.
func lowerElementwise(_ ctx: LoweringContext, _ formula: @escaping Formula) throws(CodegenError) {
  if ctx.hasRuntimeExtents { return try lowerRuntimeElementwise(ctx, formula) }
  let outShape = ctx.resultShape(0)
  let present = ctx.node.operands.indices.filter { ctx.hasOperand($0) }
  let operandScalars = try present.map { i throws(CodegenError) in try ctx.scalar(ctx.operandType(i).element) }
  let resultScalar = try ctx.scalar(ctx.resultType(0).element)
  let strides = present.map { broadcastStrides(of: ctx.operandShape($0), to: outShape) } + [rowMajorStrides(outShape)]
  let (shape, loopStrides) = coalesce(outShape, strides)
  let op = ctx.op
  var slots: [Int?] = ctx.node.operands.indices.map { _ in nil }
  for (slot, i) in present.enumerated() { slots[i] = slot }
  let k = ctx.k
  ctx.forEachIndex(shape, captures: present.map { ctx.operand($0) } + [ctx.results[0]]) { index, captured in
    let loaded = present.indices.map { slot in
      k.load(operandScalars[slot], from: captured[slot], at: ctx.flatIndex(index, strides: loopStrides[slot]))
    }
    // Formulas index operands by their ONNX position; absent optional operands are not loaded.
    let value = formula(k, loaded, op)
    k.store(value, resultScalar, to: captured[present.count], at: ctx.flatIndex(index, strides: loopStrides[present.count]))
  }
  _ = slots
}

func castValue(_ k: KernelBuilder, _ v: IRValue, to target: ScalarType) -> IRValue {
  // ONNX casts float -> bool as x != 0 and NaN -> true; float -> int truncates toward zero.
  if target == .i1 && v.isFloat { return k.compare(.ne, v, 0) }
  return k.convert(v, to: target)
}

private func attributeFloat(_ op: OpContext, _ name: String) -> Double { Double((try? op.float(name)) ?? 0) }

private let unaryFormulas: [String: Formula] = [
  "Identity": { _, v, _ in v[0] },
  "Neg": { _, v, _ in -v[0] },
  "Abs": { k, v, _ in k.abs(v[0]) },
  "Exp": { k, v, _ in math(k, .exp, v[0]) },
  "Log": { k, v, _ in math(k, .log, v[0]) },
  "Sqrt": { k, v, _ in k.sqrt(v[0]) },
  "Reciprocal": { _, v, _ in 1.0 / v[0] },
  "Erf": { k, v, _ in math(k, .erf, v[0]) },
  "Tanh": { k, v, _ in math(k, .tanh, v[0]) },
  "Sigmoid": { k, v, _ in math(k, .sigmoid, v[0]) },
  "Softplus": { k, v, _ in math(k, .softplus, v[0]) },
  "Softsign": { k, v, _ in v[0] / (1.0 + k.abs(v[0])) },
  "Relu": { k, v, _ in k.select(k.compare(.gt, v[0], 0), v[0], k.constant(0, v[0].type)) },
  "Floor": { k, v, _ in k.intrinsic("llvm.floor", overloads: [v[0].type], [v[0]]) },
  "Ceil": { k, v, _ in k.intrinsic("llvm.ceil", overloads: [v[0].type], [v[0]]) },
  "Round": { k, v, _ in k.intrinsic("llvm.roundeven", overloads: [v[0].type], [v[0]]) },
  "Sign": { k, v, _ in
    let zero = k.constant(0, v[0].type)
    return k.select(k.compare(.gt, v[0], 0), k.constant(1, v[0].type), k.select(k.compare(.lt, v[0], 0), k.constant(-1, v[0].type), zero))
  },
  "Not": { k, v, _ in k.not(v[0]) },
  "IsNaN": { k, v, _ in k.isNaN(v[0]) },
  "IsInf": { k, v, op in
    let detectNegative = ((try? op.int("detect_negative")) ?? 1) != 0
    let detectPositive = ((try? op.int("detect_positive")) ?? 1) != 0
    let positive = k.compare(.eq, v[0], .infinity)
    let negative = k.compare(.eq, v[0], -.infinity)
    switch (detectNegative, detectPositive) {
    case (true, true): return k.or(positive, negative)
    case (false, true): return positive
    case (true, false): return negative
    default: return k.bool(false)
    }
  },
  "LeakyRelu": { k, v, op in
    k.select(k.compare(.lt, v[0], 0), v[0] * attributeFloat(op, "alpha"), v[0])
  },
  "Elu": { k, v, op in
    k.select(k.compare(.lt, v[0], 0), attributeFloat(op, "alpha") * (math(k, .exp, v[0]) - 1.0), v[0])
  },
  "Celu": { k, v, op in
    let alpha = attributeFloat(op, "alpha")
    let negative = alpha * (math(k, .exp, v[0] / alpha) - 1.0)
    return k.max(v[0], k.constant(0, v[0].type)) + k.min(k.constant(0, v[0].type), negative)
  },
  "ThresholdedRelu": { k, v, op in
    k.select(k.compare(.gt, v[0], attributeFloat(op, "alpha")), v[0], k.constant(0, v[0].type))
  },
  "Selu": { k, v, op in
    let (alpha, gamma) = (attributeFloat(op, "alpha"), attributeFloat(op, "gamma"))
    return k.select(k.compare(.gt, v[0], 0), gamma * v[0], gamma * (alpha * math(k, .exp, v[0]) - alpha))
  },
  "HardSigmoid": { k, v, op in
    let y = attributeFloat(op, "alpha") * v[0] + attributeFloat(op, "beta")
    return k.min(k.max(y, k.constant(0, y.type)), k.constant(1, y.type))
  },
  "HardSwish": { k, v, _ in
    let y = v[0] * (1.0 / 6.0) + 0.5
    return v[0] * k.min(k.max(y, k.constant(0, y.type)), k.constant(1, y.type))
  },
  "Swish": { k, v, op in v[0] * math(k, .sigmoid, attributeFloat(op, "alpha") * v[0]) },
  "Shrink": { k, v, op in
    let (bias, lambd) = (attributeFloat(op, "bias"), attributeFloat(op, "lambd"))
    // Integers compare and add in double, then truncate back, as the ONNX reference's numpy promotion does.
    let element = (try? op.type(0).element) ?? .f32
    let x = v[0].isFloat ? v[0] : k.convert(v[0], to: .f64)
    let y = k.select(k.compare(.lt, x, -lambd), x + bias, k.select(k.compare(.gt, x, lambd), x - bias, k.constant(0, x.type)))
    return v[0].isFloat ? y : k.convert(y, to: element == .u8 ? .u8 : scalarOf(v[0]))
  },
  "Mish": { k, v, _ in v[0] * math(k, .tanh, math(k, .softplus, v[0])) },
  "Gelu": { k, v, op in
    let x = v[0]
    if (try? op.string("approximate")) == "tanh" {
      let inner = 0.7978845608028654 * (x + 0.044715 * (x * x * x))
      return 0.5 * x * (1.0 + math(k, .tanh, inner))
    }
    return 0.5 * x * (1.0 + math(k, .erf, x * 0.7071067811865476))
  },
  "Sin": { k, v, _ in k.intrinsic("llvm.sin", overloads: [v[0].type], [v[0]]) },
  "Cos": { k, v, _ in k.intrinsic("llvm.cos", overloads: [v[0].type], [v[0]]) },
  "Tan": { k, v, _ in libmLanes(k, "tan", v[0]) },
  "Asin": { k, v, _ in libmLanes(k, "asin", v[0]) },
  "Acos": { k, v, _ in libmLanes(k, "acos", v[0]) },
  "Atan": { k, v, _ in libmLanes(k, "atan", v[0]) },
  "Sinh": { k, v, _ in libmLanes(k, "sinh", v[0]) },
  "Cosh": { k, v, _ in libmLanes(k, "cosh", v[0]) },
  "Asinh": { k, v, _ in libmLanes(k, "asinh", v[0]) },
  "Acosh": { k, v, _ in libmLanes(k, "acosh", v[0]) },
  "Atanh": { k, v, _ in libmLanes(k, "atanh", v[0]) },
]

private let binaryFormulas: [String: Formula] = [
  "Add": { _, v, _ in v[0] + v[1] },
  "Sub": { _, v, _ in v[0] - v[1] },
  "Mul": { _, v, _ in v[0] * v[1] },
  "Div": { _, v, _ in v[0] / v[1] },
  "Pow": { k, v, _ in
    let exponent = k.convert(v[1], to: v[0].isFloat ? scalarOf(v[0]) : .f64)
    if v[0].isFloat { return mathPow(k, v[0], exponent) }
    // Integer base: compute in double and round (an exact power may come out a hair below the integer).
    let real = mathPow(k, k.convert(v[0], to: .f64), exponent)
    return k.convert(k.intrinsic("llvm.round", overloads: [real.type], [real]), to: scalarOf(v[0]))
  },
  "Mod": { k, v, op in
    if ((try? op.int("fmod")) ?? 0) == 1 { return v[0] % v[1] }
    // fmod = 0 follows the divisor's sign (Python and numpy semantics), for integers and floats alike.
    let r = v[0] % v[1]
    let adjust = k.and(k.compare(.ne, r, 0), k.xor(k.compare(.lt, r, 0), k.compare(.lt, v[1], 0)))
    return k.select(adjust, r + v[1], r)
  },
  "Equal": { k, v, _ in k.compare(.eq, v[0], v[1]) },
  "Less": { k, v, _ in k.compare(.lt, v[0], v[1]) },
  "Greater": { k, v, _ in k.compare(.gt, v[0], v[1]) },
  "LessOrEqual": { k, v, _ in k.compare(.le, v[0], v[1]) },
  "GreaterOrEqual": { k, v, _ in k.compare(.ge, v[0], v[1]) },
  "And": { k, v, _ in k.and(v[0], v[1]) },
  "Or": { k, v, _ in k.or(v[0], v[1]) },
  "Xor": { k, v, _ in k.xor(v[0], v[1]) },
]

private func variadicFormula(_ name: String) -> Formula {
  { k, v, _ in
    var acc = v[0]
    for x in v.dropFirst() {
      switch name {
      case "Max": acc = nanPropagating(k, k.max(acc, x), acc, x)
      case "Min": acc = nanPropagating(k, k.min(acc, x), acc, x)
      default: acc = acc + x
      }
    }
    return name == "Mean" ? acc / Double(v.count) : acc
  }
}

/// ONNX Max/Min propagate NaN (like numpy), whereas LLVM's maxnum/minnum ignore it.
private func nanPropagating(_ k: KernelBuilder, _ value: IRValue, _ a: IRValue, _ b: IRValue) -> IRValue {
  guard a.isFloat else { return value }
  return k.select(k.isNaN(a), a, k.select(k.isNaN(b), b, value))
}

private let clipFormula: Formula = { k, v, op in
  // Operands: input, then min and max only where present (the loader skips absent ones).
  var x = v[0]
  let hasMin = op.has(1)
  let hasMax = op.has(2)
  var next = 1
  if hasMin {
    x = k.select(k.compare(.lt, x, v[next]), v[next], x)
    next += 1
  }
  if hasMax { x = k.select(k.compare(.gt, x, v[next]), v[next], x) }
  return x
}

func scalarOf(_ v: IRValue) -> ScalarType {
  let kind = LLVMGetTypeKind(v.scalarType)
  if kind == LLVMFloatTypeKind { return .f32 }
  if kind == LLVMDoubleTypeKind { return .f64 }
  switch LLVMGetIntTypeWidth(v.scalarType) {
  case 1: return .i1
  case 8: return .i8
  case 32: return .i32
  default: return .i64
  }
}

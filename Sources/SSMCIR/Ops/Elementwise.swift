import Foundation

/// Elementwise ops: unary math and activations, broadcasting binary and variadic ops, comparisons, Where, Cast.
/// All share one shape rule (multidirectional broadcasting); folders evaluate in Double then round to the
/// result element type.
let elementwiseOps: [OpSchema] = (unaryOps + binaryOps + variadicOps + [
  where_.with(elementDims: ElementDimsRules.where_), cast.with(elementDims: ElementDimsRules.cast), clip, dropout, prelu,
])
  .map { $0.with(samples: .elementwise) }
  + [castLike.with(samples: SampleRule { ctx throws(Diagnostic) in [ctx.operandAxes[0]] })]

/// The elementwise ops an `ssmc.FusedElementwise` expression may call: one result, every operand read at the
/// same index. Clip (optional operands) and Dropout (optional second result) are left out.
let fusableElementwiseOps: Set<String> = Set((unaryOps + binaryOps + variadicOps + [where_, cast, prelu]).map(\.name))

private let unaryOps: [OpSchema] = [
  identity, unary("Neg") { -$0 }, unary("Abs") { abs($0) }, unary("Exp", exp), unary("Log", log),
  unary("Sqrt", sqrt), unary("Reciprocal") { 1 / $0 }, unary("Erf", erf), unary("Tanh", tanh),
  unary("Sigmoid") { 1 / (1 + exp(-$0)) }, unary("Relu") { max($0, 0) }, unary("Floor", floor), unary("Ceil", ceil),
  unary("Round") { $0.rounded(.toNearestOrEven) }, unary("Sin", sin), unary("Cos", cos),
  unary("Tan", tan), unary("Asin", asin), unary("Acos", acos), unary("Atan", atan), unary("Sinh", sinh),
  unary("Cosh", cosh), unary("Asinh", asinh), unary("Acosh", acosh), unary("Atanh", atanh),
  unary("Swish", attributes: [AttributeSpec("alpha", .float, default: .float(1))]),
  unary("Sign") { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }, unary("Softsign") { $0 / (1 + abs($0)) },
  unary("Softplus") { $0 > 20 ? $0 : log1p(exp($0)) }, unary("Mish"),
  unary("Not", result: .bool) { $0 == 0 ? 1 : 0 },
  unary("IsNaN", result: .bool) { $0.isNaN ? 1 : 0 },
  unary("IsInf", result: .bool, attributes: [
    AttributeSpec("detect_negative", .int, default: .int(1)), AttributeSpec("detect_positive", .int, default: .int(1)),
  ]),
  unary("LeakyRelu", attributes: [AttributeSpec("alpha", .float, default: .float(0.01))]),
  unary("Elu", attributes: [AttributeSpec("alpha", .float, default: .float(1))]),
  unary("Celu", attributes: [AttributeSpec("alpha", .float, default: .float(1))]),
  unary("ThresholdedRelu", attributes: [AttributeSpec("alpha", .float, default: .float(1))]),
  unary("Selu", attributes: [
    AttributeSpec("alpha", .float, default: .float(1.67326319217681884765625)),
    AttributeSpec("gamma", .float, default: .float(1.05070102214813232421875)),
  ]),
  unary("HardSigmoid", attributes: [
    AttributeSpec("alpha", .float, default: .float(0.2)), AttributeSpec("beta", .float, default: .float(0.5)),
  ]),
  unary("HardSwish"),
  unary("Shrink", attributes: [AttributeSpec("bias", .float, default: .float(0)), AttributeSpec("lambd", .float, default: .float(0.5))]),
  unary("BitwiseNot"),
  unary("Gelu", attributes: [AttributeSpec("approximate", .string, default: .string("none"))]),
]

private let binaryOps: [OpSchema] = [
  binary("Add", +).with(elementDims: ElementDimsRules.binary { $0.plus($1) }),
  binary("Sub", -).with(elementDims: ElementDimsRules.binary { $0.minus($1) }),
  binary("Mul", *).with(elementDims: ElementDimsRules.binary { $0.times($1) }),
  binary("Div") { a, b in a / b }.with(elementDims: ElementDimsRules.divide),  // integer operands are truncated by the folder's cast
  binary("Pow", pow),
  mod.with(elementDims: ElementDimsRules.mod),
  binary("Equal", result: .bool) { $0 == $1 ? 1 : 0 }.with(elementDims: ElementDimsRules.equal),
  binary("Less", result: .bool) { $0 < $1 ? 1 : 0 },
  binary("Greater", result: .bool) { $0 > $1 ? 1 : 0 },
  binary("LessOrEqual", result: .bool) { $0 <= $1 ? 1 : 0 },
  binary("GreaterOrEqual", result: .bool) { $0 >= $1 ? 1 : 0 },
  binary("And", result: .bool) { ($0 != 0 && $1 != 0) ? 1 : 0 },
  binary("Or", result: .bool) { ($0 != 0 || $1 != 0) ? 1 : 0 },
  binary("Xor", result: .bool) { (($0 != 0) != ($1 != 0)) ? 1 : 0 },
  // Bitwise ops have no folder: Double holds no full i64 bit pattern.
  binary("BitwiseAnd"), binary("BitwiseOr"), binary("BitwiseXor"), bitShift,
]

// The float-only math ops and the integer-only bitwise ops need no guards of their own: shape inference
// and the verifier check every operand against the ONNX op's type constraints first (ElementTypeRule.swift).

/// BitShift: the direction must be LEFT or RIGHT.
private let bitShift: OpSchema = {
  var schema = binary("BitShift", attributes: [AttributeSpec("direction", .string, required: true)])
  let infer = schema.inferTypes
  schema.inferTypes = { ctx throws(Diagnostic) in
    let direction = try ctx.string("direction")
    guard direction == "LEFT" || direction == "RIGHT" else {
      throw ctx.error(.badAttribute, "direction must be LEFT or RIGHT, got \(direction ?? "none")")
    }
    return try infer(ctx)
  }
  return schema
}()

/// Mod: fmod = 1 is C's fmod (sign of the dividend); fmod = 0 is integer modulo with the divisor's sign.
private let mod: OpSchema = {
  var schema = binary("Mod", attributes: [AttributeSpec("fmod", .int, default: .int(0))])
  schema.fold = { ctx throws(Diagnostic) in
    let element = try ctx.type(0).element
    let cStyle = try ctx.int("fmod") == 1
    return [try foldMap(ctx, element: element) { v in
      guard v[1] != 0 else { return element.isFloat ? .nan : 0 }
      let r = fmod(v[0], v[1])
      return cStyle || r == 0 || (r < 0) == (v[1] < 0) ? r : r + v[1]
    }]
  }
  return schema
}()

private let variadicOps: [OpSchema] = [
  variadic("Max") { $0.contains(where: \.isNaN) ? .nan : $0.max()! }.with(elementDims: ElementDimsRules.extreme(larger: true)),
  variadic("Min") { $0.contains(where: \.isNaN) ? .nan : $0.min()! }.with(elementDims: ElementDimsRules.extreme(larger: false)),
  variadic("Sum") { $0.reduce(0, +) },
  variadic("Mean") { $0.reduce(0, +) / Double($0.count) },
]

private let where_ = OpSchema(
  "Where", operands: [.required("condition"), .required("X"), .required("Y")],
  inferTypes: { ctx throws(Diagnostic) in
    let (c, x, y) = (try ctx.type(0), try ctx.type(1), try ctx.type(2))
    guard c.element == .bool else { throw ctx.error(.typeMismatch, "condition must be bool, got \(c.element)") }
    guard x.element == y.element else { throw ctx.error(.typeMismatch, "X and Y differ in element type: \(x) vs \(y)") }
    return [x.with(dims: try broadcastDims(ctx, [c, x, y]))]
  },
  fold: { ctx throws(Diagnostic) in
    let element = try ctx.type(1).element
    return [try foldMap(ctx, element: element) { $0[0] != 0 ? $0[1] : $0[2] }]
  })

private let cast = OpSchema(
  "Cast", operands: [.required("input")],
  attributes: [AttributeSpec("to", .int, required: true), AttributeSpec("saturate", .int, default: .int(1))],
  inferTypes: { ctx throws(Diagnostic) in [try ctx.type(0).with(element: castTarget(ctx))] },
  fold: { ctx throws(Diagnostic) in
    let target = try castTarget(ctx)
    return [try foldMap(ctx, element: target) { v in target.isFloat || target == .bool ? v[0] : v[0].rounded(.towardZero) }]
  })

/// CastLike: Cast to the element type of `target_type` (whose values and shape are ignored). `saturate` and
/// `round_mode` only concern float8/float4 targets, which ssmc does not compile.
private let castLike = OpSchema(
  "CastLike", operands: [.required("input"), .required("target_type")],
  attributes: [AttributeSpec("saturate", .int, default: .int(1)), AttributeSpec("round_mode", .string, default: .string("up"))],
  inferTypes: { ctx throws(Diagnostic) in [try ctx.type(0).with(element: ctx.type(1).element)] },
  fold: { ctx throws(Diagnostic) in
    let target = try ctx.type(1).element
    let input = try ctx.requireConstant(0)
    let values = input.doubles.map { target.isFloat || target == .bool ? $0 : $0.rounded(.towardZero) }
    return [TensorData(target, shape: input.shape, doubles: values)]
  })

private func castTarget(_ ctx: OpContext) throws(Diagnostic) -> ElementType {
  let code = try ctx.int("to")
  guard let t = ElementType(code: code) else {
    throw ctx.error(.badAttribute, "Cast to element type code \(code) is not supported")
  }
  return t
}

private let clip = OpSchema(
  "Clip", operands: [.required("input"), .optional("min"), .optional("max")],
  inferTypes: { ctx throws(Diagnostic) in
    for i in 1..<3 where ctx.has(i) {
      let bound = try ctx.type(i)
      guard bound.rank == 0 || bound.elementCount == 1 else {
        throw ctx.error("Clip's \(ctx.operandName(i)) must be a scalar, got \(bound)")
      }
    }
    return [try ctx.type(0)]
  })

/// Dropout in inference: the output is the input; the optional mask is all true. Training mode draws random
/// masks, which a compiled model cannot reproduce, so it is accepted only when it is a constant false or the
/// ratio is a constant 0 (then training mode is the identity too).
private let dropout = OpSchema(
  "Dropout", operands: [.required("data"), .optional("ratio"), .optional("training_mode")], results: nil,
  attributes: [AttributeSpec("seed", .int)],
  inferTypes: { ctx throws(Diagnostic) in
    if ctx.has(2) {
      let training = ctx.constant(2)?.doubles.first
      let ratio = ctx.has(1) ? ctx.constant(1)?.doubles.first : 0.5
      guard training == 0 || ratio == 0 else {
        throw ctx.error(.unsupportedFeature, "training-mode Dropout draws random masks; ssmc compiles inference only (training_mode must be a constant false, or ratio a constant 0)")
      }
    }
    let t = try ctx.type(0)
    return ctx.resultCount == 2 ? [t, t.with(element: .bool)] : [t]
  })

/// PRelu broadcasts the slope to X (unidirectional), so the result has X's type.
private let prelu = OpSchema(
  "PRelu", operands: [.required("X"), .required("slope")],
  inferTypes: { ctx throws(Diagnostic) in
    let (x, s) = (try ctx.type(0), try ctx.type(1))
    guard let b = Broadcast.shape([x.dims, s.dims]), b == x.dims else {
      throw ctx.error("slope \(s) does not broadcast to X \(x)")
    }
    return [x]
  })

// MARK: - Family builders

/// Identity folds to its operand unchanged (bit for bit, whatever the element type).
private let identity: OpSchema = {
  var schema = unary("Identity")
  schema.fold = { ctx throws(Diagnostic) in [try ctx.requireConstant(0)] }
  schema.elementDims = ElementDimsRules.sameElements
  return schema
}()

private func unary(
  _ name: String, result: ElementType? = nil, attributes: [AttributeSpec] = [],
  _ f: (@Sendable (Double) -> Double)? = nil
) -> OpSchema {
  var folder: Folder? = nil
  if let f {
    folder = { ctx throws(Diagnostic) in
      let element = try ctx.type(0).element
      let resultElement = result ?? element
      return [try foldMap(ctx, element: resultElement) { f($0[0]) }]
    }
  }
  return OpSchema(
    name, operands: [.required("X")], attributes: attributes,
    inferTypes: { ctx throws(Diagnostic) in
      let t = try ctx.type(0)
      return [result.map { t.with(element: $0) } ?? t]
    },
    fold: folder)
}

private func binary(
  _ name: String, result: ElementType? = nil, attributes: [AttributeSpec] = [],
  _ f: (@Sendable (Double, Double) -> Double)? = nil
) -> OpSchema {
  var folder: Folder? = nil
  if let f {
    folder = { ctx throws(Diagnostic) in
      let element = try ctx.type(0).element
      let resultElement = result ?? element
      let truncate = name == "Div" && element.isInteger
      return [try foldMap(ctx, element: resultElement) { v in truncate ? f(v[0], v[1]).rounded(.towardZero) : f(v[0], v[1]) }]
    }
  }
  return OpSchema(
    name, operands: [.required("A"), .required("B")], attributes: attributes,
    inferTypes: { ctx throws(Diagnostic) in
      let (a, b) = (try ctx.type(0), try ctx.type(1))
      // Pow allows a different exponent type; every other op needs equal element types.
      guard name == "Pow" || a.element == b.element else {
        throw ctx.error(.typeMismatch, "operands differ in element type: \(a) vs \(b)")
      }
      return [TensorType(result ?? a.element, try broadcastDims(ctx, [a, b]))]
    },
    fold: folder)
}

private func variadic(_ name: String, _ f: @escaping @Sendable ([Double]) -> Double) -> OpSchema {
  OpSchema(
    name, operands: [.variadic("data_0")],
    inferTypes: { ctx throws(Diagnostic) in
      let types = try (0..<ctx.operandCount).map { i throws(Diagnostic) in try ctx.type(i) }
      guard Set(types.map(\.element)).count == 1 else { throw ctx.error(.typeMismatch, "operands differ in element type") }
      return [types[0].with(dims: try broadcastDims(ctx, types))]
    },
    fold: { ctx throws(Diagnostic) in
      let element = try ctx.type(0).element
      return [try foldMap(ctx, element: element, f)]
    })
}

func broadcastDims(_ ctx: OpContext, _ types: [TensorType]) throws(Diagnostic) -> [Dim] {
  guard let dims = Broadcast.shape(types.map(\.dims)) else {
    throw ctx.error("shapes \(types.map(\.description).joined(separator: ", ")) do not broadcast")
  }
  return dims
}

/// Evaluates an elementwise function over constant operands with broadcasting.
func foldMap(_ ctx: OpContext, element: ElementType, _ f: ([Double]) -> Double) throws(Diagnostic) -> TensorData {
  var inputs: [TensorData] = []
  for i in 0..<ctx.operandCount { inputs.append(try ctx.requireConstant(i)) }
  guard let shape = Broadcast.shape(inputs.map { $0.shape.map(Dim.fixed) })?.compactMap(\.value) else {
    throw ctx.error("constant operands do not broadcast")
  }
  let values = inputs.map(\.doubles)
  let strides = inputs.map { broadcastStrides(of: $0.shape, to: shape) }
  var out: [Double] = []
  out.reserveCapacity(shape.reduce(1, *))
  forEachIndex(shape) { index in
    out.append(f((0..<inputs.count).map { k in values[k][zip(index, strides[k]).reduce(0) { $0 + $1.0 * $1.1 }] }))
  }
  return TensorData(element, shape: shape, doubles: out)
}

/// Row-major element strides of `shape` seen through broadcasting to `target` (0 on broadcast axes).
public func broadcastStrides(of shape: [Int], to target: [Int]) -> [Int] {
  var strides = [Int](repeating: 0, count: target.count)
  var step = 1
  for i in stride(from: shape.count - 1, through: 0, by: -1) {
    let t = i + target.count - shape.count
    strides[t] = shape[i] == 1 ? 0 : step
    step *= shape[i]
  }
  return strides
}

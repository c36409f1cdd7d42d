import SSMCIR

/// `ssmc.FusedElementwise`: the elementwise loop nest of `lowerElementwise` with the node's expression as the
/// formula. Each call goes through the called op's entry in `elementwiseFormulas`, so a fused chain computes
/// bit for bit what its unfused nodes would (minus the stores and loads between them); each operand is
/// loaded once per element however often the expression reads it.
let fusionLowerings: [String: Lowering] = [
  "ssmc.FusedElementwise": { ctx in
    let plan = try FusedPlan(ctx)
    try lowerElementwise(ctx) { k, loaded, _ in plan.evaluate(k, loaded) }
  }
]

/// The expression resolved before emission: each call's formula and attribute context, each literal's
/// register type, so the (non-throwing) formula closure cannot meet an error. Also evaluates the epilogues
/// of fused products (FusedProduct+Lowering.swift), on whole accumulator vectors.
indirect enum FusedPlan {
  case operand(Int)
  case floatLiteral(Double, ScalarType)
  case integerLiteral(Int64, ScalarType)
  case call(Formula, OpContext, [FusedPlan])

  init(_ ctx: LoweringContext) throws {
    let elements = ctx.node.operands.indices.map { ctx.operandType($0).element }
    try self.init(ctx, operandElements: elements)
  }

  /// The node's `expr` with operand `aK` of element type `operandElements[K]`.
  init(_ ctx: LoweringContext, operandElements elements: [ElementType]) throws {
    let expression: ElementwiseExpression
    do {
      expression = try ctx.op.fusedExpression()
    } catch {
      throw ctx.error(error.message)
    }
    self = try FusedPlan.resolve(expression, ctx, elements: elements, literalElement: nil)
  }

  private static func resolve(
    _ e: ElementwiseExpression, _ ctx: LoweringContext, elements: [ElementType], literalElement: ElementType?
  ) throws -> FusedPlan {
    switch e {
    case .operand(let i): return .operand(i)
    case .literal(let text):
      guard let element = literalElement else { throw ctx.error("literal \(text) has no element type") }
      let scalar = try ctx.scalar(element)
      if element.isFloat, let v = ElementwiseExpression.floatValue(text, as: element) { return .floatLiteral(v, scalar) }
      if element.isInteger, let v = Int64(text) { return .integerLiteral(v, scalar) }
      throw ctx.error("literal \(text) is not a valid \(element) value")
    case .call(let name, let attributes, let arguments):
      guard let formula = elementwiseFormulas[name], let schema = OpRegistry.schema(name) else {
        throw ctx.error("no formula for \(name) in a fused expression")
      }
      var types: [ElementType?] = []
      do {
        for a in arguments {
          if case .literal = a { types.append(nil) } else { types.append(try a.resultElement(operands: elements)) }
        }
      } catch {
        throw ctx.error(error.message)
      }
      let literal = ElementwiseExpression.literalType(op: name, types: types)
      let resolved = try arguments.map { try resolve($0, ctx, elements: elements, literalElement: literal) }
      let operandTypes = types.map { TensorType($0 ?? literal ?? .f32, []) }
      let context = OpContext(
        schema: schema, operandTypes: operandTypes, constants: operandTypes.map { _ in nil }, attributes: attributes,
        resultCount: 1, location: Location(node: ctx.node.name, opType: name))
      return .call(formula, context, resolved)
    }
  }

  /// The expression's value from the loaded operands: scalars, or vectors of `lanes` lanes (literals then
  /// splat to that many lanes).
  func evaluate(_ k: KernelBuilder, _ loaded: [IRValue], lanes: Int = 1) -> IRValue {
    switch self {
    case .operand(let i): return loaded[i]
    case .floatLiteral(let v, let scalar): return k.constant(v, k.type(scalar, lanes: lanes))
    case .integerLiteral(let v, let scalar): return k.constant(bits: v, k.type(scalar, lanes: lanes))
    case .call(let formula, let context, let arguments):
      return formula(k, arguments.map { $0.evaluate(k, loaded, lanes: lanes) }, context)
    }
  }
}

import Foundation

/// The per-element expression of an `ssmc.FusedElementwise` node: a tree of elementwise ONNX ops over the
/// node's operands `a0`, `a1`, ... and scalar literals, written as calls with the ops' own names:
///
///     Mul(a0, Sigmoid(a0))
///     Add(Mul(a0, 0.5), a1)
///     LeakyRelu{alpha=0.1}(Sub(a0, a1))
///     Gelu{approximate='tanh'}(a0)
///
/// Grammar (spaces allowed between tokens):
///
///     expr     ::= operand | literal | call
///     operand  ::= 'a' digits                          (the node's operand at that index)
///     literal  ::= number | 'nan' | 'inf' | '-inf'     (typed by its call's other value arguments)
///     call     ::= op ['{' attr (',' attr)* '}'] '(' expr (',' expr)* ')'
///     attr     ::= identifier '=' (number | "'" text "'")
///
/// Each call means exactly what a node of that op with those attributes computes for one element, so the
/// verifier type-checks a call with the op's own shape rule on rank-0 operands and codegen evaluates it with
/// the op's own formula.
public indirect enum ElementwiseExpression: Sendable, Hashable, CustomStringConvertible {
  case operand(Int)
  /// A number as written; its element type is its call's other value arguments' (see `literalType`).
  case literal(String)
  case call(op: String, attributes: [String: Attribute], arguments: [ElementwiseExpression])

  /// Ops a fused expression may call: elementwise ops with one result and a fixed meaning per element.
  public static var callableOps: Set<String> { fusableElementwiseOps }

  public var description: String {
    switch self {
    case .operand(let i): return "a\(i)"
    case .literal(let text): return text
    case .call(let op, let attributes, let arguments):
      var text = op
      if !attributes.isEmpty {
        let items = attributes.keys.sorted().map { key in "\(key)=\(Self.describe(attributes[key]!))" }
        text += "{" + items.joined(separator: ", ") + "}"
      }
      return text + "(" + arguments.map(\.description).joined(separator: ", ") + ")"
    }
  }

  private static func describe(_ value: Attribute) -> String {
    switch value {
    case .int(let v): String(v)
    case .float(let v): v.description
    case .string(let s): "'\(s)'"
    default: "?"
    }
  }

  /// The operand indices the expression reads, each once, in order of first appearance.
  public var operandsRead: [Int] {
    var seen: [Int] = []
    func walk(_ e: ElementwiseExpression) {
      switch e {
      case .operand(let i): if !seen.contains(i) { seen.append(i) }
      case .literal: break
      case .call(_, _, let arguments): arguments.forEach(walk)
      }
    }
    walk(self)
    return seen
  }

  /// The arguments of a call to `op` that are values of the result's kind: a literal there takes the element
  /// type of the first non-literal one. Where's condition is a bool and never a literal.
  public static func valueArguments(of op: String, count: Int) -> Range<Int> {
    op == "Where" ? 1..<Swift.max(count, 1) : 0..<count
  }

  /// The element type of a literal among `arguments` (whose types are `types`, nil for literals), or nil
  /// when no value argument gives one.
  public static func literalType(op: String, types: [ElementType?]) -> ElementType? {
    for i in valueArguments(of: op, count: types.count) { if let t = types[i] { return t } }
    return nil
  }

  /// The value of a literal as a `Double` for float element types, exactly as the element type reads it.
  public static func floatValue(_ text: String, as element: ElementType) -> Double? {
    element == .f32 ? Float(text).map(Double.init) : Double(text)
  }

  /// The element type of the expression's result given the operands' element types; checks every call
  /// (known op, arity, attributes) with the op's shape rule, and every literal's type.
  public func resultElement(operands: [ElementType], at location: Location = Location()) throws(Diagnostic) -> ElementType {
    switch self {
    case .operand(let i):
      guard i < operands.count else {
        throw Diagnostic(.badAttribute, "expression reads a\(i) but the node has \(operands.count) operands", at: location)
      }
      return operands[i]
    case .literal(let text):
      throw Diagnostic(.badAttribute, "literal \(text) has no element type: it must be an argument of a call next to a non-literal value", at: location)
    case .call(let op, let attributes, let arguments):
      guard Self.callableOps.contains(op), let schema = OpRegistry.schema(op) else {
        throw Diagnostic(.badAttribute, "expression calls '\(op)', which is not a fusable elementwise op", at: location)
      }
      guard schema.operandCountRange.contains(arguments.count) else {
        throw Diagnostic(.badAttribute, "expression calls \(op) with \(arguments.count) arguments", at: location)
      }
      for (key, value) in attributes {
        guard let spec = schema.attributeSpec(key), spec.kind.accepts(value) else {
          throw Diagnostic(.badAttribute, "expression gives \(op) an unknown or mistyped attribute '\(key)'", at: location)
        }
      }
      var types: [ElementType?] = []
      for argument in arguments {
        if case .literal = argument { types.append(nil) } else { types.append(try argument.resultElement(operands: operands, at: location)) }
      }
      let valueArguments = Self.valueArguments(of: op, count: arguments.count)
      let literalElement = Self.literalType(op: op, types: types)
      for (i, argument) in arguments.enumerated() {
        guard case .literal(let text) = argument else { continue }
        guard valueArguments.contains(i), let element = literalElement else {
          throw Diagnostic(.badAttribute, "literal \(text) in \(op) has no non-literal value argument to take its type from", at: location)
        }
        let readable = element.isFloat ? Self.floatValue(text, as: element) != nil : (element.isInteger && Int64(text) != nil)
        guard readable else { throw Diagnostic(.badAttribute, "literal \(text) is not a valid \(element) value", at: location) }
        types[i] = element
      }
      let context = OpContext(
        schema: schema, operandTypes: types.map { TensorType($0!, []) }, constants: types.map { _ in nil },
        attributes: attributes, resultCount: 1, location: location)
      return try schema.inferTypes(context)[0].element
    }
  }
}

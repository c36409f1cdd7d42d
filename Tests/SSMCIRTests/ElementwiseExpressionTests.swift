import Testing
@testable import SSMCIR

/// The expression language of `ssmc.FusedElementwise`: text round trip, literal typing, result types.
struct ElementwiseExpressionTests {
  @Test(arguments: [
    "Mul(a0, Sigmoid(a0))",
    "Add(Mul(a12, 0.5), -inf)",
    "LeakyRelu{alpha=0.1}(Sub(a0, 1e-05))",
    "Gelu{approximate='tanh'}(a0)",
    "Cast{saturate=1, to=7}(Where(Less(a1, nan), a0, 2))",
  ])
  func printsBackAsParsed(text: String) throws {
    let e = try ElementwiseExpression.parse(text)
    #expect(e.description == text)
    #expect(try ElementwiseExpression.parse(e.description) == e)
  }

  @Test func spacesAreIgnored() throws {
    #expect(try ElementwiseExpression.parse(" Add ( a0 ,a1 ) ") == .call(op: "Add", attributes: [:], arguments: [.operand(0), .operand(1)]))
  }

  @Test(arguments: ["", "a", "Add(a0,)", "Add(a0) x", "b0", "Add{alpha}(a0)", "Neg(a0", "1.0.0"])
  func rejectsMalformedText(text: String) {
    #expect(throws: Diagnostic.self) { try ElementwiseExpression.parse(text) }
  }

  @Test func resultElementFollowsTheOps() throws {
    let compare = try ElementwiseExpression.parse("Where(Greater(a0, 0.0), a1, 3)")
    #expect(try compare.resultElement(operands: [.f32, .i64]) == .i64)
    let cast = try ElementwiseExpression.parse("Cast{to=11}(Mul(a0, 0.5))")
    #expect(try cast.resultElement(operands: [.f32]) == .f64)
    #expect(try ElementwiseExpression.parse("Less(a0, a1)").resultElement(operands: [.f32, .f32]) == .bool)
  }

  @Test func literalsMustFitTheirType() throws {
    // 0.5 is no i64; a literal next to an i64 value must be an integer.
    let e = try ElementwiseExpression.parse("Add(a0, 0.5)")
    #expect(throws: Diagnostic.self) { try e.resultElement(operands: [.i64]) }
    #expect(try ElementwiseExpression.parse("Add(a0, 5)").resultElement(operands: [.i64]) == .i64)
    // Mixed element types are rejected by the called op's own shape rule.
    #expect(throws: Diagnostic.self) { try ElementwiseExpression.parse("Add(a0, a1)").resultElement(operands: [.f32, .i64]) }
  }
}

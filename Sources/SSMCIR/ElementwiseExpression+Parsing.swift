/// Reads the text form of an `ElementwiseExpression` (grammar in its doc comment); `parse(e.description) == e`.
extension ElementwiseExpression {
  public static func parse(_ text: String, at location: Location = Location()) throws(Diagnostic) -> ElementwiseExpression {
    var reader = ExpressionReader(chars: Array(text), location: location)
    let expression = try reader.expression()
    reader.skipSpaces()
    guard reader.position == reader.chars.count else { throw reader.error("unexpected text after the expression") }
    return expression
  }
}

/// A cursor over the characters of one expression.
private struct ExpressionReader {
  let chars: [Character]
  let location: Location
  var position = 0

  func error(_ message: String) -> Diagnostic {
    Diagnostic(.badAttribute, "expression, at character \(position + 1): \(message)", at: location)
  }

  mutating func skipSpaces() {
    while position < chars.count, chars[position].isWhitespace { position += 1 }
  }

  /// Consumes `c` (after spaces) if it is next.
  mutating func take(_ c: Character) -> Bool {
    skipSpaces()
    guard position < chars.count, chars[position] == c else { return false }
    position += 1
    return true
  }

  mutating func expect(_ c: Character) throws(Diagnostic) {
    guard take(c) else { throw error("expected '\(c)'") }
  }

  mutating func word() -> String {
    skipSpaces()
    let start = position
    while position < chars.count, chars[position].isLetter || chars[position].isNumber || chars[position] == "_" {
      position += 1
    }
    return String(chars[start..<position])
  }

  /// A number: optional sign, digits, fraction, exponent; or `inf`, `-inf`, `nan`.
  mutating func number() -> String? {
    skipSpaces()
    let start = position
    if position < chars.count, chars[position] == "-" || chars[position] == "+" { position += 1 }
    let name = word()
    if name == "inf" || (name == "nan" && chars[start] != "-") { return String(chars[start..<position]) }
    position = start
    if position < chars.count, chars[position] == "-" || chars[position] == "+" { position += 1 }
    var digits = 0
    func run() { while position < chars.count, chars[position].isNumber { position += 1; digits += 1 } }
    run()
    if position < chars.count, chars[position] == "." {
      position += 1
      run()
    }
    guard digits > 0 else {
      position = start
      return nil
    }
    if position < chars.count, chars[position] == "e" || chars[position] == "E" {
      let mark = position
      position += 1
      if position < chars.count, chars[position] == "-" || chars[position] == "+" { position += 1 }
      let before = digits
      run()
      if digits == before { position = mark }
    }
    return String(chars[start..<position])
  }

  mutating func expression() throws(Diagnostic) -> ElementwiseExpression {
    skipSpaces()
    guard position < chars.count else { throw error("expected an operand, a number or a call") }
    if let text = number() { return .literal(text) }
    let name = word()
    guard !name.isEmpty else { throw error("expected an operand, a number or a call") }
    skipSpaces()
    let opensCall = position < chars.count && (chars[position] == "(" || chars[position] == "{")
    if !opensCall {
      if name.first == "a", let index = Int(name.dropFirst()), name.count > 1, name.dropFirst().allSatisfy(\.isNumber) {
        return .operand(index)
      }
      throw error("'\(name)' is neither an operand (a0, a1, ...) nor followed by '(' as a call")
    }
    var attributes: [String: Attribute] = [:]
    if take("{") {
      repeat {
        let key = word()
        guard !key.isEmpty else { throw error("expected an attribute name") }
        try expect("=")
        guard attributes[key] == nil else { throw error("attribute '\(key)' is given twice") }
        attributes[key] = try attributeValue()
      } while take(",")
      try expect("}")
    }
    try expect("(")
    var arguments: [ElementwiseExpression] = []
    repeat { arguments.append(try expression()) } while take(",")
    try expect(")")
    return .call(op: name, attributes: attributes, arguments: arguments)
  }

  mutating func attributeValue() throws(Diagnostic) -> Attribute {
    if take("'") {
      let start = position
      while position < chars.count, chars[position] != "'" { position += 1 }
      guard position < chars.count else { throw error("unterminated string") }
      position += 1
      return .string(String(chars[start..<(position - 1)]))
    }
    guard let text = number() else { throw error("expected a number or a 'string' as attribute value") }
    if let v = Int(text) { return .int(v) }
    guard let v = Float(text) else { throw error("'\(text)' is not a number") }
    return .float(v)
  }
}

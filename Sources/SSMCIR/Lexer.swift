/// Tokens of the text IR.
enum Token: Equatable {
  case valueName(String)  // %x or %"x y"
  case graphName(String)  // @g
  case identifier(String)
  case number(String)
  case string(String)
  case hex([UInt8])
  case punct(Character)
  case end
}

/// Splits IR text into tokens, skipping whitespace and `//` comments; remembers line numbers for errors.
struct Lexer {
  private let chars: [Character]
  private var pos = 0
  private(set) var line = 1

  init(_ text: String) { chars = Array(text) }

  private func peek(_ offset: Int = 0) -> Character? { pos + offset < chars.count ? chars[pos + offset] : nil }

  mutating func next() throws(Diagnostic) -> Token {
    skipTrivia()
    guard let c = peek() else { return .end }
    switch c {
    case "%":
      pos += 1
      return .valueName(try nameAfterSigil())
    case "@":
      pos += 1
      return .graphName(try nameAfterSigil())
    case "\"":
      return .string(try stringLiteral())
    case "0" where peek(1) == "x":
      pos += 2
      return .hex(try hexBytes())
    case _ where c.isNumber || ((c == "-" || c == "+") && (peek(1)?.isNumber == true || peek(1) == "i")):
      return .number(numberLiteral())
    case _ where c.isLetter || c == "_":
      return .identifier(identifier())
    default:
      pos += 1
      return .punct(c)
    }
  }

  private mutating func skipTrivia() {
    while let c = peek() {
      if c == "\n" {
        line += 1
        pos += 1
      } else if c.isWhitespace {
        pos += 1
      } else if c == "/" && peek(1) == "/" {
        while let d = peek(), d != "\n" { pos += 1 }
      } else {
        return
      }
    }
  }

  private mutating func nameAfterSigil() throws(Diagnostic) -> String {
    if peek() == "\"" { return try stringLiteral() }
    let name = identifier()
    guard !name.isEmpty else { throw error("expected a name after % or @") }
    return name
  }

  private mutating func identifier() -> String {
    var s = ""
    while let c = peek(), c.isLetter || c.isNumber || c == "_" || c == "." {
      s.append(c)
      pos += 1
    }
    return s
  }

  private mutating func numberLiteral() -> String {
    var s = ""
    if let c = peek(), c == "-" || c == "+" {
      s.append(c)
      pos += 1
    }
    while let c = peek() {
      let exponentSign = (c == "-" || c == "+") && (s.last == "e" || s.last == "E")
      guard c.isLetter || c.isNumber || c == "." || exponentSign else { break }
      s.append(c)
      pos += 1
    }
    return s
  }

  private mutating func stringLiteral() throws(Diagnostic) -> String {
    pos += 1
    var s = ""
    while let c = peek() {
      pos += 1
      switch c {
      case "\"": return s
      case "\\":
        guard let e = peek() else { break }
        pos += 1
        switch e {
        case "n": s.append("\n")
        case "t": s.append("\t")
        case "u":
          guard peek() == "{" else { throw error("bad \\u escape") }
          pos += 1
          var hex = ""
          while let h = peek(), h != "}" {
            hex.append(h)
            pos += 1
          }
          pos += 1
          guard let v = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(v) else { throw error("bad \\u escape") }
          s.unicodeScalars.append(scalar)
        default: s.append(e)
        }
      case "\n": throw error("unterminated string")
      default: s.append(c)
      }
    }
    throw error("unterminated string")
  }

  private mutating func hexBytes() throws(Diagnostic) -> [UInt8] {
    var digits: [UInt8] = []
    while let c = peek(), let v = c.hexDigitValue {
      digits.append(UInt8(v))
      pos += 1
    }
    guard digits.count % 2 == 0 else { throw error("hex data must have an even number of digits") }
    return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
  }

  func error(_ message: String) -> Diagnostic { Diagnostic(.parseError, "line \(line): \(message)") }
}

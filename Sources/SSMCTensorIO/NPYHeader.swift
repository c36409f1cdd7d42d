/// The header dictionary of an `.npy` file, a Python literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
struct NPYHeader: Equatable {
  var descr: String
  var fortranOrder: Bool
  var shape: [Int]

  struct ParseError: Error {
    var message: String
  }

  /// Parses the dictionary; exactly the keys `descr`, `fortran_order` and `shape` must appear, as numpy requires.
  static func parse(_ text: String) throws(ParseError) -> NPYHeader {
    var scanner = Scanner(text: Array(text.utf8))
    var descr: String?
    var fortranOrder: Bool?
    var shape: [Int]?
    try scanner.expect("{")
    while true {
      scanner.skipSpaces()
      if scanner.consume("}") { break }
      let key = try scanner.string()
      try scanner.expect(":")
      switch key {
      case "descr" where descr == nil:
        scanner.skipSpaces()
        // A list here is a structured dtype, which has no tensor equivalent.
        if scanner.peek == UInt8(ascii: "[") { throw ParseError(message: "structured dtypes are not supported") }
        descr = try scanner.string()
      case "fortran_order" where fortranOrder == nil:
        fortranOrder = try scanner.bool()
      case "shape" where shape == nil:
        shape = try scanner.intTuple()
      default:
        throw ParseError(message: "unexpected or repeated key '\(key)'")
      }
      scanner.skipSpaces()
      if scanner.consume(",") { continue }
      try scanner.expect("}")
      break
    }
    scanner.skipSpaces()
    guard scanner.atEnd else { throw ParseError(message: "text after the closing brace") }
    guard let descr, let fortranOrder, let shape else {
      throw ParseError(message: "missing one of the keys 'descr', 'fortran_order', 'shape'")
    }
    return NPYHeader(descr: descr, fortranOrder: fortranOrder, shape: shape)
  }

  /// A cursor over the header's ASCII bytes.
  private struct Scanner {
    var text: [UInt8]
    var position = 0

    var atEnd: Bool { position >= text.count }
    var peek: UInt8? { atEnd ? nil : text[position] }

    mutating func skipSpaces() {
      while let c = peek, c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D { position += 1 }
    }

    mutating func consume(_ token: String) -> Bool {
      let bytes = Array(token.utf8)
      guard text.count - position >= bytes.count, Array(text[position..<(position + bytes.count)]) == bytes else {
        return false
      }
      position += bytes.count
      return true
    }

    mutating func expect(_ token: String) throws(ParseError) {
      skipSpaces()
      guard consume(token) else { throw ParseError(message: "expected '\(token)' at offset \(position)") }
    }

    /// A quoted string without escapes (numpy's keys and dtype strings need none).
    mutating func string() throws(ParseError) -> String {
      skipSpaces()
      guard let quote = peek, quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") else {
        throw ParseError(message: "expected a quoted string at offset \(position)")
      }
      position += 1
      let start = position
      while let c = peek, c != quote {
        if c == UInt8(ascii: "\\") { throw ParseError(message: "escapes in strings are not supported") }
        position += 1
      }
      guard !atEnd else { throw ParseError(message: "unterminated string") }
      let value = String(decoding: text[start..<position], as: UTF8.self)
      position += 1
      return value
    }

    mutating func bool() throws(ParseError) -> Bool {
      skipSpaces()
      if consume("True") { return true }
      if consume("False") { return false }
      throw ParseError(message: "expected True or False at offset \(position)")
    }

    /// `()`, `(3,)` or `(2, 3)`; Python 2 writers may add an `L` suffix to each number.
    mutating func intTuple() throws(ParseError) -> [Int] {
      try expect("(")
      var values: [Int] = []
      while true {
        skipSpaces()
        if consume(")") { return values }
        let start = position
        while let c = peek, c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") { position += 1 }
        guard position > start, let value = Int(String(decoding: text[start..<position], as: UTF8.self)) else {
          throw ParseError(message: "expected a non-negative dimension at offset \(start)")
        }
        _ = consume("L")
        values.append(value)
        skipSpaces()
        if consume(",") { continue }
        try expect(")")
        return values
      }
    }
  }
}

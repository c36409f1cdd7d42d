/// Reads the text form written by `Printer` back into graphs. One file may hold several graphs.
public struct Parser {
  private var lexer: Lexer
  private var token: Token = .end
  private var names: [String: ValueID] = [:]
  private var graph = Graph(name: "")
  private var nameLine = 1
  private var consumedLine = 1

  /// Parses every graph in `text`.
  public static func parse(_ text: String) throws(Diagnostic) -> [Graph] {
    var parser = Parser(text)
    try parser.advance()
    var graphs: [Graph] = []
    while parser.token != .end { graphs.append(try parser.parseGraph()) }
    return graphs
  }
  /// Parses text that holds exactly one graph.
  public static func parseGraph(_ text: String) throws(Diagnostic) -> Graph {
    let graphs = try parse(text)
    guard graphs.count == 1 else { throw Diagnostic(.parseError, "expected one graph, found \(graphs.count)") }
    return graphs[0]
  }

  private init(_ text: String) { lexer = Lexer(text) }

  private mutating func advance() throws(Diagnostic) {
    consumedLine = lexer.line
    token = try lexer.next()
  }
  /// An error about tokens already consumed: the lookahead the lexer stands on may be on a later line.
  private func consumedError(_ message: String) -> Diagnostic { Diagnostic(.parseError, "line \(consumedLine): \(message)") }
  private func error(_ message: String) -> Diagnostic { lexer.error("\(message) (at \(describe(token)))") }
  private func describe(_ t: Token) -> String {
    switch t {
    case .valueName(let s): "%\(s)"
    case .graphName(let s): "@\(s)"
    case .identifier(let s), .number(let s): "'\(s)'"
    case .string(let s): "\"\(s)\""
    case .hex: "hex data"
    case .punct(let c): "'\(c)'"
    case .end: "end of input"
    }
  }
  private mutating func expect(_ c: Character) throws(Diagnostic) {
    guard token == .punct(c) else { throw error("expected '\(c)'") }
    try advance()
  }
  private mutating func accept(_ c: Character) throws(Diagnostic) -> Bool {
    guard token == .punct(c) else { return false }
    try advance()
    return true
  }
  private mutating func expectKeyword(_ word: String) throws(Diagnostic) {
    guard token == .identifier(word) else { throw error("expected '\(word)'") }
    try advance()
  }

  private mutating func parseGraph() throws(Diagnostic) -> Graph {
    try expectKeyword("graph")
    guard case .graphName(let name) = token else { throw error("expected @name") }
    graph = Graph(name: name)
    names = [:]
    try advance()
    try expect("(")
    if token != .punct(")") {
      repeat {
        let name = try valueName()
        try expect(":")
        guard let type = try parseType() else { throw error("graph inputs need a type") }
        try define(name, graph.addInput(name: name, type: type))
      } while try accept(",")
    }
    try expect(")")
    try expect("{")
    while token != .identifier("return") { try parseStatement() }
    try advance()
    if token != .punct("}") {
      repeat {
        let name = try valueName()
        let id = try use(name)
        var outputName = name
        if token == .identifier("as") {
          try advance()
          guard case .string(let s) = token else { throw error("expected an output name string after 'as'") }
          outputName = s
          try advance()
        }
        graph.outputs.append(GraphOutput(name: outputName, value: id))
      } while try accept(",")
    }
    try expect("}")
    return graph
  }

  private mutating func parseStatement() throws(Diagnostic) {
    var results: [String] = []
    repeat { results.append(try valueName()) } while try accept(",")
    let resultLine = nameLine
    try expect("=")
    guard case .identifier(let op) = token else { throw error("expected an op name or 'const'") }
    try advance()
    if op == "const" {
      guard results.count == 1 else { throw error("a const defines one value") }
      guard let type = try parseType(), let shape = type.staticShape else { throw error("a const needs a static type") }
      try define(results[0], graph.addConstant(name: results[0], try parseConstantData(type.element, shape)))
      return
    }
    try expect("(")
    var operands: [ValueID?] = []
    if token != .punct(")") {
      repeat {
        if token == .identifier("none") {
          try advance()
          operands.append(nil)
        } else {
          operands.append(try use(try valueName()))
        }
      } while try accept(",")
    }
    try expect(")")
    var attributes: [String: Attribute] = [:]
    if try accept("{") {
      if token != .punct("}") {
        repeat {
          let key: String
          switch token {
          case .identifier(let s), .string(let s): key = s
          default: throw error("expected an attribute name")
          }
          try advance()
          try expect("=")
          attributes[key] = try parseAttribute()
        } while try accept(",")
      }
      try expect("}")
    }
    try expect(":")
    var types: [TensorType?] = []
    repeat { types.append(try parseType()) } while try accept(",")
    guard types.count == results.count else { throw error("\(results.count) results but \(types.count) types") }
    var location = ""
    if token == .identifier("loc") {
      try advance()
      try expect("(")
      guard case .string(let s) = token else { throw error("expected a string in loc(...)") }
      location = s
      try advance()
      try expect(")")
    }
    var ids: [ValueID] = []
    nameLine = resultLine
    for (name, type) in zip(results, types) {
      let id = graph.addValue(name: name, type: type)
      try define(name, id)
      ids.append(id)
    }
    graph.nodes.append(Node(op: op, operands: operands, results: ids, attributes: attributes, name: location))
  }

  private mutating func valueName() throws(Diagnostic) -> String {
    guard case .valueName(let name) = token else { throw error("expected a %value") }
    nameLine = lexer.line
    try advance()
    return name
  }
  /// An error about the last %name read. By now the lexer is at the next token, which may be on a later line.
  private func nameError(_ message: String) -> Diagnostic { Diagnostic(.parseError, "line \(nameLine): \(message)") }
  private mutating func define(_ name: String, _ id: ValueID) throws(Diagnostic) {
    guard names[name] == nil else { throw nameError("%\(name) is defined twice") }
    names[name] = id
  }
  private func use(_ name: String) throws(Diagnostic) -> ValueID {
    guard let id = names[name] else { throw nameError("%\(name) is used before it is defined") }
    return id
  }

  /// `?` (unknown) or `f32[2,B,3]`.
  private mutating func parseType() throws(Diagnostic) -> TensorType? {
    if try accept("?") { return nil }
    guard case .identifier(let name) = token, let element = ElementType(name: name) else {
      throw error("expected an element type such as f32")
    }
    try advance()
    try expect("[")
    var dims: [Dim] = []
    if token != .punct("]") {
      repeat {
        let dim = Dim(try parseDimSum())
        if let v = dim.value, v < 0 { throw consumedError("bad dimension \(v)") }
        dims.append(dim)
      } while try accept(",")
    }
    try expect("]")
    return TensorType(element, dims)
  }

  // A dim: a number, a symbol (bare or quoted), or an expression of them with + - * and floor division by a
  // number (/), min(a, b) and max(a, b), as `DimExpr` prints it.
  private mutating func parseDimSum() throws(Diagnostic) -> DimExpr {
    // A leading minus negates the whole first term, as the printer means it: `-(h + 1)/2` is -floor((h + 1)/2).
    let negated = try accept("-")
    var sum = try parseDimProduct(try parseDimAtom())
    if negated { sum = try dimResult(sum.scaled(by: -1)) }
    while true {
      if try accept("+") {
        sum = try dimResult(sum.plus(try parseDimProduct(try parseDimAtom())))
      } else if try accept("-") {
        sum = try dimResult(sum.minus(try parseDimProduct(try parseDimAtom())))
      } else if case .number(let text) = token, text.hasPrefix("-") || text.hasPrefix("+") {
        // The lexer reads `h -1` as a symbol and a signed number.
        sum = try dimResult(sum.plus(try parseDimProduct(try parseDimAtom())))
      } else {
        return sum
      }
    }
  }
  private mutating func parseDimProduct(_ first: DimExpr) throws(Diagnostic) -> DimExpr {
    var product = first
    while true {
      if try accept("*") {
        product = try dimResult(product.times(try parseDimAtom()))
      } else if try accept("/") {
        guard case .number(let text) = token, let divisor = Int(text), divisor > 0 else { throw error("expected a positive divisor") }
        try advance()
        product = try dimResult(product.floorDivided(by: divisor))
      } else {
        return product
      }
    }
  }
  private mutating func parseDimAtom() throws(Diagnostic) -> DimExpr {
    switch token {
    case .number(let text):
      guard let v = Int(text) else { throw error("bad dimension \(text)") }
      try advance()
      return DimExpr(v)
    case .string(let name):
      try advance()
      return DimExpr(symbol: name)
    case .identifier(let name):
      try advance()
      guard name == "min" || name == "max", try accept("(") else { return DimExpr(symbol: name) }
      let a = try parseDimSum()
      try expect(",")
      let b = try parseDimSum()
      try expect(")")
      return name == "min" ? .minimum(a, b) : .maximum(a, b)
    case .punct("("):
      try advance()
      let inner = try parseDimSum()
      try expect(")")
      return inner
    case .punct("-"):
      try advance()
      return try dimResult(try parseDimAtom().scaled(by: -1))
    default: throw error("expected a dimension")
    }
  }
  private func dimResult(_ e: DimExpr?) throws(Diagnostic) -> DimExpr {
    guard let e else { throw consumedError("dimension arithmetic overflows") }
    return e
  }

  private mutating func parseConstantData(_ element: ElementType, _ shape: [Int]) throws(Diagnostic) -> TensorData {
    let count = shape.reduce(1, *)
    if case .hex(let bytes) = token {
      try advance()
      guard bytes.count == count * element.byteSize else { throw consumedError("hex data has \(bytes.count) bytes, type needs \(count * element.byteSize)") }
      return TensorData(element, shape: shape, bytes: bytes)
    }
    if token == .punct("<") { throw error("elided constant data cannot be parsed; print without elision") }
    try expect("[")
    var texts: [String] = []
    if token != .punct("]") {
      repeat { texts.append(try scalar()) } while try accept(",")
    }
    try expect("]")
    guard texts.count == count else { throw consumedError("constant has \(texts.count) values, its type needs \(count)") }
    // 64-bit integers are read exactly; Double would round values above 2^53.
    switch element {
    case .i64:
      var values: [Int64] = []
      for t in texts {
        if let v = Int64(t) { values.append(v) } else { values.append(Int64(clamping: try number(t))) }
      }
      return TensorData(.i64, shape: shape, bytes: TensorData.pack(values))
    case .u64:
      var values: [UInt64] = []
      for t in texts {
        if let v = UInt64(t) { values.append(v) } else { values.append(UInt64(truncatingIfNeeded: Int64(clamping: try number(t)))) }
      }
      return TensorData(.u64, shape: shape, bytes: TensorData.pack(values))
    default:
      var values: [Double] = []
      for t in texts { values.append(try number(t)) }
      return TensorData(element, shape: shape, doubles: values)
    }
  }

  /// The text of one scalar literal.
  private mutating func scalar() throws(Diagnostic) -> String {
    let text: String
    switch token {
    case .number(let s): text = s
    case .identifier(let s) where s == "nan" || s == "inf": text = s
    default: throw error("expected a number")
    }
    try advance()
    return text
  }

  private func number(_ text: String) throws(Diagnostic) -> Double {
    guard let v = Double(text) else { throw consumedError("bad number \(text)") }
    return v
  }

  private mutating func parseAttribute() throws(Diagnostic) -> Attribute {
    switch token {
    case .string(let s):
      try advance()
      return .string(s)
    case .number(let s), .identifier(let s) where s != "dense":
      try advance()
      if let v = Int(s) { return .int(v) }
      guard let f = Float(s) else { throw error("bad attribute value \(s)") }
      return .float(f)
    case .identifier("dense"):
      try advance()
      try expect("<")
      guard let type = try parseType(), let shape = type.staticShape else { throw error("dense needs a static type") }
      let data = try parseConstantData(type.element, shape)
      try expect(">")
      return .tensor(data)
    case .punct("["):
      try advance()
      var items: [Token] = []
      if token != .punct("]") {
        repeat {
          items.append(token)
          try advance()
        } while try accept(",")
      }
      try expect("]")
      if items.allSatisfy({ if case .string = $0 { true } else { false } }) && !items.isEmpty {
        return .strings(items.map { if case .string(let s) = $0 { s } else { "" } })
      }
      let texts = items.map { t -> String in
        switch t {
        case .number(let s), .identifier(let s): s
        default: ""
        }
      }
      if let ints = Optional(texts.compactMap { Int($0) }), ints.count == texts.count { return .ints(ints) }
      let floats = texts.compactMap { Float($0) }
      guard floats.count == texts.count else { throw error("bad list attribute") }
      return .floats(floats)
    default:
      throw error("expected an attribute value")
    }
  }
}

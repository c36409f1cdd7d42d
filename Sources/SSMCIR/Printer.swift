/// Prints a graph in the text form that `Parser` reads back (see docs/ir.md for the grammar).
///
///     graph @name(%x: f32[1,3], %n: i64[]) {
///       %w = const f32[3] [0.5, 1.0, 2.0]
///       %y = Mul(%x, %w) : f32[1,3] loc("mul0")
///       return %y as "output"
///     }
public struct Printer: Sendable {
  /// Constants with more elements than this print as `<elided>` (the text then no longer parses back).
  public var elideConstantsLargerThan: Int?
  /// Constants with at most this many elements print as a value list; larger ones as hex bytes.
  public var inlineListLimit = 16

  public init(elideConstantsLargerThan: Int? = nil) {
    self.elideConstantsLargerThan = elideConstantsLargerThan
  }

  public func print(_ graph: Graph) -> String {
    var names = ValueNames(graph)
    var out = "graph @\(identifierOrQuoted(graph.name))("
    out += graph.inputs.map { "\(names[$0]): \(typeText(graph.type(of: $0)))" }.joined(separator: ", ")
    out += ") {\n"
    for (id, data) in graph.constants.sorted(by: { $0.key < $1.key }) {
      out += "  \(names[id]) = const \(data.type) \(constantText(data))\n"
    }
    for node in graph.nodes {
      out += "  "
      if !node.results.isEmpty { out += node.results.map { names[$0] }.joined(separator: ", ") + " = " }
      out += node.op + "(" + node.operands.map { $0.map { names[$0] } ?? "none" }.joined(separator: ", ") + ")"
      if !node.attributes.isEmpty {
        let attrs = node.attributes.sorted { $0.key < $1.key }.map { "\(identifierOrQuoted($0.key)) = \(attributeText($0.value))" }
        out += " {" + attrs.joined(separator: ", ") + "}"
      }
      out += " : " + node.results.map { typeText(graph.type(of: $0)) }.joined(separator: ", ")
      if !node.name.isEmpty { out += " loc(\(quoted(node.name)))" }
      out += "\n"
    }
    let returned = graph.outputs.map { o -> String in
      let printed = names[o.value]
      return printed == "%" + identifierOrQuoted(o.name) ? printed : "\(printed) as \(quoted(o.name))"
    }
    out += "  return " + returned.joined(separator: ", ") + "\n}\n"
    return out
  }

  func typeText(_ type: TensorType?) -> String { type.map(\.description) ?? "?" }

  func constantText(_ data: TensorData) -> String {
    if let limit = elideConstantsLargerThan, data.count > limit { return "<elided>" }
    if data.count <= inlineListLimit {
      // 64-bit integers print from their bits: through Double they lose digits above 2^53, and INT64_MAX
      // (ONNX's "to the end" in Slice) does not even convert back.
      let items: [String] =
        switch data.element {
        case .i64: data.int64s.map { String($0) }
        case .u64: TensorData.unpack(data.bytes, as: UInt64.self).map { String($0) }
        default: (0..<data.count).map { scalarText(data.element(at: $0), data.element) }
        }
      return "[" + items.joined(separator: ", ") + "]"
    }
    return "0x" + data.bytes.map { byte in
      let s = String(byte, radix: 16)
      return s.count == 1 ? "0" + s : s
    }.joined()
  }

  func attributeText(_ a: Attribute) -> String {
    switch a {
    case .int(let v): String(v)
    case .float(let v): floatText(Double(v), .f32)
    case .string(let s): quoted(s)
    case .ints(let v): "[" + v.map(String.init).joined(separator: ", ") + "]"
    case .floats(let v): "[" + v.map { floatText(Double($0), .f32) }.joined(separator: ", ") + "]"
    case .strings(let v): "[" + v.map(quoted).joined(separator: ", ") + "]"
    case .tensor(let t): "dense<\(t.type) \(constantText(t))>"
    }
  }
}

/// Scalars print so that parsing gives back the same bits: integers plainly, floats always with a point or exponent.
func scalarText(_ v: Double, _ element: ElementType) -> String {
  element.isFloat ? floatText(v, element) : String(Int64(v))
}

func floatText(_ v: Double, _ element: ElementType) -> String {
  if v.isNaN { return "nan" }
  if v.isInfinite { return v < 0 ? "-inf" : "inf" }
  let s = element == .f64 ? v.description : Float(v).description
  return s.contains(".") || s.contains("e") ? s : s + ".0"
}

func isIdentifier(_ s: String) -> Bool {
  !s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "." }
    && s.unicodeScalars.allSatisfy(\.isASCII)
}

func identifierOrQuoted(_ s: String) -> String { isIdentifier(s) ? s : quoted(s) }

func quoted(_ s: String) -> String {
  var out = "\""
  for c in s.unicodeScalars {
    switch c {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\n": out += "\\n"
    case "\t": out += "\\t"
    default:
      if c.value < 0x20 { out += "\\u{\(String(c.value, radix: 16))}" } else { out.unicodeScalars.append(c) }
    }
  }
  return out + "\""
}

/// Printed names of values: a value's own name where it is unique, otherwise a fresh `%tN` or `%name_N`.
struct ValueNames {
  private var printed: [ValueID: String] = [:]

  init(_ graph: Graph) {
    var used = Set<String>()
    var counter = 0
    var order = graph.inputs + graph.constants.keys.sorted()
    for node in graph.nodes { order += node.results }
    for id in order where printed[id] == nil {
      var name = graph[id].name
      if name.isEmpty || used.contains(name) {
        let base = name.isEmpty ? "t" : name + "_"
        repeat {
          name = "\(base)\(counter)"
          counter += 1
        } while used.contains(name)
      }
      used.insert(name)
      printed[id] = "%" + identifierOrQuoted(name)
    }
  }

  subscript(_ id: ValueID) -> String { printed[id] ?? "%<undefined v\(id.index)>" }
}

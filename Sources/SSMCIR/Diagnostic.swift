/// Where a problem is: the model file and the node, as the user knows them.
public struct Location: Sendable, Hashable, CustomStringConvertible {
  public var file: String?
  public var node: String?
  public var opType: String?
  public var domain: String?
  public var opset: Int?

  public init(file: String? = nil, node: String? = nil, opType: String? = nil, domain: String? = nil, opset: Int? = nil) {
    self.file = file
    self.node = node
    self.opType = opType
    self.domain = domain
    self.opset = opset
  }

  public var description: String {
    var parts: [String] = []
    if let file { parts.append(file) }
    if let opType {
      // IR names of ssmc's ops carry their domain as a prefix (`ssmc.SelectiveScan`).
      let (dom, type) = opType.hasPrefix("ssmc.") ? ("ai.ssmc", String(opType.dropFirst(5))) : ((domain ?? "").isEmpty ? "ai.onnx" : domain!, opType)
      parts.append("\(dom).\(type)" + (opset.map { " (opset \($0))" } ?? ""))
    }
    if let node, !node.isEmpty { parts.append("node '\(node)'") }
    return parts.joined(separator: ": ")
  }
}

/// One problem in the user's model or IR text, with what is needed to find and fix it.
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
  /// Stable codes: tests and scripts match on these, never on the wording.
  public enum Code: String, Sendable {
    case unsupportedOp, malformedModel, badAttribute, badOperand, shapeMismatch, typeMismatch, unknownShape
    case parseError, verifierError, externalData, unsupportedFeature, internalError
  }
  public var code: Code
  public var message: String
  public var location: Location

  public init(_ code: Code, _ message: String, at location: Location = Location()) {
    self.code = code
    self.message = message
    self.location = location
  }

  public var description: String {
    let loc = location.description
    return loc.isEmpty ? "error: \(message)" : "\(loc): error: \(message)"
  }
}

/// Every problem found in one input; stages report them together.
public struct Diagnostics: Error, Sendable, CustomStringConvertible {
  public var all: [Diagnostic]
  public init(_ all: [Diagnostic]) { self.all = all }
  public init(_ one: Diagnostic) { self.all = [one] }
  public var description: String { all.map(\.description).joined(separator: "\n") }
}

/// A failure in code generation, optimization, emission or linking, with the tool's own message.
public struct CodegenError: Error, Sendable, CustomStringConvertible {
  /// Stable kind of failure; tests and the CLI match on this, never on the wording.
  public enum Code: String, Sendable {
    case invalidModule, unknownCPU, unknownTriple, targetMachine, optimization, emission, link, io
  }
  public var code: Code
  /// What went wrong, including the message of LLVM or the C compiler.
  public var message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { "\(code.rawValue): \(message)" }
}

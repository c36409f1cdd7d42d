/// A failure loading or running a compiled model.
public struct RuntimeError: Error, Sendable, CustomStringConvertible {
  public enum Code: String, Sendable {
    /// dlopen failed or a required symbol is missing.
    case loadFailed
    /// Wrong number of tensors, wrong element type, or a byte count that does not match the shape.
    case invalidArgument
    case shapeMismatch
    case outOfMemory
    /// The library reported an internal failure (or an unknown status).
    case `internal`
  }
  public var code: Code
  public var message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { "\(code.rawValue): \(message)" }

  /// Maps an `SSMC_*` status of the C ABI.
  init(status: Int32, message: String) {
    let code: Code =
      switch status {
      case 1: .invalidArgument
      case 2: .shapeMismatch
      case 3: .outOfMemory
      default: .internal
      }
    self.init(code, message)
  }
}

import ArgumentParser
import Foundation

@main
struct SSMC: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ssmc",
    abstract: "A compiler for state-space vision models: ONNX in, a native shared library with a C ABI out.",
    subcommands: [DumpIR.self, Inspect.self, Ops.self, Run.self, Check.self])

  /// Like ArgumentParser's default, except that usage errors exit 2 (as `ssmc check` documents, and as
  /// getopt-style tools do) instead of 64.
  static func main() {
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch {
      guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
      FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
      Foundation.exit(2)
    }
  }
}

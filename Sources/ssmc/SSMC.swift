import ArgumentParser
import Foundation

@main
struct SSMC: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ssmc",
    abstract: "A compiler for state-space vision models: ONNX in, a native shared library with a C ABI out.",
    subcommands: [Compile.self, DumpIR.self, Inspect.self, Run.self, Check.self, Ops.self])

  /// Like ArgumentParser's default, with two differences: `-O0` ... `-O3` (compiler-style flags ArgumentParser
  /// cannot declare) become `--opt-level N`, and usage errors exit 2 (as getopt-style tools do) instead of 64.
  static func main() {
    let arguments = CommandLine.arguments.dropFirst().map { argument -> [String] in
      if argument.count == 3, argument.hasPrefix("-O"), let level = Int(argument.dropFirst(2)) {
        return ["--opt-level", String(level)]
      }
      return [argument]
    }.flatMap { $0 }
    do {
      var command = try parseAsRoot(arguments)
      try command.run()
    } catch {
      guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
      FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
      Foundation.exit(2)
    }
  }
}

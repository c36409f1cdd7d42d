import ArgumentParser

@main
struct SSMC: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ssmc",
    abstract: "A compiler for state-space vision models: ONNX in, a native shared library with a C ABI out.",
    subcommands: [Compile.self, DumpIR.self, Inspect.self, Ops.self])

  /// `-O0` ... `-O3` are compiler-style flags ArgumentParser cannot declare; they become `--opt-level N`.
  static func main() {
    let arguments = CommandLine.arguments.dropFirst().map { argument -> [String] in
      if argument.count == 3, argument.hasPrefix("-O"), let level = Int(argument.dropFirst(2)) {
        return ["--opt-level", String(level)]
      }
      return [argument]
    }.flatMap { $0 }
    main(arguments)
  }
}

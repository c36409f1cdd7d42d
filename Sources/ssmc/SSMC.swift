import ArgumentParser

@main
struct SSMC: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ssmc",
    abstract: "A compiler for state-space vision models: ONNX in, a native shared library with a C ABI out.",
    subcommands: [Compile.self, DumpIR.self, Inspect.self, Run.self, Check.self, Ops.self])
}

import ArgumentParser

@main
struct SSMC: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ssmc",
    abstract: "A compiler for state-space vision models: ONNX in, a native shared library with a C ABI out.",
    subcommands: [DumpIR.self, Inspect.self, Ops.self, Run.self, Check.self])
}

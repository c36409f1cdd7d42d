import ArgumentParser
import SSMCIR
import SSMCPasses

struct DumpIR: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dump-ir", abstract: "Print the model's IR after import, or after a pass.")

  @OptionGroup var model: ModelOptions

  @Option(help: ArgumentHelp("Print the IR after this pass of the default pipeline.", valueName: "PASS"))
  var after: String?

  @Flag(name: .customLong("after-all"), help: "Print the IR after import and after every pass.")
  var afterAll = false

  @Option(name: .customLong("elide-constants"), help: "Print constants with more elements than this as <elided> (-1: never).")
  var elideConstants = 16

  func run() throws {
    var graph = try model.importGraph()
    let printer = Printer(elideConstantsLargerThan: elideConstants < 0 ? nil : elideConstants)
    if after == nil && !afterAll {
      print(printer.print(graph), terminator: "")
      return
    }
    if afterAll { print("// ----- IR after import -----\n" + printer.print(graph), terminator: "") }
    var manager = PassManager(passes: Pipeline.standard)
    if let after {
      guard Pipeline.registry[after] != nil else {
        throw ValidationError("no pass named '\(after)'; passes: \(Pipeline.registry.keys.sorted().joined(separator: ", "))")
      }
      manager.printAfter = [after]
      manager.stopAfter = after
    }
    manager.printAfterAll = afterAll
    manager.printer = printer
    do {
      try manager.run(&graph)
    } catch {
      throw reportAndExit(error)
    }
  }
}

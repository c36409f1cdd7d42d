import SSMCIR

/// A graph-to-graph transformation with a stable CLI name (`--print-ir-after=NAME`).
/// A pass takes verified IR and returns verified IR; it reports problems in the user's model as diagnostics.
public protocol Pass: Sendable {
  /// Kebab-case name used on the command line and in IR dumps.
  var name: String { get }
  /// Rewrites `graph`; returns true when it changed anything.
  func run(on graph: inout Graph) throws(Diagnostics) -> Bool
}

/// Runs passes in order with the instrumentation requested: IR printing after all or named passes,
/// verification after each pass, and stopping after a named pass.
public struct PassManager: Sendable {
  public var passes: [any Pass]
  public var printAfterAll = false
  public var printAfter: Set<String> = []
  /// Stop after this pass (the remaining passes do not run).
  public var stopAfter: String?
  /// Verify after every pass (on in tests and by default; a broken invariant names the pass that broke it).
  public var verifyEach = true
  /// Where IR dumps go; the CLI prints them to stdout or stderr.
  public var dump: @Sendable (String) -> Void = { print($0, terminator: "") }
  public var printer = Printer(elideConstantsLargerThan: 16)

  public init(passes: [any Pass]) { self.passes = passes }

  public func run(_ graph: inout Graph) throws(Diagnostics) {
    if let stop = stopAfter, !passes.contains(where: { $0.name == stop }) {
      throw Diagnostics(Diagnostic(.internalError, "--stop-after: no pass named '\(stop)' in the pipeline"))
    }
    for pass in passes {
      _ = try pass.run(on: &graph)
      if verifyEach {
        do {
          try Verifier(requireTypes: false).verify(graph)
        } catch {
          throw Diagnostics(error.all.map { d in
            var d = d
            d.message = "after pass '\(pass.name)': " + d.message
            return d
          })
        }
      }
      if printAfterAll || printAfter.contains(pass.name) {
        dump("// ----- IR after \(pass.name) -----\n" + printer.print(graph))
      }
      if pass.name == stopAfter { return }
    }
  }
}

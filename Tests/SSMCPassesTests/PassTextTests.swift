import Foundation
import SSMCCheck
import SSMCIR
import SSMCPasses
import Testing

/// Runs every `Inputs/*.ssmc` file: each `// -----` case is parsed, verified, run through its `RUN:` pipeline
/// with verify-each, printed, and matched against its CHECK lines (or its expected-error lines).
/// With `SSMC_UPDATE_CHECKS=1`, failing cases get CHECK lines generated from their output (see `CheckUpdater`).
struct PassTextTests {
  static let inputs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Inputs")
  static let files: [String] =
    ((try? FileManager.default.contentsOfDirectory(atPath: inputs.path)) ?? []).filter { $0.hasSuffix(".ssmc") }.sorted()

  @Test(arguments: files)
  func textCases(file: String) throws {
    let url = Self.inputs.appendingPathComponent(file)
    let text = try String(contentsOf: url, encoding: .utf8)
    let testFile: TestFile
    do {
      testFile = try TestFile(name: "Inputs/\(file)", text: text)
    } catch {
      Issue.record("\(error)", sourceLocation: Self.location(file, url, line: error.line))
      return
    }
    var failedOutputs: [Int: String] = [:]
    for item in testFile.cases {
      let outcome = CaseRunner.run(item)
      do {
        try item.verify(outcome)
      } catch {
        Issue.record("\(error)", sourceLocation: Self.location(file, url, line: error.line))
        if item.expectedErrors.isEmpty, case .output(let printed) = outcome { failedOutputs[item.index] = printed }
      }
      guard case .output(let printed) = outcome else { continue }
      // Every printed result must read back to the same text, or the text form loses information.
      let reprinted = (try? Parser.parse(printed))?.map { Printer().print($0) }.joined()
      #expect(reprinted == printed, "output of \(item.locationDescription) does not parse back to itself")
      if ProcessInfo.processInfo.environment["SSMC_TEXT_TESTS_VERBOSE"] == "1" {
        print("// \(item.locationDescription)\n\(printed)")
      }
    }
    // Recording always fails (through the issues above), so a new baseline never passes unreviewed.
    if ProcessInfo.processInfo.environment["SSMC_UPDATE_CHECKS"] == "1", !failedOutputs.isEmpty {
      let updated = CheckUpdater.update(text, cases: testFile.cases, outputs: failedOutputs)
      try updated.write(to: url, atomically: true, encoding: .utf8)
      Issue.record("SSMC_UPDATE_CHECKS: rewrote the CHECK lines of \(failedOutputs.count) failing case(s) in \(file); review the diff")
    }
  }

  /// An empty or misplaced Inputs folder would make `textCases` run nothing and pass.
  @Test func inputsAreFound() {
    #expect(Self.files.count >= 5, "no .ssmc files found in \(Self.inputs.path)")
  }

  /// Points a failure at the .ssmc line, so an editor jumps to the directive.
  static func location(_ file: String, _ url: URL, line: Int) -> SourceLocation {
    SourceLocation(fileID: "SSMCPassesTests/\(file)", filePath: url.path, line: max(line, 1), column: 1)
  }
}

/// Runs one text case: parse, verify, run the pipeline, print.
enum CaseRunner {
  static func run(_ item: TestCase) -> CaseOutcome {
    let graphs: [Graph]
    do {
      graphs = try Parser.parse(item.textWithFileLineNumbers)
    } catch {
      return .diagnostics([report(error, in: item)])
    }
    let passes: [any Pass]
    do {
      passes = try pipeline(item.pipeline)
    } catch {
      return .diagnostics(error.all.map { report($0, in: item) })
    }
    var output = ""
    var problems: [ReportedDiagnostic] = []
    for var graph in graphs {
      do {
        try Verifier(requireTypes: false).verify(graph)
        var manager = PassManager(passes: passes)
        manager.verifyEach = true
        try manager.run(&graph)
        output += Printer().print(graph)
      } catch {
        problems += error.all.map { report($0, in: item) }
      }
    }
    return problems.isEmpty ? .output(output) : .diagnostics(problems)
  }

  /// `standard` is the default pipeline; anything else is a comma-separated list of pass names.
  static func pipeline(_ text: String) throws(Diagnostics) -> [any Pass] {
    text == "standard" ? Pipeline.standard : try Pipeline.parse(text)
  }

  /// The diagnostic with the test-file line it points at: the parser's "line N", or the line of the
  /// node whose `loc("name")` the diagnostic names.
  static func report(_ d: Diagnostic, in item: TestCase) -> ReportedDiagnostic {
    var line: Int?
    if d.code == .parseError, d.message.hasPrefix("line "),
      let n = Int(d.message.dropFirst(5).prefix { $0.isNumber })
    {
      line = n
    } else if let node = d.location.node, !node.isEmpty {
      let marker = "loc(\"\(node)\")"
      let lines = item.text.split(separator: "\n", omittingEmptySubsequences: false)
      line = lines.firstIndex { $0.contains(marker) }.map { item.firstLine + $0 }
    }
    return ReportedDiagnostic(d.description, line: line)
  }
}

/// A diagnostic reported while running a case, as the checker sees it.
public struct ReportedDiagnostic: Sendable, Hashable, CustomStringConvertible {
  /// The full rendered text (location and message); `expected-error` matches a substring of it.
  public var message: String
  /// The test-file line the diagnostic points at, when the runner can tell.
  public var line: Int?

  public init(_ message: String, line: Int? = nil) {
    self.message = message
    self.line = line
  }
  public var description: String { line.map { "line \($0): \(message)" } ?? message }
}

/// What running a case produced: printed output, or the diagnostics that stopped it.
public enum CaseOutcome: Sendable {
  case output(String)
  case diagnostics([ReportedDiagnostic])
}

extension TestCase {
  /// Checks `outcome` against the case's directives: its CHECK lines when it expects success, its
  /// `expected-error` lines when it expects failure. Every reported diagnostic must be expected.
  public func verify(_ outcome: CaseOutcome) throws(CheckFailure) {
    switch (outcome, expectedErrors.isEmpty) {
    case (.output(let text), true):
      try Matcher(file: file).match(text, against: checks)
    case (.diagnostics(let reported), true):
      throw CheckFailure(
        file: file, line: firstLine, message: "running '\(pipeline)' failed, but the case expects no errors",
        notes: reported.map { "  \($0)" })
    case (.output(let text), false):
      let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
      throw CheckFailure(
        file: file, line: expectedErrors[0].line,
        message: "expected an error containing \"\(expectedErrors[0].text)\", but running '\(pipeline)' succeeded",
        notes: [FailureNotes.quote(lines, from: 0, to: lines.count, title: "  output")])
    case (.diagnostics(let reported), false):
      try matchErrors(reported)
    }
  }

  private func matchErrors(_ reported: [ReportedDiagnostic]) throws(CheckFailure) {
    var claimed = [Bool](repeating: false, count: reported.count)
    for expected in expectedErrors {
      let match = reported.indices.first { i in
        !claimed[i] && reported[i].message.contains(expected.text)
          && (expected.targetLine == nil || reported[i].line == expected.targetLine)
      }
      guard let match else {
        var notes = reported.map { "  reported: \($0)" }
        if let target = expected.targetLine,
          let elsewhere = reported.first(where: { $0.message.contains(expected.text) })
        {
          notes.insert("  a diagnostic with this text points at line \(elsewhere.line.map(String.init) ?? "unknown"), not line \(target)", at: 0)
        }
        let at = expected.targetLine.map { " at line \($0)" } ?? ""
        throw CheckFailure(
          file: file, line: expected.line, message: "expected error \"\(expected.text)\"\(at) was not reported", notes: notes)
      }
      claimed[match] = true
    }
    if let extra = claimed.firstIndex(of: false) {
      throw CheckFailure(
        file: file, line: reported[extra].line ?? firstLine,
        message: "unexpected diagnostic: \(reported[extra].message)",
        notes: ["  add an expected-error line for it, or fix the input"])
    }
  }
}

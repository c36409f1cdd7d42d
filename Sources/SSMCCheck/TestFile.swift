import Foundation

/// The check directives, spelled as in the test file (`// CHECK-NEXT: ...`).
public enum DirectiveKind: String, Sendable, CaseIterable {
  /// Matches somewhere after the previous match.
  case check = "CHECK"
  /// Matches on the line right after the previous match.
  case next = "CHECK-NEXT"
  /// Matches on the same line as the previous match, after it.
  case same = "CHECK-SAME"
  /// Must not match between the previous and the next positive match.
  case not = "CHECK-NOT"
  /// Matched first; splits the output into blocks so a failure in one block cannot drift into the next.
  case label = "CHECK-LABEL"
}

/// One `CHECK...:` line of a test file.
public struct Directive: Sendable, Hashable, CustomStringConvertible {
  public var kind: DirectiveKind
  /// The pattern text after the colon, trimmed.
  public var pattern: String
  /// 1-based line in the test file.
  public var line: Int

  public init(_ kind: DirectiveKind, _ pattern: String, line: Int = 0) {
    self.kind = kind
    self.pattern = pattern
    self.line = line
  }
  public var description: String { "\(kind.rawValue): \(pattern)" }
}

/// An `expected-error: TEXT` line: running the case must report a diagnostic containing TEXT.
/// With `expected-error@+N` (or `@-N`) the diagnostic must also be located N lines below (above) the directive.
public struct ExpectedError: Sendable, Hashable {
  public var text: String
  /// 1-based line of the directive in the test file.
  public var line: Int
  /// The line the diagnostic must point at, when the directive has an `@+N`/`@-N` offset.
  public var targetLine: Int?

  public init(_ text: String, line: Int = 0, targetLine: Int? = nil) {
    self.text = text
    self.line = line
    self.targetLine = targetLine
  }
}

/// One `// -----`-separated case of a test file: its text and the directives found in its comments.
public struct TestCase: Sendable {
  /// The test file's display name, for messages.
  public var file: String
  /// 0-based position of the case among the file's cases (a header holding only comments is not one).
  public var index: Int
  /// 1-based line of the case's first line in the test file.
  public var firstLine: Int
  /// The case's text, directives included (they are comments to the IR parser).
  public var text: String
  /// The comma-separated pass list from the case's `RUN:` line, or from the file's first case.
  public var pipeline: String
  public var checks: [Directive]
  public var expectedErrors: [ExpectedError]

  /// `text` preceded by blank lines, so that line numbers a parser reports are line numbers of the test file.
  public var textWithFileLineNumbers: String { String(repeating: "\n", count: firstLine - 1) + text }

  /// Where the case is, for messages: `file:line (case N)`.
  public var locationDescription: String { "\(file):\(firstLine) (case \(index + 1))" }
}

/// A malformed test file: an unknown directive, a directive without a pattern, a case that checks nothing.
public struct CheckSyntaxError: Error, Sendable, CustomStringConvertible {
  public var file: String
  public var line: Int
  public var message: String
  public var description: String { "\(file):\(line): error: \(message)" }
}

/// A test file split into cases. Directives live in `//` comments that start with the directive:
///
///     // RUN: shape-inference,dce
///     // CHECK-LABEL: graph @g
///     // CHECK: [[Y:%[a-z0-9]+]] = Relu(%x)
///     // expected-error@+1: do not broadcast
///
/// A line `// -----` starts a new, independent case. A case's `RUN:` applies to it; the first case's `RUN:`
/// is also the default for later cases that have none.
public struct TestFile: Sendable {
  public var name: String
  public var cases: [TestCase]

  public init(name: String, text: String) throws(CheckSyntaxError) {
    self.name = name
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var chunks: [(firstLine: Int, lines: [String])] = [(1, [])]
    for (i, line) in lines.enumerated() {
      if line.trimmingCharacters(in: .whitespaces) == "// -----" {
        chunks.append((i + 2, []))
      } else {
        chunks[chunks.count - 1].lines.append(line)
      }
    }
    var cases: [TestCase] = []
    var defaultPipeline: String?
    for (index, chunk) in chunks.enumerated() {
      var item = TestCase(
        file: name, index: cases.count, firstLine: chunk.firstLine, text: chunk.lines.joined(separator: "\n"),
        pipeline: "", checks: [], expectedErrors: [])
      var run: String?
      for (offset, line) in chunk.lines.enumerated() {
        let lineNumber = chunk.firstLine + offset
        guard let parsed = try Self.directive(in: line, line: lineNumber, file: name) else { continue }
        switch parsed {
        case .run(let pipeline):
          guard run == nil else { throw CheckSyntaxError(file: name, line: lineNumber, message: "a case has one RUN: line") }
          run = pipeline
        case .check(let d): item.checks.append(d)
        case .error(let e): item.expectedErrors.append(e)
        }
      }
      if index == 0 { defaultPipeline = run }
      guard let pipeline = run ?? defaultPipeline else {
        throw CheckSyntaxError(file: name, line: chunk.firstLine, message: "no RUN: line for this case or the file's first case")
      }
      item.pipeline = pipeline
      guard !item.checks.isEmpty || !item.expectedErrors.isEmpty else {
        // A chunk holding only comments (a file header) is not a case.
        if chunk.lines.allSatisfy({ Self.isCommentOrBlank($0) }) { continue }
        throw CheckSyntaxError(file: name, line: chunk.firstLine, message: "case has no CHECK or expected-error lines, so it cannot fail")
      }
      if !item.expectedErrors.isEmpty && !item.checks.isEmpty {
        throw CheckSyntaxError(
          file: name, line: item.checks[0].line,
          message: "a case that expects errors has no output to CHECK; put the checks in another case")
      }
      cases.append(item)
    }
    self.cases = cases
  }

  private static func isCommentOrBlank(_ line: String) -> Bool {
    let t = line.trimmingCharacters(in: .whitespaces)
    return t.isEmpty || t.hasPrefix("//")
  }

  private enum Parsed {
    case run(String)
    case check(Directive)
    case error(ExpectedError)
  }

  /// The directive on `line`, if its `//` comment starts with one.
  private static func directive(in line: String, line number: Int, file: String) throws(CheckSyntaxError) -> Parsed? {
    guard let slashes = line.range(of: "//") else { return nil }
    let comment = line[slashes.upperBound...].trimmingCharacters(in: .whitespaces)
    func fail(_ message: String) -> CheckSyntaxError { CheckSyntaxError(file: file, line: number, message: message) }
    // Split "WORD: rest" where WORD is the first run of non-space characters ending at the first colon.
    let word = comment.prefix { !$0.isWhitespace && $0 != ":" }
    let rest = comment.dropFirst(word.count)
    let isDirectiveWord = word == "RUN" || word.hasPrefix("CHECK") || word.hasPrefix("expected-error")
    guard isDirectiveWord else { return nil }
    // "CHECKS are ..." in prose is not a directive; "CHECK-FOO" or "CHECK" without a colon is a typo.
    if word.hasPrefix("CHECK"), word.count > 5, word.dropFirst(5).first != "-" { return nil }
    if word.hasPrefix("expected-error"), word.count > 14, word.dropFirst(14).first != "@" { return nil }
    guard rest.first == ":" else { throw fail("'\(word)' needs a colon: '\(word): ...'") }
    let argument = rest.dropFirst().trimmingCharacters(in: .whitespaces)
    if word == "RUN" { return .run(argument) }
    guard !argument.isEmpty else { throw fail("'\(word):' has an empty pattern") }
    if word.hasPrefix("expected-error") {
      var target: Int?
      if word.count > 14 {
        let offsetText = word.dropFirst(15)  // after "expected-error@"
        guard let offset = Int(offsetText), offsetText.first == "+" || offsetText.first == "-" else {
          throw fail("expected-error@ needs a line offset such as @+1 or @-2, got '@\(offsetText)'")
        }
        target = number + offset
      }
      return .error(ExpectedError(argument, line: number, targetLine: target))
    }
    guard let kind = DirectiveKind(rawValue: String(word)) else {
      let known = DirectiveKind.allCases.map(\.rawValue).joined(separator: ", ")
      throw fail("unknown directive '\(word)'; known: RUN, \(known), expected-error")
    }
    return .check(Directive(kind, argument, line: number))
  }
}

import Foundation

/// Matches output text against check directives, the way LLVM's FileCheck does.
///
/// Algorithm: the `CHECK-LABEL` directives are matched first, in order, each on a later line than the one
/// before; they cut the output into blocks. Every other directive is then matched inside the block of the
/// label above it, so a failure stays local. Within a block a cursor moves forward: `CHECK` finds the first
/// match at or after the cursor, `CHECK-NEXT` must find it on the line after the previous match, `CHECK-SAME`
/// on the same line. `CHECK-NOT` patterns are collected and checked over the span between the previous positive
/// match and the next one (or the block's end). Variables bound by `[[NAME:re]]` hold from the directive that
/// matched them to the end of the test case.
public struct Matcher: Sendable {
  /// The test file's display name, for messages.
  public var file: String
  public init(file: String) { self.file = file }

  private struct Position {
    var line: Int
    var column: Int  // UTF-16 offset within the line
  }

  /// Throws the first failed directive, with notes.
  public func match(_ output: String, against checks: [Directive]) throws(CheckFailure) {
    var lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if lines.last == "" { lines.removeLast() }
    var variables: [String: String] = [:]

    // Labels cut the output into blocks.
    var labelMatches: [Position] = []
    var cursor = Position(line: 0, column: 0)
    for d in checks where d.kind == .label {
      guard !d.pattern.contains("[[") else {
        throw CheckFailure(file: file, line: d.line, message: "CHECK-LABEL cannot define or use [[variables]]")
      }
      let pattern = try compile(d, variables)
      guard let found = search(pattern, lines, from: cursor, toLine: lines.count) else {
        throw notFound(d, pattern, lines, from: cursor, toLine: lines.count, variables: [:])
      }
      labelMatches.append(Position(line: found.line, column: NSMaxRange(found.range)))
      cursor = Position(line: found.line + 1, column: 0)
    }

    var block: [Directive] = []
    var blockStart = Position(line: 0, column: 0)
    var blockPrevious: Int? = nil
    var labelIndex = 0
    for d in checks {
      guard d.kind == .label else {
        block.append(d)
        continue
      }
      let label = labelMatches[labelIndex]
      try matchBlock(block, lines, start: blockStart, previousLine: blockPrevious, endLine: label.line, variables: &variables)
      block = []
      blockStart = label
      blockPrevious = label.line
      labelIndex += 1
    }
    try matchBlock(block, lines, start: blockStart, previousLine: blockPrevious, endLine: lines.count, variables: &variables)
  }

  private func matchBlock(
    _ directives: [Directive], _ lines: [String], start: Position, previousLine: Int?, endLine: Int,
    variables: inout [String: String]
  ) throws(CheckFailure) {
    var cursor = start
    var previousLine = previousLine
    var pendingNots: [Directive] = []
    for d in directives {
      if d.kind == .not {
        pendingNots.append(d)
        continue
      }
      let pattern = try compile(d, variables)
      guard let found = search(pattern, lines, from: cursor, toLine: endLine) else {
        throw notFound(d, pattern, lines, from: cursor, toLine: endLine, variables: variables, previousLine: previousLine)
      }
      if d.kind == .next || d.kind == .same {
        guard let previous = previousLine else {
          throw CheckFailure(
            file: file, line: d.line,
            message: "\(d.kind.rawValue) has no previous match to follow; start with CHECK or CHECK-LABEL")
        }
        let wanted = d.kind == .next ? previous + 1 : previous
        guard found.line == wanted else {
          let relation = d.kind == .next ? "on the line after the previous match" : "on the same line as the previous match"
          var notes = ["  \(d)", "  first match is on output line \(found.line + 1): \(lines[found.line])"]
          notes.append("  previous match is on output line \(previous + 1): \(lines[previous])")
          if wanted < lines.count { notes.append("  the line where it should match is \(wanted + 1): \(lines[wanted])") }
          throw CheckFailure(file: file, line: d.line, message: "\(d.kind.rawValue): the match is not \(relation)", notes: notes)
        }
      }
      try checkNots(pendingNots, lines, from: cursor, to: Position(line: found.line, column: found.range.location), variables)
      pendingNots = []
      variables.merge(found.bindings) { _, new in new }
      cursor = Position(line: found.line, column: NSMaxRange(found.range))
      previousLine = found.line
    }
    try checkNots(pendingNots, lines, from: cursor, to: Position(line: endLine, column: 0), variables)
  }

  private func compile(_ d: Directive, _ variables: [String: String]) throws(CheckFailure) -> Pattern {
    do {
      return try Pattern(d.pattern, variables: variables)
    } catch {
      throw CheckFailure(file: file, line: d.line, message: "\(d.kind.rawValue): \(error.message)")
    }
  }

  private func search(
    _ pattern: Pattern, _ lines: [String], from cursor: Position, toLine end: Int
  ) -> (line: Int, range: NSRange, bindings: [String: String])? {
    var line = cursor.line
    while line < min(end, lines.count) {
      if let m = pattern.firstMatch(in: lines[line], from: line == cursor.line ? cursor.column : 0) {
        return (line, m.range, m.bindings)
      }
      line += 1
    }
    return nil
  }

  private func checkNots(
    _ nots: [Directive], _ lines: [String], from start: Position, to stop: Position, _ variables: [String: String]
  ) throws(CheckFailure) {
    for d in nots {
      let pattern = try compile(d, variables)
      var line = start.line
      while line <= stop.line && line < lines.count {
        let from = line == start.line ? start.column : 0
        let to = line == stop.line ? stop.column : nil
        if pattern.firstMatch(in: lines[line], from: from, to: to) != nil {
          let notes = [
            "  \(d)", "  found on output line \(line + 1): \(lines[line])",
            FailureNotes.quote(lines, from: start.line, to: min(stop.line + 1, lines.count), title: "  span that must not contain it"),
          ]
          throw CheckFailure(file: file, line: d.line, message: "CHECK-NOT: excluded pattern found", notes: notes)
        }
        line += 1
      }
    }
  }

  private func notFound(
    _ d: Directive, _ pattern: Pattern, _ lines: [String], from cursor: Position, toLine end: Int,
    variables: [String: String], previousLine: Int? = nil
  ) -> CheckFailure {
    var notes = ["  \(d)"]
    let used = variables.keys.sorted().filter { d.pattern.contains("[[\($0)]]") }
    for name in used { notes.append("  with [[\(name)]] = \"\(variables[name]!)\"") }
    let upper = min(end, lines.count)
    if let previousLine { notes.append("  searched after the previous match on output line \(previousLine + 1)") }
    if let miss = FailureNotes.nearMiss(pattern.literalApproximation, in: lines, range: cursor.line..<max(cursor.line, upper)) {
      notes.append("  closest output line \(miss.line + 1): \(lines[miss.line])")
    }
    notes.append(FailureNotes.quote(lines, from: cursor.line, to: upper, title: "  output searched"))
    return CheckFailure(file: file, line: d.line, message: "\(d.kind.rawValue): pattern not found", notes: notes)
  }
}

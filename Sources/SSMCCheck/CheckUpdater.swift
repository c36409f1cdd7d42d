import Foundation

/// Writes CHECK lines from actual output, for `SSMC_UPDATE_CHECKS=1`: a person reviews the diff like code.
///
/// Only the cases handed in are rewritten (the runner passes the failing ones), so hand-written checks with
/// CHECK-NOT or regexes on passing cases stay as they are.
public enum CheckUpdater {
  /// Checks that pin `output` line by line: `CHECK-LABEL: graph @name(` opens each graph, `CHECK-SAME` takes the
  /// rest of its signature, and every following line is a `CHECK-NEXT`.
  public static func checks(for output: String) -> [String] {
    var lines: [String] = []
    for line in output.split(separator: "\n") {
      let text = line.trimmingCharacters(in: .whitespaces)
      if text.hasPrefix("graph @"), let open = text.firstIndex(of: "(") {
        lines.append("// CHECK-LABEL: " + literal(String(text[...open])))
        let rest = text[text.index(after: open)...]
        if !rest.isEmpty { lines.append("// CHECK-SAME:  " + literal(String(rest))) }
      } else if !text.isEmpty {
        lines.append("// CHECK-NEXT:  " + literal(text))
      }
    }
    return lines
  }

  /// `fileText` with the CHECK lines of each case in `outputs` (keyed by `TestCase.index`) replaced by
  /// `checks(for:)` of its output, placed where the case's first CHECK line was (or above its first graph).
  public static func update(_ fileText: String, cases: [TestCase], outputs: [Int: String]) -> String {
    var lines = fileText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    for item in cases.reversed() {
      guard let output = outputs[item.index] else { continue }
      let start = item.firstLine - 1
      let count = item.text.split(separator: "\n", omittingEmptySubsequences: false).count
      let range = start..<min(start + count, lines.count)
      let checkLines = range.filter { isCheckLine(lines[$0]) }
      let insertAt =
        checkLines.first ?? range.first { lines[$0].trimmingCharacters(in: .whitespaces).hasPrefix("graph") } ?? range.lowerBound
      for i in checkLines.reversed() { lines.remove(at: i) }
      lines.insert(contentsOf: checks(for: output), at: insertAt)
    }
    return lines.joined(separator: "\n")
  }

  static func isCheckLine(_ line: String) -> Bool {
    let trimmed = line.trimmingCharacters(in: .whitespaces)
    guard trimmed.hasPrefix("//") else { return false }
    let comment = trimmed.dropFirst(2).trimmingCharacters(in: .whitespaces)
    let word = comment.prefix { $0 != ":" && !$0.isWhitespace }
    return DirectiveKind(rawValue: String(word)) != nil && comment.dropFirst(word.count).first == ":"
  }

  /// Output text as a pattern: `{{` and `[[` would open a regex or variable, so they become regex blocks.
  static func literal(_ text: String) -> String {
    var out = ""
    var rest = Substring(text)
    while let c = rest.first {
      if rest.hasPrefix("{{") || rest.hasPrefix("[[") {
        out += c == "{" ? "{{\\{\\{}}" : "{{\\[\\[}}"
        rest = rest.dropFirst(2)
      } else {
        out.append(c)
        rest = rest.dropFirst()
      }
    }
    return out
  }
}

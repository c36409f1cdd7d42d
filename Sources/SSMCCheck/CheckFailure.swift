import Foundation

/// A check that did not hold: where the directive is, what went wrong, and notes that help fix it
/// (the pattern, variable values, the closest output line, the output that was searched).
public struct CheckFailure: Error, Sendable, CustomStringConvertible {
  /// The test file's display name.
  public var file: String
  /// 1-based line in the test file of the directive (or case) that failed.
  public var line: Int
  public var message: String
  public var notes: [String]

  public init(file: String, line: Int, message: String, notes: [String] = []) {
    self.file = file
    self.line = line
    self.message = message
    self.notes = notes
  }

  public var description: String {
    "\(file):\(line): error: \(message)" + notes.map { "\n" + $0 }.joined()
  }
}

/// Helpers that turn output lines into the notes of a failure.
enum FailureNotes {
  /// At most this many output lines are quoted in a failure.
  static let quotedLineLimit = 40

  /// Numbered output lines from `start` up to `end` (exclusive), capped.
  static func quote(_ lines: [String], from start: Int, to end: Int, title: String) -> String {
    guard start < end else { return "\(title): (nothing; the output ends here)" }
    var out = "\(title):"
    let last = min(end, start + quotedLineLimit)
    for i in start..<last { out += "\n  \(String(format: "%4d", i + 1)) | \(lines[i])" }
    if last < end { out += "\n       | ... \(end - last) more lines" }
    return out
  }

  /// The line in `range` that comes closest to containing `approximation`, if any comes reasonably close.
  static func nearMiss(_ approximation: String, in lines: [String], range: Range<Int>) -> (line: Int, distance: Int)? {
    let needle = Array(collapse(approximation))
    guard !needle.isEmpty else { return nil }
    var best: (line: Int, distance: Int)?
    for i in range {
      let d = substringDistance(needle, Array(collapse(lines[i]).prefix(400)))
      if best == nil || d < best!.distance { best = (i, d) }
    }
    guard let found = best, found.distance > 0, found.distance * 2 <= needle.count else { return nil }
    return found
  }

  private static func collapse(_ s: String) -> String {
    s.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
  }

  /// Edit distance between `needle` and the substring of `haystack` it best aligns with (Sellers' algorithm:
  /// the alignment may start and end anywhere in the haystack for free).
  static func substringDistance(_ needle: [Character], _ haystack: [Character]) -> Int {
    var previous = [Int](repeating: 0, count: haystack.count + 1)
    var current = previous
    for (i, n) in needle.enumerated() {
      current[0] = i + 1
      for (j, h) in haystack.enumerated() {
        current[j + 1] = min(previous[j] + (n == h ? 0 : 1), previous[j + 1] + 1, current[j] + 1)
      }
      swap(&previous, &current)
    }
    return previous.min() ?? needle.count
  }
}

import Foundation

/// A directive's pattern turned into a regular expression.
///
/// Literal text matches itself, except that a run of spaces matches any run of spaces or tabs (as FileCheck
/// does without --strict-whitespace). `{{re}}` is a regular expression; `[[NAME:re]]` matches `re` and binds
/// NAME to the matched text; `[[NAME]]` matches the text NAME was bound to by an earlier match (or earlier in
/// the same pattern).
struct Pattern {
  let regex: NSRegularExpression
  /// Variables this pattern binds, with the regex group that captures each.
  let definitions: [(name: String, group: String)]
  /// The pattern with variables replaced by their values and regex blocks removed: what a near miss is scored against.
  let literalApproximation: String

  /// Compiles `text`; `variables` holds the values bound by earlier matches.
  init(_ text: String, variables: [String: String]) throws(PatternError) {
    var regex = ""
    var approximation = ""
    var definitions: [(name: String, group: String)] = []
    var rest = Substring(text.trimmingCharacters(in: .whitespaces))
    var pendingSpace = false
    while let c = rest.first {
      if c == " " || c == "\t" {
        pendingSpace = true
        rest = rest.dropFirst()
        continue
      }
      if pendingSpace {
        regex += "[ \\t]+"
        approximation += " "
        pendingSpace = false
      }
      if rest.hasPrefix("{{") {
        let (body, after) = try Self.block(rest.dropFirst(2), closing: "}", in: text)
        guard !body.isEmpty else { throw PatternError("empty regex block {{}} in '\(text)'") }
        try Self.validate(body, in: text)
        regex += "(?:\(body))"
        rest = after
      } else if rest.hasPrefix("[[") {
        let (body, after) = try Self.block(rest.dropFirst(2), closing: "]", in: text)
        rest = after
        let name = String(body.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
        guard let first = name.first, !first.isNumber else {
          throw PatternError("bad variable name in '[[\(body)]]' (use [[NAME]] or [[NAME:regex]])")
        }
        let tail = body.dropFirst(name.count)
        if tail.isEmpty {
          if let group = definitions.first(where: { $0.name == name })?.group {
            regex += "\\k<\(group)>"
            approximation += name
          } else if let value = variables[name] {
            regex += NSRegularExpression.escapedPattern(for: value)
            approximation += value
          } else {
            throw PatternError("variable [[\(name)]] is used before any matched directive defined it")
          }
        } else {
          guard tail.first == ":", tail.count > 1 else { throw PatternError("'[[\(body)]]' needs a regex after the colon") }
          guard !definitions.contains(where: { $0.name == name }) else {
            throw PatternError("variable \(name) is defined twice in one pattern")
          }
          let inner = String(tail.dropFirst())
          try Self.validate(inner, in: text)
          // ICU group names allow only letters and digits, so each variable gets a generated one.
          let group = "v\(definitions.count)"
          definitions.append((name, group))
          regex += "(?<\(group)>\(inner))"
          approximation += name
        }
      } else {
        regex += NSRegularExpression.escapedPattern(for: String(c))
        approximation.append(c)
        rest = rest.dropFirst()
      }
    }
    do {
      self.regex = try NSRegularExpression(pattern: regex)
    } catch {
      throw PatternError("pattern '\(text)' does not compile as a regular expression: \(error)")
    }
    self.definitions = definitions
    self.literalApproximation = approximation
  }

  /// Splits `text` at the closing `}}` (or `]]`); a longer run of closing characters closes at its last two,
  /// so `{{[0-9]{2}}}` ends after `{2}`.
  private static func block(_ text: Substring, closing: Character, in pattern: String) throws(PatternError) -> (String, Substring) {
    var i = text.startIndex
    while i < text.endIndex {
      if text[i] == closing {
        var run = i
        while run < text.endIndex && text[run] == closing { run = text.index(after: run) }
        if text.distance(from: i, to: run) >= 2 {
          let bodyEnd = text.index(run, offsetBy: -2)
          return (String(text[text.startIndex..<bodyEnd]), text[run...])
        }
        i = run
      } else {
        i = text.index(after: i)
      }
    }
    let opening = closing == "}" ? "{{" : "[["
    throw PatternError("'\(opening)' without a closing '\(String(repeating: closing, count: 2))' in '\(pattern)'")
  }

  private static func validate(_ regex: String, in pattern: String) throws(PatternError) {
    do {
      _ = try NSRegularExpression(pattern: regex)
    } catch {
      throw PatternError("'\(regex)' in '\(pattern)' is not a valid regular expression")
    }
  }

  /// The first match in `line` at or after UTF-16 offset `from` (and ending by `to`, when given).
  func firstMatch(in line: String, from: Int, to: Int? = nil) -> (range: NSRange, bindings: [String: String])? {
    let ns = line as NSString
    let end = to ?? ns.length
    guard from <= end else { return nil }
    guard let m = regex.firstMatch(in: line, range: NSRange(location: from, length: end - from)) else { return nil }
    var bindings: [String: String] = [:]
    for (name, group) in definitions {
      let r = m.range(withName: group)
      bindings[name] = r.location == NSNotFound ? "" : ns.substring(with: r)
    }
    return (m.range, bindings)
  }
}

/// A pattern that cannot be compiled; the matcher reports it at the directive's line.
struct PatternError: Error {
  var message: String
  init(_ message: String) { self.message = message }
}

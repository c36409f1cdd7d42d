import Testing
@testable import SSMCCheck

/// The matcher accepts what FileCheck would accept and rejects, with a useful message, what it would reject.
struct MatcherTests {
  static let output = """
    graph @g(%x: f32[2]) {
      %c = const f32[2] [1.0, 2.0]
      %t0 = Add(%x, %c) : f32[2]
      %t1 = Relu(%t0) : f32[2]
      return %t1 as "y"
    }
    graph @h(%x: f32[3]) {
      %t0 = Neg(%x) : f32[3]
      return %t0
    }

    """

  /// Parses `checks` as the directive lines of a one-case file and matches them against `output`.
  func run(_ checks: String, on output: String = output) throws(CheckFailure) {
    let file: TestFile
    do {
      file = try TestFile(name: "t.ssmc", text: "// RUN: dce\n" + checks)
    } catch {
      Issue.record("bad test file: \(error)")
      return
    }
    try file.cases[0].verify(.output(output))
  }

  /// The failure `checks` must produce.
  func failure(_ checks: String, on output: String = output) -> CheckFailure? {
    do {
      try run(checks, on: output)
      return nil
    } catch {
      return error
    }
  }

  @Test(arguments: [
    "// CHECK: Add(%x, %c)",
    "// CHECK: %t0 = Add\n// CHECK-NEXT: Relu(%t0)\n// CHECK-NEXT: return",
    "// CHECK:   %t1   =   Relu(%t0)",  // runs of spaces match any run of spaces
    "// CHECK: Add({{%[a-z]+}}, %c) : f32[{{[0-9]}}]",
    "// CHECK: [[V:%t[0-9]+]] = Add\n// CHECK: Relu([[V]])",
    "// CHECK: [[V:%t[0-9]+]] = Relu\n// CHECK-NEXT: return [[V]]",
    "// CHECK: %t1 = Relu\n// CHECK-SAME: : f32[2]",
    "// CHECK: Add\n// CHECK-NOT: Neg\n// CHECK: return",
    "// CHECK-LABEL: graph @g\n// CHECK-NOT: Neg\n// CHECK-LABEL: graph @h\n// CHECK: Neg",
    "// CHECK: const f32[2] {{\\[}}1.0, 2.0]",
    "// CHECK: {{^}}  return %t1",
    "// CHECK: Add{{.*}}f32[2]{{$}}\n// CHECK-NEXT: Relu",
    "// CHECK: {{[0-9]{1}\\.[0-9]}}, 2.0]",  // a "{{" block ends at the last two of a run of braces
  ])
  func accepts(checks: String) throws {
    try run(checks)
  }

  @Test func bracesInsideRegexStayInside() {
    // Read as `f[0-9]{2` plus a literal `}`, the regex would not compile; read right, it matches "f32[2]".
    #expect(failure("// CHECK: %x: {{f[0-9]{2}}}[2]") == nil)
  }

  @Test func missingPatternNamesDirectiveAndNearMiss() throws {
    let f = try #require(failure("// CHECK: Add\n// CHECK: %t1 = Relu(%t0) : f32[3]"))
    #expect(f.line == 3)
    #expect(f.message == "CHECK: pattern not found")
    #expect(f.description.contains("closest output line 4:   %t1 = Relu(%t0) : f32[2]"))
    #expect(f.description.contains("output searched"))
    #expect(f.description.hasPrefix("t.ssmc:3: error: "))
  }

  @Test func nextOnWrongLine() throws {
    let f = try #require(failure("// CHECK: %c = const\n// CHECK-NEXT: Relu"))
    #expect(f.message.contains("not on the line after the previous match"))
    #expect(f.description.contains("first match is on output line 4"))
  }

  @Test func sameOnAnotherLine() throws {
    let f = try #require(failure("// CHECK: Add\n// CHECK-SAME: Relu"))
    #expect(f.message.contains("not on the same line"))
  }

  @Test func nextCannotComeFirst() throws {
    let f = try #require(failure("// CHECK-NEXT: graph"))
    #expect(f.message.contains("no previous match"))
  }

  @Test func notBetweenMatches() throws {
    let f = try #require(failure("// CHECK: graph @g\n// CHECK-NOT: Relu\n// CHECK: return"))
    #expect(f.line == 3)
    #expect(f.message.contains("CHECK-NOT"))
    #expect(f.description.contains("found on output line 4"))
    // The NOT span ends at the next positive match: Relu after `return %t1` is not searched.
    try run("// CHECK: Relu\n// CHECK-NOT: Relu\n// CHECK: return")
  }

  @Test func trailingNotCoversRestOfBlock() throws {
    #expect(failure("// CHECK-LABEL: graph @g\n// CHECK-NOT: return") != nil)
    // ... but only the block: @h's Neg is outside @g's block.
    try run("// CHECK-LABEL: graph @g\n// CHECK-NOT: Neg\n// CHECK-LABEL: graph @h")
  }

  @Test func labelsKeepFailuresLocal() throws {
    // Neg exists, but only in @h's block, so a CHECK under @g's label must not find it.
    let f = try #require(failure("// CHECK-LABEL: graph @g\n// CHECK: Neg\n// CHECK-LABEL: graph @h"))
    #expect(f.line == 3)
    let missingLabel = try #require(failure("// CHECK-LABEL: graph @h\n// CHECK-LABEL: graph @g"))
    #expect(missingLabel.line == 3)
  }

  @Test func variablesMustMatchTheirValue() throws {
    // %t0 binds to V, but Relu's operand differs in the changed output.
    let changed = Self.output.replacingOccurrences(of: "Relu(%t0)", with: "Relu(%x)")
    let f = try #require(failure("// CHECK: [[V:%t[0-9]+]] = Add\n// CHECK: Relu([[V]])", on: changed))
    #expect(f.description.contains("with [[V]] = \"%t0\""))
    // Within one pattern a later use is a backreference.
    try run("// CHECK: [[A:%[a-z0-9]+]] = Neg([[B:%[a-z]+]]) : f32[3]\n// CHECK-NEXT: return [[A]]")
    #expect(failure("// CHECK: [[A:%[a-z0-9]+]] = Add([[A]]") != nil)
  }

  @Test func undefinedVariableIsReported() throws {
    let f = try #require(failure("// CHECK: Relu([[V]])"))
    #expect(f.message.contains("[[V]] is used before"))
  }

  @Test func badRegexIsReported() throws {
    let f = try #require(failure("// CHECK: Add{{(}}"))
    #expect(f.message.contains("not a valid regular expression"))
    #expect(try #require(failure("// CHECK: Add{{x")).message.contains("without a closing"))
  }

  @Test func labelsCannotUseVariables() throws {
    #expect(try #require(failure("// CHECK-LABEL: graph [[G:@[a-z]]]")).message.contains("cannot define or use"))
  }

  @Test func nearMissEditDistance() {
    #expect(FailureNotes.substringDistance(Array("Relu"), Array("  %t1 = Relu(%t0)")) == 0)
    #expect(FailureNotes.substringDistance(Array("Relv"), Array("  %t1 = Relu(%t0)")) == 1)
    #expect(FailureNotes.substringDistance(Array("abc"), Array("")) == 3)
  }
}

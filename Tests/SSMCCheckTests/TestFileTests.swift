import Testing
@testable import SSMCCheck

/// Splitting test files into cases, reading directives, and checking expected errors.
struct TestFileTests {
  static let text = """
    // A file header comment: not a case.
    // RUN: shape-inference

    // -----
    // CHECK: Relu
    graph @a(%x: f32[2]) {
      %y = Relu(%x) : ?
      return %y
    }
    // -----
    // RUN: dce
    // expected-error@+2: do not broadcast
    graph @b(%x: f32[2], %z: f32[3]) {
      %y = Add(%x, %z) : ? loc("add")
      return %y
    }
    // -----
    // expected-error: unknown op
    graph @c(%x: f32[2]) { %y = Frob(%x) : ?
      return %y }
    """

  @Test func splitsCasesAndReadsDirectives() throws {
    let file = try TestFile(name: "f.ssmc", text: Self.text)
    #expect(file.cases.count == 3)
    let (a, b, c) = (file.cases[0], file.cases[1], file.cases[2])
    #expect(a.pipeline == "shape-inference")
    #expect(b.pipeline == "dce")
    #expect(c.pipeline == "shape-inference")  // inherits the file's first RUN
    #expect(a.checks == [Directive(.check, "Relu", line: 5)])
    #expect(a.firstLine == 5)
    #expect(b.expectedErrors == [ExpectedError("do not broadcast", line: 12, targetLine: 14)])
    #expect(c.expectedErrors == [ExpectedError("unknown op", line: 18)])
    // Line numbers stay those of the file, so a parser's "line N" means line N of the test file.
    let padded = b.textWithFileLineNumbers.split(separator: "\n", omittingEmptySubsequences: false)
    #expect(padded[13].contains("Add(%x, %z)"))
  }

  @Test(arguments: [
    ("// RUN: dce\n// CHECK-NXT: a\ngraph", "unknown directive 'CHECK-NXT'"),
    ("// RUN: dce\n// CHECK a\ngraph", "needs a colon"),
    ("// RUN: dce\n// CHECK:\ngraph", "empty pattern"),
    ("// RUN: dce\ngraph @g() { return }", "cannot fail"),
    ("// CHECK: x\ngraph", "no RUN: line"),
    ("// RUN: dce\n// expected-error@x: y\ngraph", "line offset"),
    ("// RUN: dce\n// expected-error: e\n// CHECK: x\ngraph", "put the checks in another case"),
    ("// RUN: dce\n// RUN: cse\n// CHECK: x", "one RUN: line"),
  ])
  func rejectsMalformedFiles(text: String, message: String) {
    #expect {
      _ = try TestFile(name: "bad.ssmc", text: text)
    } throws: { error in
      "\(error)".contains(message)
    }
  }

  @Test func proseIsNotADirective() throws {
    let file = try TestFile(name: "p.ssmc", text: "// RUN: dce\n// CHECKS below test Relu\n// CHECK: Relu")
    #expect(file.cases[0].checks.count == 1)
  }

  func errorCase() throws -> TestCase { try TestFile(name: "f.ssmc", text: Self.text).cases[1] }

  @Test func expectedErrorsMatchTextAndLine() throws {
    try errorCase().verify(.diagnostics([ReportedDiagnostic("node 'add': shapes f32[2], f32[3] do not broadcast", line: 14)]))
  }

  @Test func expectedErrorAtWrongLineFails() throws {
    let failure = #expect(throws: CheckFailure.self) {
      try errorCase().verify(.diagnostics([ReportedDiagnostic("shapes do not broadcast", line: 15)]))
    }
    #expect(failure?.description.contains("points at line 15, not line 14") == true)
  }

  @Test func unexpectedDiagnosticFails() throws {
    let failure = #expect(throws: CheckFailure.self) {
      try errorCase().verify(.diagnostics([
        ReportedDiagnostic("shapes do not broadcast", line: 14), ReportedDiagnostic("something else", line: 3),
      ]))
    }
    #expect(failure?.message.contains("unexpected diagnostic: something else") == true)
    #expect(failure?.line == 3)
  }

  @Test func successWhenErrorExpectedFails() throws {
    let failure = #expect(throws: CheckFailure.self) { try errorCase().verify(.output("graph @b() {\n}\n")) }
    #expect(failure?.message.contains("succeeded") == true)
  }

  @Test func errorsWhenSuccessExpectedFail() throws {
    let first = try TestFile(name: "f.ssmc", text: Self.text).cases[0]
    let failure = #expect(throws: CheckFailure.self) { try first.verify(.diagnostics([ReportedDiagnostic("boom")])) }
    #expect(failure?.description.contains("boom") == true)
  }
}

/// Generated checks match the output they came from, and replace only the checks of the cases given.
struct CheckUpdaterTests {
  static let output = "graph @g(%x: f32[2]) {\n  %y = Relu(%x) : f32[2]\n  return %y\n}\n"

  @Test func generatedChecksMatchTheirOutput() throws {
    let checks = CheckUpdater.checks(for: Self.output)
    #expect(checks == [
      "// CHECK-LABEL: graph @g(", "// CHECK-SAME:  %x: f32[2]) {", "// CHECK-NEXT:  %y = Relu(%x) : f32[2]",
      "// CHECK-NEXT:  return %y", "// CHECK-NEXT:  }",
    ])
    let file = try TestFile(name: "u.ssmc", text: "// RUN: dce\n" + checks.joined(separator: "\n"))
    try file.cases[0].verify(.output(Self.output))
    // ... and fail on a changed output.
    #expect(throws: CheckFailure.self) {
      try file.cases[0].verify(.output(Self.output.replacingOccurrences(of: "Relu", with: "Neg")))
    }
  }

  @Test func escapesRegexOpeners() {
    #expect(CheckUpdater.literal("a [[b]] {{c}}") == "a {{\\[\\[}}b]] {{\\{\\{}}c}}")
  }

  @Test func replacesOnlyTheGivenCases() throws {
    let text = """
      // RUN: dce
      // CHECK: stale
      // CHECK-NOT: stale too
      graph @g(%x: f32[2]) {
        return %x
      }
      // -----
      // CHECK: untouched
      graph @h() { return }
      """
    let file = try TestFile(name: "u.ssmc", text: text)
    let updated = CheckUpdater.update(text, cases: file.cases, outputs: [0: "graph @g(%x: f32[2]) {\n  return %x\n}\n"])
    #expect(updated == """
      // RUN: dce
      // CHECK-LABEL: graph @g(
      // CHECK-SAME:  %x: f32[2]) {
      // CHECK-NEXT:  return %x
      // CHECK-NEXT:  }
      graph @g(%x: f32[2]) {
        return %x
      }
      // -----
      // CHECK: untouched
      graph @h() { return }
      """)
  }
}

import Foundation
import Testing
@testable import SSMCIR

/// Shape rules and folders against onnxruntime: Inputs/op-cases.json holds single-node graphs written by
/// tools/gen-op-cases.py with the result types and (for all-constant operands) values onnxruntime computed.
struct OnnxRuntimeCaseTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var name: String
    var inputs: String
    var body: String
    var types: [String]
    var values: [[Double]]?
    var testDescription: String { name }
  }

  static let cases: [Case] = {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Inputs/op-cases.json")
    guard let data = try? Data(contentsOf: url),
      let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let list = root["cases"] as? [[String: Any]]
    else { return [] }
    return list.map { c in
      Case(
        name: c["name"] as? String ?? "?", inputs: c["inputs"] as? String ?? "", body: c["body"] as? String ?? "",
        types: c["types"] as? [String] ?? [], values: (c["values"] as? [[NSNumber]])?.map { $0.map(\.doubleValue) })
    }
  }()

  @Test func casesLoaded() {
    #expect(Self.cases.count > 150)
  }

  @Test(arguments: cases)
  func matchesOnnxRuntime(c: Case) throws {
    #expect(try OpTest.types(c.inputs, c.body) == c.types)
    guard let expected = c.values else { return }
    let folded = try OpTest.fold(c.body, inputs: c.inputs)
    #expect(folded.count == expected.count)
    for (got, want) in zip(folded.map(\.doubles), expected) {
      #expect(got.count == want.count)
      let close = zip(got, want).allSatisfy { a, b in abs(a - b) <= 1e-5 * max(1, abs(b)) }
      #expect(close, "folded \(got) vs onnxruntime \(want)")
    }
  }
}

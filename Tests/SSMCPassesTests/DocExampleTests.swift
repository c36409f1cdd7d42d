import Foundation
import SSMCIR
import Testing

/// The example in docs/ir.md is real IR: it parses, verifies, and prints back as written.
struct DocExampleTests {
  @Test func irDocExampleRoundTrips() throws {
    let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("../../docs/ir.md").standardized
    let text = try String(contentsOf: doc, encoding: .utf8)
    // The first fenced block of the file is the example.
    let blocks = text.components(separatedBy: "```")
    try #require(blocks.count > 2, "no fenced block in \(doc.path)")
    let example = blocks[1].hasPrefix("\n") ? String(blocks[1].dropFirst()) : blocks[1]
    let graph = try Parser.parseGraph(example)
    try Verifier(requireTypes: false).verify(graph)
    let withoutComments = example.split(separator: "\n").filter { !$0.hasPrefix("//") }.joined(separator: "\n") + "\n"
    #expect(Printer().print(graph) == withoutComments)
  }
}

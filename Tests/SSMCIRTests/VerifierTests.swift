import Testing
@testable import SSMCIR

struct VerifierTests {
  func problems(_ text: String, requireTypes: Bool = true) throws -> [String] {
    let graph = try Parser.parseGraph(text)
    do {
      try Verifier(requireTypes: requireTypes).verify(graph)
      return []
    } catch {
      return error.all.map(\.description)
    }
  }

  @Test func acceptsWellTypedGraph() throws {
    #expect(try problems("graph @g(%x: f32[2,3], %y: f32[3]) { %z = Add(%x, %y) : f32[2,3]\n return %z }") == [])
  }

  @Test func reportsEveryProblemAtOnce() throws {
    let found = try problems("""
      graph @g(%x: f32[2,3], %y: f32[4]) {
        %a = Add(%x, %y) : f32[2,3] loc("add")
        %b = Frobnicate(%x) : f32[2,3] loc("frob")
        %c = Relu(%x) {alpha = 1} : f32[2,3] loc("relu")
        %d = Relu(%x) : f32[2,4] loc("relu2")
        return %a, %b, %c, %d
      }
      """)
    #expect(found.count == 4)
    #expect(found[0].contains("node 'add'") && found[0].contains("do not broadcast"))
    #expect(found[1].contains("unknown op 'Frobnicate'"))
    #expect(found[2].contains("unknown attribute 'alpha'"))
    #expect(found[3].contains("differ from the shape rule"))
  }

  @Test func unknownTypesNeedShapeInference() throws {
    let text = "graph @g(%x: f32[2]) { %y = Relu(%x) : ?\n return %y }"
    #expect(try problems(text, requireTypes: false) == [])
    #expect(try problems(text).first?.contains("no type") == true)
  }

  @Test func selectiveScanShapeRule() throws {
    let ok = """
      graph @s(%u: f32[2,8,5], %A: f32[8,16], %B: f32[2,4,16,5], %D: f32[8]) {
        %y = ssmc.SelectiveScan(%u, %u, %A, %B, %B, %D, %u, %D) {delta_softplus = 1} : f32[2,8,5]
        return %y
      }
      """
    #expect(try problems(ok) == [])
    let badGroups = ok.replacingOccurrences(of: "f32[2,4,16,5]", with: "f32[2,3,16,5]")
    #expect(try problems(badGroups).first?.contains("must divide") == true)
    let badState = ok.replacingOccurrences(of: "f32[8,16]", with: "f32[8,4]")
    #expect(try problems(badState).first?.contains("state dim") == true)
  }
}

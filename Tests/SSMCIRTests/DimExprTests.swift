import Testing
@testable import SSMCIR

/// Symbolic dims: the canonical form, evaluation against direct integer arithmetic, and the text form.
struct DimExprTests {
  let h = DimExpr(symbol: "h")
  let w = DimExpr(symbol: "w")

  /// floor division for the reference computations below (Swift's `/` truncates).
  func floorDiv(_ a: Int, _ b: Int) -> Int { Int((Double(a) / Double(b)).rounded(.down)) }

  @Test func equalFormsAreEqual() throws {
    // floor((h - 1)/2) + 1 = floor((h + 1)/2)
    let conv = try #require(h.plus(-1)?.floorDivided(by: 2)?.plus(1))
    #expect(conv == h.plus(1)?.floorDivided(by: 2))
    #expect(conv.description == "(h + 1)/2")
    // floor(floor(h/2)/2) = floor(h/4); floor((floor((h + 1)/2) + 1)/2) = floor((h + 3)/4)
    #expect(h.floorDivided(by: 2)?.floorDivided(by: 2) == h.floorDivided(by: 4))
    #expect(conv.plus(1)?.floorDivided(by: 2)?.description == "(h + 3)/4")
    // Terms that divide come out of the quotient: floor((4h + w + 5)/2) = 2h + 2 + floor((w + 1)/2).
    let mixed = try #require(h.scaled(by: 4)?.plus(w)?.plus(5)?.floorDivided(by: 2))
    #expect(mixed.description == "(w + 1)/2 + 2*h + 2")
    // Like terms merge and cancel.
    let hw = try #require(h.times(w))
    let minusTwoWH = try #require(w.times(h)?.scaled(by: -2))
    #expect(hw.plus(minusTwoWH)?.plus(hw) == DimExpr(0))
  }

  @Test func evaluationMatchesIntegerArithmetic() throws {
    let conv = try #require(h.plus(2 - 3)?.floorDivided(by: 2)?.plus(1))  // kernel 3, stride 2, pads 1
    let ceilHalf = try #require(h.ceilDivided(by: 2))
    let wThird = try #require(w.plus(-1)?.floorDivided(by: 3))
    let area = try #require(conv.times(wThird))
    let clamp = DimExpr.minimum(h, DimExpr(5))
    for hv in 1...40 {
      for wv in [1, 2, 7, 16, 33] {
        let bind: (String) -> Int? = { $0 == "h" ? hv : ($0 == "w" ? wv : nil) }
        #expect(conv.evaluate(bind) == floorDiv(hv + 2 - 3, 2) + 1)
        #expect(ceilHalf.evaluate(bind) == (hv + 1) / 2)
        #expect(area.evaluate(bind) == (floorDiv(hv - 1, 2) + 1) * floorDiv(wv - 1, 3))
        #expect(clamp.evaluate(bind) == min(hv, 5))
      }
    }
    #expect(h.evaluate { _ in nil } == nil)
  }

  @Test func minimaAndMaximaUseThatSymbolsAreAtLeastOne() throws {
    let hMinusOne = try #require(h.plus(-1))
    #expect(DimExpr.maximum(hMinusOne, DimExpr(0)) == hMinusOne)
    #expect(DimExpr.minimum(DimExpr(1), h) == DimExpr(1))
    let hPlusThree = try #require(h.plus(3))
    #expect(DimExpr.minimum(h, hPlusThree) == h)
    #expect(DimExpr.minimum(h, DimExpr(4)).description == "min(4, h)")
    #expect(DimExpr.minimum(h, DimExpr(4)) == DimExpr.minimum(DimExpr(4), h))
    let bounds = try #require(h.times(w)?.scaled(by: -2)?.plus(3)).bounds
    #expect(bounds.lower == nil && bounds.upper == 1)
  }

  @Test func exactDivision() throws {
    let total = try #require(Dim.product([.symbol("b"), .fixed(8), .symbol("h"), .symbol("w")]))
    let known = try #require(Dim.product([.symbol("b"), .fixed(8)]))
    #expect(total.exactlyDivided(by: known) == h.times(w))
    #expect(total.exactlyDivided(by: DimExpr(3)) == nil)  // 8 is not a multiple of 3
    #expect(h.exactlyDivided(by: w) == nil)
    #expect(h.plus(1)?.exactlyDivided(by: h) == nil)
  }

  @Test func overflowGivesNil() {
    #expect(DimExpr(Int.max).plus(1) == nil)
    #expect(h.scaled(by: Int.max)?.scaled(by: 2) == nil)
    #expect(DimExpr(Int.max / 2).times(DimExpr(3)) == nil)
  }

  @Test func dimsKeepNumbersAndSymbolsApart() {
    #expect(Dim(DimExpr(7)) == .fixed(7))
    #expect(Dim(h) == .symbol("h"))
    #expect(Dim(h.plus(h)!) == .expr(h.scaled(by: 2)!))
    #expect(Dim.symbol("h").substituting("h", with: 6) == .fixed(6))
    #expect(Dim(h.plus(1)!.floorDivided(by: 2)!).substituting("h", with: 6) == .fixed(3))
  }

  @Test func textFormRoundTrips() throws {
    let text = """
      graph @g(%x: f32[B,(H + 1)/2,min(4, H),2*H*W - 1,((H + 3)/4)*((W + 3)/4),"batch size",max(H, W) + 1]) {
        return %x
      }

      """
    let graph = try Parser.parseGraph(text)
    #expect(Printer().print(graph) == text)
    let dims = try #require(graph.type(of: graph.inputs[0])?.dims)
    #expect(dims[5] == .symbol("batch size"))
    let half = try #require(DimExpr(symbol: "H").plus(1)?.floorDivided(by: 2))
    #expect(dims[1] == Dim(half))
    // Other spellings of the same dims print in the canonical form.
    let loose = try Parser.parseGraph("graph @g(%x: f32[(H - 1)/2 + 1, H/2/2, 1 + W*2 -1, W-1]) {\n  return %x\n}\n")
    #expect(loose.type(of: loose.inputs[0])?.description == "f32[(H + 1)/2,H/4,2*W,W - 1]")
    // A leading minus negates the whole first term: -floor((B + 1)/2) + B, which is 1 at B = 3 (not 2).
    let negative = try Parser.parseGraph("graph @g(%x: f32[-(B + 1)/2 + B]) {\n  return %x\n}\n")
    let halfDown = try #require(negative.type(of: negative.inputs[0])?.dims[0])
    #expect(halfDown.description == "-(B + 1)/2 + B")
    #expect(halfDown.expression.evaluate { $0 == "B" ? 3 : nil } == 1)
    #expect(throws: Diagnostic.self) { try Parser.parseGraph("graph @g(%x: f32[H/0]) {\n  return %x\n}\n") }
    #expect(throws: Diagnostic.self) { try Parser.parseGraph("graph @g(%x: f32[H - H - 2]) {\n  return %x\n}\n") }
  }
}

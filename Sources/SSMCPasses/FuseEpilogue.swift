import SSMCIR

/// Fuses the elementwise node after a matrix product into the product's store, so the product's result is
/// never written to memory and read back:
///
///     %h = MatMul(%x, %w); %y = Gelu(%h)
///       ->  %y = ssmc.FusedMatMul(%x, %w) {expr = "Gelu(a0)"}
///     %c = Conv(%x, %w, %b) {...}; %y = ssmc.FusedElementwise(%c, %r) {expr = "Add(Relu(a0), a1)"}
///       ->  %y = ssmc.FusedConv(%x, %w, %b, %r) {..., expr = "Add(Relu(a0), a1)"}
///
/// A MatMul, Gemm or Conv (f32, static shapes) fuses with its result's one user when that user is an
/// elementwise node the expression language states (`ssmc.FusedElementwise` or a callable op), its result
/// has exactly the product's shape (other operands broadcast into it; a user that broadcasts the product up
/// would need it more than once per element), and every value is f32. The user's other operands become the
/// fused node's extra operands `a1`, `a2`, ...; `a0` is the product. Run after `fuse-elementwise`, so a whole
/// chain after the product comes in as one node.
///
/// Must not fire when the product has another user or is a graph output (it must stay materialized); for a
/// MatMul with a 1-D operand; for a Conv its lowering would not compute as a GEMM (depthwise, few output
/// channels per group, small output planes), or whose extras broadcast over only some of the spatial dims
/// (the GEMM walks the output plane as one flat axis).
public struct FuseEpilogue: Pass {
  public let name = "fuse-epilogue"
  public init() {}

  public func run(on graph: inout Graph) throws(Diagnostics) -> Bool {
    let patterns = PatternGraph(graph)
    var taken = Set<Int>()
    var matches: [FusionMatch] = []
    for (i, node) in graph.nodes.enumerated() where Self.fusedNames[node.op] != nil {
      guard let match = patterns.epilogueMatch(product: i, fusedOp: Self.fusedNames[node.op]!),
        taken.isDisjoint(with: match.removed)
      else { continue }
      taken.formUnion(match.removed)
      matches.append(match)
    }
    graph.apply(matches)
    return !matches.isEmpty
  }

  static let fusedNames = ["MatMul": "ssmc.FusedMatMul", "Gemm": "ssmc.FusedGemm", "Conv": "ssmc.FusedConv"]

  /// The f32 lanes a Conv's kernel family is decided for: the widest vectors of any target (AVX-512). The
  /// pipeline runs before a target is known, and a Conv that is a GEMM at this width is one at every narrower
  /// width too, so a fused Conv takes the GEMM path (and keeps its fusion) on every target.
  static let convLanes = 16
}

extension PatternGraph {
  /// The fusion of product node `index` with its result's one user, when allowed (see `FuseEpilogue`).
  fileprivate func epilogueMatch(product index: Int, fusedOp: String) -> FusionMatch? {
    let product = graph.nodes[index]
    guard product.results.count == 1, let productType = type(product.results[0]), productType.element == .f32,
      let shape = productType.staticShape, product.operands.allSatisfy({ $0 == nil || type($0)?.staticShape != nil }),
      let (userIndex, user) = soleUser(product.results[0]), isFusable(user) || user.op == "ssmc.FusedElementwise",
      user.results.count == 1, let userType = type(user.results[0]), userType.element == .f32,
      userType.staticShape == shape
    else { return nil }
    guard let (expression, extras) = epilogueExpression(user, product: product.results[0]),
      extras.allSatisfy({ type($0)?.element == .f32 && type($0)?.staticShape != nil })
    else { return nil }
    switch product.op {
    case "MatMul":
      guard product.operands.allSatisfy({ (type($0)?.rank ?? 0) >= 2 }) else { return nil }
    case "Conv":
      guard convTakesGemmPath(product), extras.allSatisfy({ spatialAllOrNothing(type($0)!.staticShape!, output: shape) })
      else { return nil }
    default: break
    }
    var operands = product.operands
    let slots = OpRegistry.schema(product.op)!.operands.count
    while operands.count < slots { operands.append(nil) }
    var attributes = product.attributes
    attributes["expr"] = .string(expression.description)
    let replacement = Node(op: fusedOp, operands: operands + extras, results: user.results, attributes: attributes, name: product.name)
    // The fused node's shape rule must give back the user's type, or the expression does not say what the two
    // nodes computed.
    guard let schema = OpRegistry.schema(fusedOp),
      let inferred = try? schema.inferTypes(graph.context(for: replacement)), inferred == [userType]
    else { return nil }
    return FusionMatch(root: userIndex, removed: [index, userIndex], replacement: replacement)
  }

  /// The user's computation as an expression over the product (`a0`) and the user's other operands
  /// (`a1`, ... in order of first appearance), with those operands.
  private func epilogueExpression(_ user: Node, product: ValueID) -> (ElementwiseExpression, [ValueID])? {
    guard user.operands.allSatisfy({ $0 != nil }) else { return nil }
    var extras: [ValueID] = []
    func index(_ v: ValueID) -> Int {
      if v == product { return 0 }
      if let i = extras.firstIndex(of: v) { return i + 1 }
      extras.append(v)
      return extras.count
    }
    func renumber(_ e: ElementwiseExpression) -> ElementwiseExpression {
      switch e {
      case .operand(let i): return .operand(index(user.operands[i]!))
      case .literal: return e
      case .call(let op, let attributes, let arguments): return .call(op: op, attributes: attributes, arguments: arguments.map(renumber))
      }
    }
    if user.op == "ssmc.FusedElementwise" {
      guard case .string(let text)? = user.attributes["expr"], let parsed = try? ElementwiseExpression.parse(text),
        parsed.operandsRead.allSatisfy({ $0 < user.operands.count })
      else { return nil }
      return (renumber(parsed), extras)
    }
    let call = ElementwiseExpression.call(
      op: user.op, attributes: user.attributes, arguments: user.operands.indices.map { .operand($0) })
    return (renumber(call), extras)
  }

  /// Whether the Conv lowering computes `conv` as a GEMM (the decision is `ConvKernelFamily`'s, shared with codegen).
  private func convTakesGemmPath(_ conv: Node) -> Bool {
    (try? ConvKernelFamily(conv: graph.context(for: conv), lanes: FuseEpilogue.convLanes)) == .gemm
  }

  /// An extra operand of a Conv epilogue spans all of the output's spatial dims or none of them.
  private func spatialAllOrNothing(_ extra: [Int], output: [Int]) -> Bool {
    let aligned = [Int](repeating: 1, count: output.count - extra.count) + extra
    let spatial = aligned.dropFirst(2)
    return spatial.allSatisfy { $0 == 1 } || Array(spatial) == Array(output.dropFirst(2))
  }
}

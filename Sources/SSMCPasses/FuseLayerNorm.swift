import SSMCIR

/// Replaces the decomposed LayerNorm and RMSNorm that exporters emit with one normalization node, which
/// computes the row statistics in one pass over each row instead of writing six intermediate tensors.
///
///     m = ReduceMean(x, axes); d = Sub(x, m); v = ReduceMean(Pow(d, 2) | Mul(d, d), axes)
///     n = Div(d, Sqrt(Add(v, eps)))  |  Mul(d, Reciprocal(Sqrt(...)))  |  Mul(d, Div(1, Sqrt(...)))
///     y = Add(Mul(n, gamma), beta)
///       ->  y = LayerNormalization(x, gamma, beta) {axis = axes[0] - rank, epsilon = eps}
///
///     v = ReduceMean(Pow(x, 2) | Mul(x, x), axes); n = Div(x, Sqrt(Add(v, eps))) | Mul(x, 1/Sqrt(...))
///     y = Mul(n, w)
///       ->  y = RMSNormalization(x, w) {axis = axes[0] - rank, epsilon = eps}
///
/// Add and Mul match with their operands in either order. Without a gamma (or w) the scale is a constant
/// of ones; beta is optional. Fires only when:
/// - both means reduce the same trailing axes [axis, rank) with keepdims (any other axis: no fusion);
/// - eps is a one-element float constant, the square is a power of exactly 2, and the 1 of Div(1, s) is 1;
/// - every intermediate value is used only inside the pattern and is no graph output (an extra user of,
///   say, the mean keeps the whole chain);
/// - x is f32 (the normalization lowerings' type) and gamma/beta broadcast to the normalized dims.
public struct FuseLayerNorm: Pass {
  public let name = "fuse-layernorm"
  public init() {}

  public func run(on graph: inout Graph) throws(Diagnostics) -> Bool {
    let patterns = PatternGraph(graph)
    var matches: [FusionMatch] = []
    var claimed = Set<Int>()
    for (i, node) in graph.nodes.enumerated() where !claimed.contains(i) {
      guard var (match, onesShape) = patterns.normalization(at: i, node), match.removed.isDisjoint(with: claimed)
      else { continue }
      if let shape = onesShape {
        let ones = TensorData(.f32, shape: shape, doubles: Array(repeating: 1, count: shape.reduce(1, *)))
        match.replacement.operands[1] = graph.addConstant(name: graph.freshName("ones"), ones)
      }
      claimed.formUnion(match.removed)
      matches.append(match)
    }
    graph.apply(matches)
    return !matches.isEmpty
  }
}

extension PatternGraph {
  /// The normalization whose divide-by-deviation node is `node` (index `i`), extended over a following
  /// Mul by gamma and Add of beta; nil when the nodes do not form one. Without a gamma the match has no
  /// scale yet and `onesShape` gives the static normalized dims its constant of ones must have.
  fileprivate func normalization(at i: Int, _ node: Node) -> (match: FusionMatch, onesShape: [Int]?)? {
    guard let core = normalizationCore(node), let root = node.results.first else { return nil }
    guard let x = type(core.input), x.element == .f32, type(root) == x else { return nil }
    var removed = core.nodes.union([i])
    var rootIndex = i
    var last = root
    var scale: ValueID? = nil
    var bias: ValueID? = nil
    let normalizedDims = Array(x.dims[core.axis...])
    func fitsNormalized(_ v: ValueID?) -> Bool {
      guard let t = type(v), t.element == .f32 else { return false }
      return t.rank <= normalizedDims.count && Broadcast.shape([normalizedDims, t.dims]) == normalizedDims
    }
    if let (j, mul) = soleUser(last), mul.op == "Mul", let g = other(than: last, in: mul), fitsNormalized(g),
      type(mul.results[0]) == x
    {
      scale = g
      removed.insert(j)
      (rootIndex, last) = (j, mul.results[0])
      if !core.rms, let (k, add) = soleUser(last), add.op == "Add", let b = other(than: last, in: add), fitsNormalized(b),
        type(add.results[0]) == x
      {
        bias = b
        removed.insert(k)
        (rootIndex, last) = (k, add.results[0])
      }
    }
    guard onlyUsedInside(removed, root: rootIndex) else { return nil }
    var onesShape: [Int]? = nil
    if scale == nil {
      guard let shape = TensorType(.f32, normalizedDims).staticShape else { return nil }
      onesShape = shape
    }
    let attributes: [String: Attribute] = ["axis": .int(core.axis - x.rank), "epsilon": .float(Float(core.epsilon))]
    let op = core.rms ? "RMSNormalization" : "LayerNormalization"
    let operands: [ValueID?] = core.rms ? [core.input, scale] : [core.input, scale] + (bias.map { [$0] } ?? [])
    let replacement = Node(op: op, operands: operands, results: [last], attributes: attributes, name: graph.nodes[rootIndex].name)
    return (FusionMatch(root: rootIndex, removed: removed, replacement: replacement), onesShape)
  }

  /// What the statistics part matched: the normalized input x, the first normalized axis, epsilon, whether the
  /// mean is subtracted (LayerNorm) or not (RMSNorm), and the nodes other than the final divide.
  fileprivate struct Core {
    var input: ValueID
    var axis: Int
    var epsilon: Double
    var rms: Bool
    var nodes: Set<Int>
  }

  /// Matches `node` as n = d / sqrt(var + eps) in one of its three spellings.
  fileprivate func normalizationCore(_ node: Node) -> Core? {
    guard node.operands.count == 2, let a = node.operands[0], let b = node.operands[1] else { return nil }
    if node.op == "Div" {
      return statistics(deviation: a, sqrt: b, extra: [])
    }
    guard node.op == "Mul" else { return nil }
    for (d, r) in [(a, b), (b, a)] {
      if let (j, reciprocal) = producer(r, "Reciprocal"), let s = reciprocal.operands[0],
        let core = statistics(deviation: d, sqrt: s, extra: [j])
      {
        return core
      }
      if let (j, div) = producer(r, "Div"), isScalar(div.operands[0], 1), let s = div.operands[1],
        let core = statistics(deviation: d, sqrt: s, extra: [j])
      {
        return core
      }
    }
    return nil
  }

  /// Matches s = Sqrt(Add(ReduceMean(d², axes), eps)) and then d = Sub(x, ReduceMean(x, axes)) (LayerNorm)
  /// or d = x (RMSNorm).
  private func statistics(deviation d: ValueID, sqrt s: ValueID, extra: Set<Int>) -> Core? {
    guard let (iSqrt, sqrt) = producer(s, "Sqrt"), let (iAdd, add) = producer(sqrt.operands[0], "Add"),
      let addResult = add.results.first, let sum = add.operands[0], let variance = add.operands[1]
    else { return nil }
    for (v, e) in [(sum, variance), (variance, sum)] {
      guard let epsilon = scalar(e), type(e)?.element.isFloat == true,
        let (iMean2, mean2) = producer(v, "ReduceMean"), type(addResult) == type(v), type(s) == type(v),
        let axis = trailingReductionAxis(mean2), let (iSquare, square) = producer(mean2.operands[0], "Pow", "Mul"),
        square.operands[0] == d
      else { continue }
      let isSquare = square.op == "Pow" ? scalar(square.operands[1]) == 2 : square.operands[1] == d
      guard isSquare else { continue }
      var nodes = extra.union([iSqrt, iAdd, iMean2, iSquare])
      if let (iSub, sub) = producer(d, "Sub"), let x = sub.operands[0],
        let (iMean1, mean1) = producer(sub.operands[1], "ReduceMean"), mean1.operands[0] == x,
        trailingReductionAxis(mean1) == axis, type(d) == type(x)
      {
        nodes.formUnion([iSub, iMean1])
        return Core(input: x, axis: axis, epsilon: epsilon, rms: false, nodes: nodes)
      }
      return Core(input: d, axis: axis, epsilon: epsilon, rms: true, nodes: nodes)
    }
    return nil
  }
}

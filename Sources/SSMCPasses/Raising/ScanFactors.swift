import SSMCIR

/// The recurrence a raising pass found, in scan coordinates (b, d, l, n) of shape (batch, D, L, N):
///
///     h[b,d,l,:] = exp(E[b,d,l,:]) ⊙ h[b,d,l−1,:] + F[b,d,l,:],   y[b,d,l] = Σ_n C[b,d,l,n] · h[b,d,l,n],  h[−1] = 0
///
/// with E and F given as products of layouts. It is Mamba-1's selective scan exactly when
///
///     E = Δ · A     with Δ independent of n and A independent of b and l, and
///     F = Δ · u · B with the same Δ (same source, same layout), u independent of n, and
///     B, C each depending on d only through a group index g(d) = ⌊d / (D/G)⌋,
///
/// and then y = SelectiveScan(u, Δ, A, B, C) with delta_softplus = 0, no D, z or delta_bias (whatever
/// computed Δ, u, A, B, C stays in the graph as ordinary ops). G is the least group count both B and C fit.
struct ScanFactors {
  var dims: [Int]  // batch, D, L, N
  var decay: [Term]  // factors of E
  var input: [Term]  // factors of F
  var readout: Layout  // C

  /// Emits SelectiveScan and the views feeding it into `sink`; returns y (batch, D, L), or nil when the
  /// factors do not have Mamba-1's structure (then nothing is to be rewritten).
  func emit(_ graph: inout Graph, _ sink: inout NodeSink, name: String) -> ValueID? {
    let decayLeaves = decay.compactMap(\.leaf)
    let inputLeaves = input.compactMap(\.leaf)
    guard decayLeaves.count == 2, decay.count == 2, inputLeaves.count == 3, input.count == 3 else { return nil }
    for (di, ai) in [(0, 1), (1, 0)] {
      let (delta, a) = (decayLeaves[di].canonical, decayLeaves[ai])
      guard delta.ignores(3), a.ignores(0), a.ignores(2),
        let match = inputLeaves.firstIndex(where: { $0.canonical == delta })
      else { continue }
      let rest = inputLeaves.indices.filter { $0 != match }.map { inputLeaves[$0] }
      for (ui, bi) in [(0, 1), (1, 0)] where rest[ui].ignores(3) {
        var trial = sink
        var g = graph
        if let y = build(&g, &trial, delta: delta, a: a, u: rest[ui], b: rest[bi], name: name) {
          graph = g
          sink = trial
          return y
        }
      }
    }
    return nil
  }

  private func build(_ graph: inout Graph, _ sink: inout NodeSink, delta: Layout, a: Layout, u: Layout, b: Layout, name: String) -> ValueID? {
    let channels = dims[1]
    let groups = lcm(groupCount(b), groupCount(readout))
    guard channels % groups == 0,
      let aDN = a.dropping(2)?.dropping(0), let deltaBDL = delta.dropping(3), let uBDL = u.dropping(3),
      let bGroups = grouped(b, groups), let cGroups = grouped(readout, groups),
      let deltaValue = sink.materialize(&graph, deltaBDL, name: name + "_delta"),
      let uValue = sink.materialize(&graph, uBDL, name: name + "_u"),
      let aValue = sink.materialize(&graph, aDN, name: name + "_A"),
      let bValue = sink.materialize(&graph, bGroups, name: name + "_B"),
      let cValue = sink.materialize(&graph, cGroups, name: name + "_C")
    else { return nil }
    return sink.add1(&graph, "ssmc.SelectiveScan", [uValue, deltaValue, aValue, bValue, cValue], name: name)
  }

  /// The fewest groups a (b, d, l, n) layout fits: D over the length of the run of trailing broadcast
  /// digits of its d axis (1 when it does not depend on d, D when every channel differs).
  private func groupCount(_ layout: Layout) -> Int {
    let digits = Layout.canonicalAxis(layout.canonical.axes[1])
    var shared = 1
    for d in digits.reversed() {
      guard d.stride == 0 else { break }
      shared *= d.size
    }
    return dims[1] / shared
  }

  /// A (b, d, l, n) layout as (batch, G, N, L), when it depends on d only through the group.
  private func grouped(_ layout: Layout, _ groups: Int) -> Layout? {
    let (batch, channels, length, state) = (dims[0], dims[1], dims[2], dims[3])
    return layout.reshaped([batch, groups, channels / groups, length, state])?.dropping(2)?.transposed([0, 1, 3, 2])
  }
}

private func lcm(_ a: Int, _ b: Int) -> Int {
  func gcd(_ x: Int, _ y: Int) -> Int { y == 0 ? x : gcd(y, x % y) }
  return a / gcd(a, b) * b
}

import SSMCIR

/// Folds a zero constant Pad of the spatial dims into the Conv that reads it: the Conv's own pads grow by
/// the Pad's, and the padded tensor is never built (exporters write `F.pad` + conv for S4ND's long
/// kernels; the Conv kernels pad on the fly or in a buffer they fill anyway). The Pad stays for any other
/// reader and is dropped by dce when the Conv was its last.
public struct FoldPadIntoConv: Pass {
  public let name = "fold-pad-into-conv"
  public init() {}

  public func run(on graph: inout Graph) throws(Diagnostics) -> Bool {
    let producers = graph.producers()
    var changed = false
    for index in graph.nodes.indices where graph.nodes[index].op == "Conv" {
      let conv = graph.nodes[index]
      guard let input = conv.operands.first ?? nil, let producer = producers[input],
        graph.nodes[producer].op == "Pad", let (source, extra) = spatialPads(graph.nodes[producer], graph),
        let convPads = convPads(conv, graph, spatial: extra.count / 2)
      else { continue }
      let spatial = extra.count / 2
      var pads = convPads
      for i in 0..<(2 * spatial) { pads[i] += extra[i] }
      graph.nodes[index].operands[0] = source
      graph.nodes[index].attributes["pads"] = .ints(pads)
      changed = true
    }
    return changed
  }

  /// The Pad's input and its pads as Conv pads (begins of every spatial dim, then ends), when it pads only
  /// spatial dims, by non-negative amounts, with zeros.
  private func spatialPads(_ pad: Node, _ graph: Graph) -> (ValueID, [Int])? {
    let ctx = graph.context(for: pad)
    guard (try? ctx.string("mode")) ?? "constant" == "constant", let source = pad.operands[0],
      let rank = graph.type(of: source)?.rank, rank >= 3,
      let padValues = pad.operands[1].flatMap({ graph.constants[$0] })?.ints
    else { return nil }
    if pad.operands.count > 2, let fill = pad.operands[2] {
      guard let data = graph.constants[fill], data.doubles.allSatisfy({ $0 == 0 }) else { return nil }
    }
    var axes = Array(0..<rank)
    if pad.operands.count > 3, let axesValue = pad.operands[3] {
      guard let given = graph.constants[axesValue]?.ints else { return nil }
      axes = given.map { $0 < 0 ? $0 + rank : $0 }
    }
    guard padValues.count == 2 * axes.count, axes.allSatisfy({ (0..<rank).contains($0) }), Set(axes).count == axes.count
    else { return nil }
    var begins = [Int](repeating: 0, count: rank)
    var ends = [Int](repeating: 0, count: rank)
    for (k, axis) in axes.enumerated() {
      begins[axis] = padValues[k]
      ends[axis] = padValues[k + axes.count]
    }
    guard begins[0] == 0, ends[0] == 0, begins[1] == 0, ends[1] == 0, (begins + ends).allSatisfy({ $0 >= 0 }) else { return nil }
    return (source, Array(begins[2...]) + Array(ends[2...]))
  }

  /// The Conv's explicit pads (begins, then ends), when it does not derive them from auto_pad.
  private func convPads(_ conv: Node, _ graph: Graph, spatial: Int) -> [Int]? {
    let ctx = graph.context(for: conv)
    guard (try? ctx.string("auto_pad")) ?? "NOTSET" == "NOTSET" else { return nil }
    let pads = (try? ctx.ints("pads")) ?? [Int](repeating: 0, count: 2 * spatial)
    return pads.count == 2 * spatial ? pads : nil
  }
}

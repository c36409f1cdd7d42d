/// Multidirectional (numpy-style) broadcasting of shapes, as ONNX defines it.
public enum Broadcast {
  /// The broadcast shape of `shapes`, or nil when two dims conflict.
  public static func shape(_ shapes: [[Dim]]) -> [Dim]? {
    let rank = shapes.map(\.count).max() ?? 0
    var result: [Dim] = []
    for axis in 0..<rank {
      var dim: Dim = .fixed(1)
      for s in shapes {
        let i = axis - (rank - s.count)
        guard i >= 0 else { continue }
        let d = s[i]
        if d == .fixed(1) || d == dim { continue }
        if dim == .fixed(1) { dim = d; continue }
        // Two different dims, neither 1: a static conflict, or symbolic dims we cannot prove equal. A symbolic
        // dim beside a fixed one must equal it at run time.
        switch (dim.value, d.value) {
        case (_?, nil): continue
        case (nil, _?): dim = d
        default: return nil
        }
      }
      result.append(dim)
    }
    return result
  }
}

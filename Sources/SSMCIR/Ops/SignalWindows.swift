import Foundation

/// Signal-processing sources whose results depend only on constant operands: HannWindow, HammingWindow,
/// BlackmanWindow and MelWeightMatrix. They fold to constants; the shape rule already needs the values.
let signalSourceOps: [OpSchema] = [
  window("HannWindow") { n, span in
    let s = sin(Double.pi * n / span)
    return s * s
  },
  window("HammingWindow") { n, span in
    let alpha = 25.0 / 46.0
    return alpha - (1 - alpha) * cos(2 * Double.pi * n / span)
  },
  window("BlackmanWindow") { n, span in
    0.42 - 0.5 * cos(2 * Double.pi * n / span) + 0.08 * cos(4 * Double.pi * n / span)
  },
  melWeightMatrix,
]

/// The element type named by `output_datatype` (an ONNX TensorProto data type code).
private func outputElement(_ ctx: OpContext) throws(Diagnostic) -> ElementType {
  let code = try ctx.int("output_datatype")
  guard let t = ElementType(code: code) else {
    throw ctx.error(.badAttribute, "output_datatype \(code) is not a supported element type")
  }
  return t
}

/// The range a folded source's integer operand must lie in: its results fold to at most that many values.
private let foldRange = -maxFoldElements...maxFoldElements

/// A window of `size` samples: w[n] = f(n, N) with N = size when periodic, size - 1 when symmetric.
private func window(_ name: String, _ f: @escaping @Sendable (Double, Double) -> Double) -> OpSchema {
  @Sendable func values(_ ctx: OpContext) throws(Diagnostic) -> (ElementType, [Double]) {
    let element = try outputElement(ctx)
    let size = try ctx.constantScalarInt(0, in: foldRange)
    guard size >= 0 else { throw ctx.error(.badOperand, "\(name) size \(size) is negative") }
    let span = Double(try ctx.int("periodic") != 0 ? size : size - 1)
    return (element, (0..<size).map { f(Double($0), span) })
  }
  return OpSchema(
    name, operands: [.required("size")],
    attributes: [AttributeSpec("output_datatype", .int, default: .int(1)), AttributeSpec("periodic", .int, default: .int(1))],
    inferTypes: { ctx throws(Diagnostic) in
      let (element, v) = try values(ctx)
      return [TensorType(element, shape: [v.count])]
    },
    fold: { ctx throws(Diagnostic) in
      let (element, v) = try values(ctx)
      return [TensorData(element, shape: [v.count], doubles: v)]
    })
}

/// MelWeightMatrix: [dft_length / 2 + 1, num_mel_bins] triangular filters. The band edges follow the ONNX
/// reference evaluator (the mel range is split into num_mel_bins + 2 steps), which the node tests' data uses.
private let melWeightMatrix = OpSchema(
  "MelWeightMatrix",
  operands: [.required("num_mel_bins"), .required("dft_length"), .required("sample_rate"),
             .required("lower_edge_hertz"), .required("upper_edge_hertz")],
  attributes: [AttributeSpec("output_datatype", .int, default: .int(1))],
  inferTypes: { ctx throws(Diagnostic) in
    let (element, shape, _) = try melValues(ctx)
    return [TensorType(element, shape: shape)]
  },
  fold: { ctx throws(Diagnostic) in
    let (element, shape, v) = try melValues(ctx)
    return [TensorData(element, shape: shape, doubles: v)]
  })

private func melValues(_ ctx: OpContext) throws(Diagnostic) -> (ElementType, [Int], [Double]) {
  let element = try outputElement(ctx)
  let bins = try ctx.constantScalarInt(0, in: foldRange)
  let dftLength = try ctx.constantScalarInt(1, in: foldRange)
  let sampleRate = try ctx.constantScalarInt(2, in: foldRange)
  let lower = try ctx.requireConstant(3).element(at: 0)
  let upper = try ctx.requireConstant(4).element(at: 0)
  guard bins > 0, dftLength > 0, sampleRate > 0 else {
    throw ctx.error(.badOperand, "num_mel_bins \(bins), dft_length \(dftLength) and sample_rate \(sampleRate) must be positive")
  }
  guard lower >= 0, upper >= lower, upper.isFinite else {
    throw ctx.error(.badOperand, "edge frequencies \(lower)...\(upper) must satisfy 0 <= lower <= upper")
  }
  let rows = dftLength / 2 + 1
  guard rows * bins <= maxFoldElements else { throw ctx.error(.unsupportedFeature, "MelWeightMatrix is too large to fold") }
  func mel(_ hz: Double) -> Double { 2595 * log1p(hz / 700) / log(10) }
  let lowMel = mel(lower)
  let step = (mel(upper) - lowMel) / Double(bins + 2)
  var edges: [Int] = []
  for i in 0..<(bins + 2) {
    let hz = 700 * expm1((Double(i) * step + lowMel) / 2595 * log(10))
    let edge = (Double(dftLength + 1) * hz / Double(sampleRate)).rounded(.down)
    // Edges past the spectrogram are an error below; bound them first so Int() cannot trap.
    guard edge.isFinite, edge <= Double(rows + 1) else {
      throw ctx.error(.badOperand, "upper_edge_hertz \(upper) lies above the \(rows) spectrogram bins")
    }
    edges.append(Int(edge))
  }
  var out = [Double](repeating: 0, count: rows * bins)
  func set(_ row: Int, _ col: Int, _ v: Double) throws(Diagnostic) {
    guard row >= 0 && row < rows else { throw ctx.error(.badOperand, "mel band edge \(row) is outside the \(rows) spectrogram bins") }
    out[row * bins + col] = v
  }
  for i in 0..<bins {
    let (left, center, right) = (edges[i], edges[i + 1], edges[i + 2])
    if center == left {
      try set(center, i, 1)
    } else if center > left {
      for j in left...center { try set(j, i, Double(j - left) / Double(center - left)) }
    }
    if right > center {
      for j in center..<right { try set(j, i, Double(right - j) / Double(right - center)) }
    }
  }
  return (element, [rows, bins], out)
}

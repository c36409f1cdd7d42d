/// The ONNX recurrent layers LSTM, GRU and RNN (opset 14+ form: `layout` is an attribute; older opsets
/// import unchanged since their attributes are a subset). Operands: X, W, R, then optional B,
/// sequence_lens, initial_h (and for LSTM initial_c, P); every result (Y, Y_h, Y_c) is optional, so the
/// node has as many results as the ONNX node names.
let recurrentNetworkOps: [OpSchema] = [
  recurrentNetwork(.lstm).with(samples: recurrentNetworkSamples),
  recurrentNetwork(.gru).with(samples: recurrentNetworkSamples),
  recurrentNetwork(.rnn).with(samples: recurrentNetworkSamples),
]

/// One activation function of a recurrent layer with its alpha and beta (unused ones are 0).
public struct RecurrentActivation: Sendable, Equatable {
  public enum Kind: String, Sendable, CaseIterable {
    case relu, tanh, sigmoid, affine, leakyrelu, thresholdedrelu, scaledtanh, hardsigmoid, elu, softsign, softplus
    /// Whether the function reads alpha and beta.
    var parameters: (alpha: Bool, beta: Bool) {
      switch self {
      case .affine, .scaledtanh, .hardsigmoid: (true, true)
      case .leakyrelu, .thresholdedrelu, .elu: (true, false)
      default: (false, false)
      }
    }
    /// The alpha and beta of the same-named ONNX operator when the lists run out (Affine and ScaledTanh
    /// were experimental ops: Affine defaulted to alpha 1, beta 0; ScaledTanh had no defaults, 1 and 1
    /// make it plain tanh).
    var defaults: (alpha: Float, beta: Float) {
      switch self {
      case .leakyrelu: (0.01, 0)
      case .hardsigmoid: (0.2, 0.5)
      case .elu, .thresholdedrelu, .affine: (1, 0)
      case .scaledtanh: (1, 1)
      default: (0, 0)
      }
    }
  }
  public var kind: Kind
  public var alpha: Float
  public var beta: Float
}

/// A recurrent layer after checking its operands and attributes, shared by the shape rule and the lowering.
public struct RecurrentGeometry: Sendable {
  public enum Cell: String, Sendable {
    case lstm = "LSTM", gru = "GRU", rnn = "RNN"
    /// Gate blocks in W and R: 4 (LSTM i, o, f, c), 3 (GRU z, r, h), 1 (RNN).
    public var gates: Int { self == .lstm ? 4 : self == .gru ? 3 : 1 }
  }
  public var cell: Cell
  public var gates: Int { cell.gates }
  public var length: Dim, batch: Dim, inputSize: Dim
  public var hiddenSize: Int
  /// 1, or 2 for bidirectional (forward first).
  public var directions: Int
  /// direction = "reverse": the only direction runs backwards.
  public var reverse: Bool
  /// layout = 1: X, Y, the states are batch-major.
  public var batchMajor: Bool
  /// Per direction, the activations: LSTM (f, g, h), GRU (f, g), RNN (f).
  public var activations: [[RecurrentActivation]]
  /// Gate pre-activations are clipped to [-clip, clip] when set.
  public var clip: Float?
  /// LSTM input_forget: f = 1 - i.
  public var inputForget: Bool
  /// GRU linear_before_reset: the reset gate scales (h·Rh + Rbh) rather than h.
  public var linearBeforeReset: Bool
}

private func recurrentNetwork(_ cell: RecurrentGeometry.Cell) -> OpSchema {
  var operands: [OperandSpec] = [
    .required("X"), .required("W"), .required("R"), .optional("B"), .optional("sequence_lens"), .optional("initial_h"),
  ]
  var attributes = [
    AttributeSpec("activation_alpha", .floats), AttributeSpec("activation_beta", .floats),
    AttributeSpec("activations", .strings, default: cell == .rnn ? .strings(["Tanh", "Tanh"]) : nil),
    AttributeSpec("clip", .float),
    AttributeSpec("direction", .string, default: .string("forward")), AttributeSpec("hidden_size", .int),
    AttributeSpec("layout", .int, default: .int(0)),
  ]
  switch cell {
  case .lstm:
    operands += [.optional("initial_c"), .optional("P")]
    attributes.append(AttributeSpec("input_forget", .int, default: .int(0)))
  case .gru: attributes.append(AttributeSpec("linear_before_reset", .int, default: .int(0)))
  case .rnn: break
  }
  return OpSchema(
    cell.rawValue, operands: operands, results: nil, attributes: attributes,
    inferTypes: { ctx throws(Diagnostic) in
      let g = try recurrentGeometry(ctx)
      let element = try ctx.type(0).element
      let h = Dim.fixed(g.hiddenSize), d = Dim.fixed(g.directions)
      let y = TensorType(element, g.batchMajor ? [g.batch, g.length, d, h] : [g.length, d, g.batch, h])
      let state = TensorType(element, g.batchMajor ? [g.batch, d, h] : [d, g.batch, h])
      return [y] + Array(repeating: state, count: ctx.resultCount - 1)
    })
}

/// Reads and checks a LSTM, GRU or RNN node.
public func recurrentGeometry(_ ctx: OpContext) throws(Diagnostic) -> RecurrentGeometry {
  guard let cell = RecurrentGeometry.Cell(rawValue: ctx.schema.name) else { throw ctx.error("not a recurrent layer") }
  let maxResults = cell == .lstm ? 3 : 2
  guard (1...maxResults).contains(ctx.resultCount) else {
    throw ctx.error("\(cell.rawValue) has 1 to \(maxResults) results, got \(ctx.resultCount)")
  }
  let x = try ctx.type(0, rank: 3)
  guard x.element.isFloat else { throw ctx.error(.typeMismatch, "\(cell.rawValue) needs float operands, got \(x)") }
  try ctx.requireSameElement([1, 2, 3, 5, 6, 7], as: 0)
  let batchMajor = try ctx.flag("layout")
  let direction = try ctx.string("direction") ?? "forward"
  guard ["forward", "reverse", "bidirectional"].contains(direction) else {
    throw ctx.error(.badAttribute, "direction must be forward, reverse or bidirectional, got '\(direction)'")
  }
  let directions = direction == "bidirectional" ? 2 : 1
  let (w, r) = (try ctx.type(1, rank: 3), try ctx.type(2, rank: 3))
  let gateCount = cell.gates
  guard let rows = w.dims[1].value, rows % gateCount == 0 else {
    throw ctx.error(.unknownShape, "W \(w) must have a static second dim that is \(gateCount) x hidden_size")
  }
  let hidden = try ctx.optionalInt("hidden_size") ?? rows / gateCount
  guard hidden >= 1 else { throw ctx.error(.badAttribute, "hidden_size must be positive, got \(hidden)") }
  let dirs = Dim.fixed(directions), gateRows = Dim.fixed(gateCount * hidden)
  let (length, batch) = batchMajor ? (x.dims[1], x.dims[0]) : (x.dims[0], x.dims[1])
  guard unifyDims(w.dims[0], dirs) != nil, unifyDims(w.dims[1], gateRows) != nil, unifyDims(w.dims[2], x.dims[2]) != nil else {
    throw ctx.error("W \(w) must be [\(directions), \(gateCount * hidden), \(x.dims[2])] for X \(x)")
  }
  guard r.dims == [dirs, gateRows, .fixed(hidden)] else {
    throw ctx.error("R \(r) must be [\(directions), \(gateCount * hidden), \(hidden)]")
  }
  if ctx.has(3), try ctx.type(3).dims != [dirs, .fixed(2 * gateCount * hidden)] {
    throw ctx.error("B \(try ctx.type(3)) must be [\(directions), \(2 * gateCount * hidden)]")
  }
  if ctx.has(4) {
    let s = try ctx.type(4, rank: 1)
    guard s.element == .i32 else { throw ctx.error(.typeMismatch, "sequence_lens must be i32, got \(s)") }
    guard unifyDims(s.dims[0], batch) != nil else { throw ctx.error("sequence_lens \(s) must have \(batch) elements") }
  }
  let stateIndices = cell == .lstm ? [5, 6] : [5]
  for i in stateIndices where ctx.has(i) {
    let s = try ctx.type(i, rank: 3)
    let expected = batchMajor ? [batch, dirs, .fixed(hidden)] : [dirs, batch, .fixed(hidden)]
    guard zip(s.dims, expected).allSatisfy({ unifyDims($0, $1) != nil }) else {
      throw ctx.error("\(ctx.operandName(i)) \(s) must be [\(expected.map(\.description).joined(separator: ", "))]")
    }
  }
  if cell == .lstm, ctx.has(7), try ctx.type(7).dims != [dirs, .fixed(3 * hidden)] {
    throw ctx.error("P \(try ctx.type(7)) must be [\(directions), \(3 * hidden)]")
  }
  var clip: Float? = nil
  if ctx.attributes["clip"] != nil {
    let c = try ctx.float("clip")
    guard c > 0 else { throw ctx.error(.badAttribute, "clip must be positive, got \(c)") }
    clip = c
  }
  return RecurrentGeometry(
    cell: cell, length: length, batch: batch, inputSize: x.dims[2], hiddenSize: hidden, directions: directions,
    reverse: direction == "reverse", batchMajor: batchMajor,
    activations: try recurrentActivations(ctx, cell: cell, directions: directions), clip: clip,
    inputForget: cell == .lstm ? try ctx.flag("input_forget") : false,
    linearBeforeReset: cell == .gru ? try ctx.flag("linear_before_reset") : false)
}

/// The activations per direction with their alpha and beta, consumed in order from the attribute lists by
/// the functions that take them (defaults of the same-named ONNX ops when the lists run out).
private func recurrentActivations(
  _ ctx: OpContext, cell: RecurrentGeometry.Cell, directions: Int
) throws(Diagnostic) -> [[RecurrentActivation]] {
  let perDirection = cell == .lstm ? 3 : cell == .gru ? 2 : 1
  let defaults = cell == .lstm ? ["Sigmoid", "Tanh", "Tanh"] : cell == .gru ? ["Sigmoid", "Tanh"] : ["Tanh"]
  var names: [String]
  switch ctx.attribute("activations") {
  case nil: names = Array(Array(repeating: defaults, count: directions).joined())
  case .strings(let given)?: names = given
  case .ints(let v)? where v.isEmpty: names = []
  default: throw ctx.error(.badAttribute, "activations must be a list of strings")
  }
  // RNN's schema default is ["Tanh", "Tanh"], one more than a one-direction layer uses (onnxruntime
  // likewise takes the first of two for one direction).
  if cell == .rnn && directions == 1 && names.count == 2 { names = [names[0]] }
  guard names.count == perDirection * directions else {
    throw ctx.error(
      .badAttribute, "\(cell.rawValue) needs \(perDirection * directions) activations for \(directions) direction(s), got \(names.count)")
  }
  func list(_ name: String) throws(Diagnostic) -> [Float] {
    switch ctx.attributes[name] {
    case nil: return []
    case .floats(let v)?: return v
    case .ints(let v)?: return v.map(Float.init)
    default: throw ctx.error(.badAttribute, "\(name) must be a list of floats")
    }
  }
  var (alphas, betas) = (try list("activation_alpha")[...], try list("activation_beta")[...])
  var all: [RecurrentActivation] = []
  for name in names {
    guard let kind = RecurrentActivation.Kind(rawValue: name.lowercased()) else {
      throw ctx.error(
        .badAttribute, "activation '\(name)' is not one of Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, "
          + "ScaledTanh, HardSigmoid, Elu, Softsign, Softplus")
    }
    var activation = RecurrentActivation(kind: kind, alpha: 0, beta: 0)
    let (usesAlpha, usesBeta) = kind.parameters
    if usesAlpha { activation.alpha = alphas.popFirst() ?? kind.defaults.alpha }
    if usesBeta { activation.beta = betas.popFirst() ?? kind.defaults.beta }
    all.append(activation)
  }
  return (0..<directions).map { d in Array(all[(d * perDirection)..<((d + 1) * perDirection)]) }
}

/// The batch is axis 1 of X, the states and Y_h (axis 2 of Y) in layout 0, axis 0 of all in layout 1, and
/// axis 0 of sequence_lens; the weights must be the same for every sample.
private let recurrentNetworkSamples = SampleRule { ctx throws(Diagnostic) in
  try ctx.requireOnlyBatched([0, 4, 5, 6])
  let batchMajor = try ctx.op.flag("layout")
  let expected = [0: batchMajor ? 0 : 1, 4: 0, 5: batchMajor ? 0 : 1, 6: batchMajor ? 0 : 1]
  var any = false
  for (i, axis) in expected {
    guard let got = ctx.axis(i) else { continue }
    guard got == axis else { throw ctx.mixes("\(ctx.op.operandName(i)) indexes samples along axis \(got), not \(axis)") }
    any = true
  }
  guard any else { return Array(repeating: nil, count: ctx.resultCount) }
  return (0..<ctx.resultCount).map { $0 == 0 ? (batchMajor ? 0 : 2) : (batchMajor ? 0 : 1) }
}

import SSMCIR

/// Expands each `ssmc.S4ND2D` into plain IR, with its kernels computed now for the graph's input size.
///
/// For X (batch, H, L0, L1) and per axis a the kernel length Lk_a = min(L_a, l_max_a), the raw kernels
/// k_a (2·O', H, Lk_a) come from the SSM parameters in Float64 (`S4NDKernel`, eigen-diagonal form), and
/// the node becomes the separable form the exporter's `--s4nd-form separable` writes, with the per-axis
/// cross-correlation taps w_a = [reverse(k⁺_a), k⁻_a] (2·Lk_a taps, h-major channels h·O' + o):
///
///     depthwise (out_channels = 0, O' = 1):
///       y = Conv(Pad(Conv(Pad(X, H: Lk0−1, Lk0), w_0, group H), W: Lk1−1, Lk1), w_1, group H) + X·D
///     dense (out_channels = O' > 0, D unused):
///       t = Conv(Pad(Conv(Pad(X, H: …), w_0 (H·O',1,2Lk0,1), group H), W: …), w_1 (H·O',1,1,2Lk1), group H·O')
///       y = ReduceSum(Reshape(t, (batch, H, O', L0, L1)), axis 1)
///
/// The parameters must be compile-time constants and the spatial dims static; anything else is an error
/// naming the node (the op has no other lowering).
public struct ExpandS4ND: Pass {
  public let name = "expand-s4nd"
  public init() {}

  public func run(on graph: inout Graph) throws(Diagnostics) -> Bool {
    var problems: [Diagnostic] = []
    var changed = false
    var index = 0
    while index < graph.nodes.count {
      guard graph.nodes[index].op == S4ND2DOperands.opName else {
        index += 1
        continue
      }
      do {
        let inserted = try expand(&graph, at: index)
        changed = true
        index += inserted
      } catch {
        problems.append(error)
        index += 1
      }
    }
    if !problems.isEmpty { throw Diagnostics(problems) }
    return changed
  }

  /// Replaces the node at `index`; returns the number of nodes now in its place.
  private func expand(_ graph: inout Graph, at index: Int) throws(Diagnostic) -> Int {
    let node = graph.nodes[index]
    let context = graph.context(for: node)
    let location = context.location
    func fail(_ code: Diagnostic.Code, _ message: String) -> Diagnostic { Diagnostic(code, message, at: location) }
    guard let schema = OpRegistry.schema(S4ND2DOperands.opName) else { throw fail(.internalError, "S4ND2D is not registered") }
    _ = try schema.inferTypes(context)
    guard let x = node.operands[0], let xType = graph.type(of: x) else {
      throw fail(.unknownShape, "S4ND2D input X is absent or has no type")
    }
    guard let h = xType.dims[1].value, let l0 = xType.dims[2].value, let l1 = xType.dims[3].value else {
      throw fail(.unsupportedFeature, "S4ND2D needs static channel and spatial dims to compute its kernels, got X \(xType); fix them with --input-shape")
    }
    guard l0 > 0 && l1 > 0 else { throw fail(.unsupportedFeature, "S4ND2D input has an empty spatial dim: \(xType)") }
    let lKernel = try context.ints("l_kernel") ?? []
    let lMax = try context.ints("l_max") ?? []
    let outChannels = try context.int("out_channels")
    let halves = max(outChannels, 1)
    var constants: [TensorData] = []
    for i in 1..<node.operands.count {
      guard let data = context.constant(i) else {
        throw fail(.unsupportedFeature, "S4ND2D operand \(context.operandName(i)) is not a compile-time constant; expand-s4nd computes the kernels at compile time and needs every SSM parameter (all operands but X) to be a constant")
      }
      constants.append(data)
    }
    let lengths = [min(l0, lMax[0]), min(l1, lMax[1])]
    var taps: [[Float]] = []
    for axis in 0..<2 {
      let parameters = axisParameters(constants, axis: axis, lKernel: lKernel[axis])
      let raw: [[[Double]]]
      do {
        raw = try S4NDKernel.axisKernel(parameters, length: lengths[axis])
      } catch {
        throw fail(.unsupportedFeature, "S4ND2D kernel along axis \(axis) (\(axis == 0 ? "height" : "width")): \(error.message)")
      }
      // [half][H][2Lk] -> h-major (H·O', 2Lk) conv weights.
      let bidirectional = S4NDKernel.bidirectionalTaps(raw)
      taps.append((0..<h).flatMap { c in (0..<halves).flatMap { o in bidirectional[o][c].map { Float($0) } } })
    }

    var sink = NodeSink()
    var g = graph
    let base = node.name.isEmpty ? "s4nd" : node.name
    func add(_ op: String, _ operands: [ValueID?], _ attributes: [String: Attribute], _ suffix: String) throws(Diagnostic) -> ValueID {
      guard let v = sink.add1(&g, op, operands, attributes, name: base + "_" + suffix) else {
        throw fail(.internalError, "expand-s4nd built an ill-typed \(op) (\(suffix))")
      }
      return v
    }
    func constant(_ suffix: String, _ data: TensorData) -> ValueID { g.addConstant(name: g.freshName(base + "_" + suffix), data) }
    let mid = h * halves
    let (k0, k1) = (lengths[0], lengths[1])
    let w0 = constant("w_h", TensorData(floats: taps[0], shape: [mid, 1, 2 * k0, 1]))
    let w1 = constant("w_w", TensorData(floats: taps[1], shape: [mid, 1, 1, 2 * k1]))
    let padH = constant("pads_h", TensorData(int64s: [0, 0, Int64(k0 - 1), 0, 0, 0, Int64(k0), 0]))
    let padW = constant("pads_w", TensorData(int64s: [0, 0, 0, Int64(k1 - 1), 0, 0, 0, Int64(k1)]))
    var y = try add("Pad", [x, padH], [:], "pad_h")
    y = try add("Conv", [y, w0], ["group": .int(h), "kernel_shape": .ints([2 * k0, 1])], "conv_h")
    y = try add("Pad", [y, padW], [:], "pad_w")
    y = try add("Conv", [y, w1], ["group": .int(mid), "kernel_shape": .ints([1, 2 * k1])], "conv_w")
    if outChannels == 0 {
      let d = constant("d", TensorData(floats: constants[S4ND2DOperands.d - 1].floats, shape: [1, h, 1, 1]))
      let skip = try add("Mul", [x, d], [:], "skip")
      y = try add("Add", [y, skip], [:], "out")
    } else {
      // Reshape's 0 keeps the batch dim as it is (it may be symbolic).
      let shape = constant("split_shape", TensorData(int64s: [0, Int64(h), Int64(outChannels), Int64(l0), Int64(l1)]))
      y = try add("Reshape", [y, shape], [:], "split")
      let axes = constant("sum_axes", TensorData(int64s: [1]))
      y = try add("ReduceSum", [y, axes], ["keepdims": .int(0)], "out")
    }
    g.splice(sink.nodes, before: index, replacing: [node.results[0]: y])
    g.nodes.remove(at: index + sink.nodes.count)
    graph = g
    return sink.nodes.count
  }

  /// Axis `axis`'s parameters from the constant operands (operand i is constants[i − 1]).
  private func axisParameters(_ constants: [TensorData], axis: Int, lKernel: Int) -> S4NDAxisParameters {
    func values(_ k: Int) -> [Double] { constants[S4ND2DOperands.index(axis: axis, k) - 1].doubles }
    func complex(_ v: [Double]) -> [Complex] { stride(from: 0, to: v.count, by: 2).map { Complex(v[$0], v[$0 + 1]) } }
    let cData = constants[S4ND2DOperands.index(axis: axis, 5) - 1]
    let (kernelChannels, channels, pairs) = (cData.shape[0], cData.shape[1], cData.shape[2])
    let c = complex(cData.doubles)
    return S4NDAxisParameters(
      logDt: values(0), aReal: values(1), aImag: values(2), b: complex(values(3)), p: complex(values(4)),
      c: (0..<kernelChannels).map { k in
        (0..<channels).map { ch in Array(c[((k * channels + ch) * pairs)..<((k * channels + ch + 1) * pairs)]) }
      },
      lKernel: lKernel)
  }
}

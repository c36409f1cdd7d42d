import CLLVM
import SSMCIR

/// Conv and ConvTranspose. Conv picks, per node: a vectorized depthwise kernel (one input channel per
/// group; long 1-D kernels along the width or the height, as in S4ND, have their own: Strip, Row and
/// Column in the Convolution+Depthwise* files), an implicit GEMM through the packed matmul kernel (1-D
/// and 2-D f32), or a general loop nest that handles every rank and attribute combination. `ConvKernelFamily`
/// (SSMCIR, shared with fuse-epilogue) picks among the three.
let convolutionLowerings: [String: Lowering] = [
  "Conv": { ctx in try lowerConv(ctx) },
  "ConvTranspose": { ctx in try lowerConvTranspose(ctx) },
]

/// Conv shapes with every dim static: X (N, C, D...), W (M, C/G, K...), Y (N, M, O...).
struct ConvGeometry {
  var batch: Int
  var channels: Int
  var outChannels: Int
  var groups: Int
  var axes: [LoweringContext.StaticAxis]
  var hasBias: Bool

  var inChannelsPerGroup: Int { channels / groups }
  var outChannelsPerGroup: Int { outChannels / groups }
  var inputPlane: Int { axes.reduce(1) { $0 * $1.size } }
  var outputPlane: Int { axes.reduce(1) { $0 * $1.output } }
  var kernelVolume: Int { axes.reduce(1) { $0 * $1.kernel } }

  init(_ ctx: LoweringContext) throws {
    let x = ctx.operandShape(0)
    let w = ctx.operandShape(1)
    batch = x[0]
    channels = x[1]
    outChannels = w[0]
    groups = try ctx.op.int("group")
    do { axes = try convWindows(ctx.op).map(LoweringContext.StaticAxis.init) } catch { throw ctx.error("\(error)") }
    hasBias = ctx.hasOperand(2)
  }
}

/// `fused`: the epilogue of an `ssmc.FusedConv`, in the GEMM's store where the conv is one (and the
/// extra operands index the output plane as a whole), else as a sweep after the conv.
func lowerConv(_ ctx: LoweringContext, fused: ProductEpilogue? = nil) throws {
  if ctx.hasRuntimeExtents && fused == nil { return try lowerRuntimeConv(ctx) }
  let g = try ConvGeometry(ctx)
  let element = try ctx.scalar(ctx.resultType(0).element)
  guard element.isFloat else { throw ctx.error("Conv needs float operands") }
  guard g.batch * g.outChannels * g.outputPlane > 0 else { return }
  // The same decision fuse-epilogue asks before fusing into the GEMM's store.
  let family: ConvKernelFamily
  do { family = try ConvKernelFamily(conv: ctx.op, lanes: ctx.vectorLanes) } catch { throw ctx.error("\(error)") }
  switch family {
  case .depthwise:
    if g.isDepthwiseStrip(lanes: ctx.vectorLanes) {
      emitDepthwiseStripConv(ctx, g)
    } else if g.isDepthwiseRow {
      emitDepthwiseRowConv(ctx, g)
    } else if g.isDepthwiseColumn {
      emitDepthwiseColumnConv(ctx, g)
    } else {
      emitDepthwiseConv(ctx, g)
    }
  case .gemm:
    var inGemm: ConvFusion? = nil
    if let fused, let steps = fused.convPixelStrides { inGemm = ConvFusion(epilogue: fused, pixelStrides: steps) }
    if g.prefersPaddedGrid { emitPaddedGridConv(ctx, g, fused: inGemm) } else { emitGemmConv(ctx, g, fused: inGemm) }
    if inGemm != nil { return }
  case .direct:
    emitGeneralConv(ctx, g, element: element)
  }
  fused?.emitSweep(ctx)
}

/// The general kernel: for every output element, a sum over the group's input channels and the window,
/// skipping positions in the padding.
private func emitGeneralConv(_ ctx: LoweringContext, _ g: ConvGeometry, element: ScalarType) {
  let k = ctx.k
  let outShape = ctx.resultShape(0)
  let inputSpatial = g.axes.map(\.size)
  let kernelStrides = rowMajorStrides(g.axes.map(\.kernel))
  let captures = [ctx.operand(0), ctx.operand(1), ctx.results[0]] + (g.hasBias ? [ctx.operand(2)] : [])
  ctx.forEachIndex(outShape, captures: captures, innerHints: LoopHints(vectorize: false)) { index, c in
    let (n, m) = (index[0], index[1])
    let group = m / k.i64(Int64(g.outChannelsPerGroup))
    let zero = k.constant(0, k.type(element))
    let start = g.hasBias ? k.load(element, from: c[3], at: m) : zero
    let cg = Int64(g.inChannelsPerGroup)
    let sum = k.forLoop(from: k.i64(0), to: k.i64(cg), hints: LoopHints(vectorize: false), carrying: [start]) { ci, acc in
      let xBase = (n * k.i64(Int64(g.channels)) + group * k.i64(cg) + ci) * k.i64(Int64(g.inputPlane))
      let wBase = (m * k.i64(cg) + ci) * k.i64(Int64(g.kernelVolume))
      return ctx.forEachWindowPosition(g.axes, output: Array(index[2...]), carrying: acc) { kernel, input, inside, _, a in
        let xv = k.load(element, from: c[0], at: xBase + ctx.flatIndex(input, strides: rowMajorStrides(inputSpatial)))
        let wv = k.load(element, from: c[1], at: wBase + ctx.flatIndex(kernel, strides: kernelStrides))
        return [k.select(inside, k.mulAdd(xv, wv, a[0]), a[0])]
      }
    }[0]
    k.store(sum, element, to: c[2], at: ctx.flatIndex(index, strides: rowMajorStrides(outShape)))
  }
}

/// ConvTranspose: Y[n, m, o] = B[m] + sum over the group's input channels c and kernel positions q with
/// o = i * stride + q * dilation - padBegin of X[n, c, i] * W[c, m mod M/G, q].
private func lowerConvTranspose(_ ctx: LoweringContext) throws {
  let element = try ctx.scalar(ctx.resultType(0).element)
  guard element.isFloat else { throw ctx.error("ConvTranspose needs float operands") }
  let axes: [LoweringContext.StaticAxis]
  do { axes = try convTransposeWindows(ctx.op).map(LoweringContext.StaticAxis.init) } catch { throw ctx.error("\(error)") }
  let x = ctx.operandShape(0)
  let w = ctx.operandShape(1)
  let groups = try ctx.op.int("group")
  let (channels, outPerGroup) = (x[1], w[1])
  let inPerGroup = channels / groups
  let outShape = ctx.resultShape(0)
  let inputSpatial = Array(x[2...])
  let kernelShape = Array(w[2...])
  let hasBias = ctx.hasOperand(2)
  let k = ctx.k
  let captures = [ctx.operand(0), ctx.operand(1), ctx.results[0]] + (hasBias ? [ctx.operand(2)] : [])
  ctx.forEachIndex(outShape, captures: captures, innerHints: LoopHints(vectorize: false)) { index, c in
    let (n, m) = (index[0], index[1])
    let group = m / k.i64(Int64(outPerGroup))
    let mInGroup = m - group * k.i64(Int64(outPerGroup))
    let zero = k.constant(0, k.type(element))
    let start = hasBias ? k.load(element, from: c[3], at: m) : zero
    let sum = k.forLoop(from: k.i64(0), to: k.i64(Int64(inPerGroup)), hints: LoopHints(vectorize: false), carrying: [start]) { ci, acc in
      let channel = group * k.i64(Int64(inPerGroup)) + ci
      let xBase = (n * k.i64(Int64(channels)) + channel) * k.i64(Int64(inputSpatial.reduce(1, *)))
      let wBase = (channel * k.i64(Int64(outPerGroup)) + mInGroup) * k.i64(Int64(kernelShape.reduce(1, *)))
      func level(_ axis: Int, _ q: [IRValue], _ input: [IRValue], _ valid: IRValue, _ a: IRValue) -> IRValue {
        guard axis < axes.count else {
          let xv = k.load(element, from: c[0], at: xBase + ctx.flatIndex(input, strides: rowMajorStrides(inputSpatial)))
          let wv = k.load(element, from: c[1], at: wBase + ctx.flatIndex(q, strides: rowMajorStrides(kernelShape)))
          return k.select(valid, k.mulAdd(xv, wv, a), a)
        }
        let ax = axes[axis]
        return k.forLoop(from: k.i64(0), to: k.i64(Int64(ax.kernel)), hints: LoopHints(vectorize: false), carrying: [a]) { qq, carried in
          let numerator = index[axis + 2] + k.i64(Int64(ax.padBegin)) - qq * k.i64(Int64(ax.dilation))
          let stride = k.i64(Int64(ax.stride))
          let i = numerator / stride
          let ok = k.and(
            k.and(k.compare(.ge, numerator, k.i64(0)), k.compare(.eq, numerator - i * stride, k.i64(0))),
            k.compare(.lt, i, k.i64(Int64(ax.size))))
          let clamped = k.min(k.max(i, k.i64(0)), k.i64(Int64(ax.size - 1)))
          return [level(axis + 1, q + [qq], input + [clamped], k.and(valid, ok), carried[0])]
        }[0]
      }
      return [level(0, [], [], k.bool(true), acc[0])]
    }[0]
    k.store(sum, element, to: c[2], at: ctx.flatIndex(index, strides: rowMajorStrides(outShape)))
  }
}

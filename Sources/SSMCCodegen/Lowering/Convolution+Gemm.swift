import CLLVM
import SSMCIR

/// Conv as an implicit GEMM: per image and group, Y[m, p] = sum over k' = (c, window position) of
/// W[m, k'] * X[c, window(p, k')], with W read in place as the A side and the input windows packed
/// straight into the kernel's B panel layout (no separate im2col matrix), then the packed tiles of
/// GemmKernel with the bias as epilogue. Which convs take it: `ConvKernelFamily` (SSMCIR).

/// A fused product's epilogue on a Conv GEMM, with its extras' steps along the output plane.
struct ConvFusion {
  var epilogue: ProductEpilogue
  var pixelStrides: [Int]
}

func emitGemmConv(_ ctx: LoweringContext, _ g: ConvGeometry, fused: ConvFusion? = nil) {
  let reduction = g.inChannelsPerGroup * g.kernelVolume
  let problem = MatMulProblem(
    batch: [], m: g.outChannelsPerGroup, n: g.outputPlane, k: reduction, aBatchStrides: [], aM: reduction, aK: 1,
    bBatchStrides: [], bK: 0, bN: 0)
  let kernel = GemmKernel(ctx: ctx, problem: problem)
  let buffer = ctx.workspace(bytes: kernel.packedMatrixSize * 4)
  forEachImageAndGroup(ctx, g, reduction: reduction) { slice in
    emitWindowPacking(ctx, g, kernel: kernel, image: slice.image, buffer: buffer)
    let fusedEpilogue = fused.map { f in
      f.epilogue.convEpilogue(pointers: f.epilogue.convPointers(ctx, n: slice.n, firstOut: slice.firstOut), pixelStrides: f.pixelStrides)
    }
    kernel.emitTiles(a: slice.weights, b: buffer, bBatchStrides: [], c: slice.out, epilogue: GemmEpilogue.chain(slice.bias, fusedEpilogue))
  }
}

/// One image and group of a grouped Conv as GEMM operands: the group's input channels, its weight rows (M x
/// reduction), its output rows, and the bias as an epilogue.
struct ConvGroupSlice {
  let n, firstOut, image, weights, out: IRValue
  let bias: GemmEpilogue?
}

/// Loops over (image, group) and hands each iteration's operand addresses to `body`.
func forEachImageAndGroup(_ ctx: LoweringContext, _ g: ConvGeometry, reduction: Int, _ body: (ConvGroupSlice) -> Void) {
  let k = ctx.k
  let f32 = k.type(.f32)
  k.forLoop(from: k.i64(0), to: k.i64(Int64(g.batch * g.groups)), hints: LoopHints(vectorize: false, unrollCount: 1)) { item in
    let group = item % k.i64(Int64(g.groups))
    let n = item / k.i64(Int64(g.groups))
    let firstChannel = n * k.i64(Int64(g.channels)) + group * k.i64(Int64(g.inChannelsPerGroup))
    let image = k.elementAddress(ctx.operand(0), type: f32, index: firstChannel * k.i64(Int64(g.inputPlane)))
    let firstOut = group * k.i64(Int64(g.outChannelsPerGroup))
    let weights = k.elementAddress(ctx.operand(1), type: f32, index: firstOut * k.i64(Int64(reduction)))
    let out = k.elementAddress(
      ctx.results[0], type: f32, index: (n * k.i64(Int64(g.outChannels)) + firstOut) * k.i64(Int64(g.outputPlane)))
    var bias: GemmEpilogue? = nil
    if g.hasBias {
      let biasRows = k.elementAddress(ctx.operand(2), type: f32, index: firstOut)
      bias = GemmEpilogue(extras: [biasRows]) { k, acc, _, row, _, _, extras in
        acc + k.splat(k.load(.f32, from: extras[0], at: row), lanes: acc.lanes)
      }
    }
    body(ConvGroupSlice(n: n, firstOut: firstOut, image: image, weights: weights, out: out, bias: bias))
  }
}

/// Packs the input windows of one image and group as B panels [panel][k'][panelWidth]: column p is output
/// position p, row k' = (input channel, window position); positions in the padding and columns past the
/// last position are zero.
private func emitWindowPacking(_ ctx: LoweringContext, _ g: ConvGeometry, kernel: GemmKernel, image: IRValue, buffer: IRValue) {
  let k = ctx.k
  let width = kernel.panelWidth
  let reduction = g.inChannelsPerGroup * g.kernelVolume
  let outputs = g.axes.map(\.output)
  let inputStrides = rowMajorStrides(g.axes.map(\.size))
  ctx.parallelIfLarge(items: kernel.panels, work: kernel.packedMatrixSize * 2, captures: [image, buffer]) { begin, end, c in
    k.forLoop(from: begin, to: end, hints: LoopHints(vectorize: false)) { panel in
      let panelBase = panel * k.i64(Int64(reduction * width))
      // Row k' = (channel, window position) outer, the panel's columns inner: contiguous stores, and a loop
      // the vectorizer turns into masked gathers.
      k.forLoop(from: k.i64(0), to: k.i64(Int64(g.inChannelsPerGroup)), hints: LoopHints(vectorize: false)) { channel in
        let channelBase = channel * k.i64(Int64(g.inputPlane))
        forEachWindowOffset(k, g.axes) { window, offsets in
          let row = channel * k.i64(Int64(g.kernelVolume)) + window
          k.forLoop(from: k.i64(0), to: k.i64(Int64(width)), hints: LoopHints(vectorize: true)) { j in
            let position = panel * k.i64(Int64(width)) + j
            var inside = k.compare(.lt, position, k.i64(Int64(g.outputPlane)))
            let output = unflatten(k, k.min(position, k.i64(Int64(g.outputPlane - 1))), outputs)
            var index = channelBase
            for (axis, a) in g.axes.enumerated() {
              let coordinate = output[axis] * k.i64(Int64(a.stride)) + offsets[axis]
              inside = k.and(inside, k.and(k.compare(.ge, coordinate, k.i64(0)), k.compare(.lt, coordinate, k.i64(Int64(a.size)))))
              index = index + k.min(k.max(coordinate, k.i64(0)), k.i64(Int64(a.size - 1))) * k.i64(Int64(inputStrides[axis]))
            }
            let v = k.load(.f32, from: c[0], at: index)
            k.store(k.select(inside, v, k.f32(0)), .f32, to: c[1], at: panelBase + row * k.i64(Int64(width)) + j)
          }
        }
      }
    }
  }
}

/// Visits the window positions of `axes` in row-major order with their flat index and, per axis, the
/// input offset `position * dilation - padBegin`.
private func forEachWindowOffset(
  _ k: KernelBuilder, _ axes: [LoweringContext.StaticAxis], body: (_ window: IRValue, _ offsets: [IRValue]) -> Void
) {
  func level(_ axis: Int, _ window: IRValue, _ offsets: [IRValue]) {
    guard axis < axes.count else { return body(window, offsets) }
    let a = axes[axis]
    k.forLoop(from: k.i64(0), to: k.i64(Int64(a.kernel)), hints: LoopHints(vectorize: false)) { q in
      level(axis + 1, window * k.i64(Int64(a.kernel)) + q, offsets + [q * k.i64(Int64(a.dilation)) - k.i64(Int64(a.padBegin))])
    }
  }
  level(0, k.i64(0), [])
}

/// Unit-stride 1-D and 2-D Conv as a GEMM over the padded input grid, with no packing of B at all: with the
/// input zero-padded, output position (oh, ow) at grid column oh * paddedWidth + ow reads, for reduction
/// row k' = (c, kh, kw), the padded input at table[k'] + column, so every B row is a contiguous slice of
/// the padded input. The grid's columns past the output width are computed and dropped when the result is
/// cropped into Y. The tiles mask their loads past the grid's last column, so nothing past the buffer is read.
extension ConvGeometry {
  var prefersPaddedGrid: Bool { (1...2).contains(axes.count) && axes.allSatisfy { $0.stride == 1 } }
}

func emitPaddedGridConv(_ ctx: LoweringContext, _ g: ConvGeometry, fused: ConvFusion? = nil) {
  let k = ctx.k
  let (h, w) = g.planeAxes
  let paddedWidth = w.size + w.padBegin + w.padEnd
  let paddedPlane = (h.size + h.padBegin + h.padEnd) * paddedWidth
  let grid = h.output * paddedWidth
  let reduction = g.inChannelsPerGroup * h.kernel * w.kernel
  var table: [Int64] = []
  for c in 0..<g.inChannelsPerGroup {
    for kh in 0..<h.kernel {
      for kw in 0..<w.kernel { table.append(Int64(c * paddedPlane + kh * h.dilation * paddedWidth + kw * w.dilation)) }
    }
  }
  let problem = MatMulProblem(
    batch: [], m: g.outChannelsPerGroup, n: grid, k: reduction, aBatchStrides: [], aM: reduction, aK: 1,
    bBatchStrides: [], bK: 0, bN: 0)
  let kernel = GemmKernel(ctx: ctx, problem: problem)
  let rowTable = ctx.addConstantGlobal(name: "conv.rows", int64s: table)
  // With a one-column kernel and no width pads the grid is the output plane itself: nothing to crop, and
  // without any pads the input is read in place. Otherwise the grid's dropped columns of the last row read
  // up to (kernel width - 1) * dilation elements past the padded planes: that slack is reserved and zeroed.
  let writesInPlace = w.kernel == 1 && w.padBegin == 0 && w.padEnd == 0
  let readsInPlace = writesInPlace && h.padBegin == 0 && h.padEnd == 0
  let paddedCount = g.inChannelsPerGroup * paddedPlane
  let slack = (w.kernel - 1) * w.dilation
  let padded = readsInPlace ? nil : ctx.workspace(bytes: (paddedCount + slack) * 4)
  if let padded, slack > 0 {
    k.forLoop(from: k.i64(Int64(paddedCount)), to: k.i64(Int64(paddedCount + slack))) { i in k.store(k.f32(0), .f32, to: padded, at: i) }
  }
  let gridOut = writesInPlace ? nil : ctx.workspace(bytes: g.outChannelsPerGroup * grid * 4)
  forEachImageAndGroup(ctx, g, reduction: reduction) { slice in
    if let padded { emitPaddedCopy(ctx, from: slice.image, to: padded, planes: g.inChannelsPerGroup, height: h, width: w) }
    let out = slice.out
    let extras = fused.map { $0.epilogue.convPointers(ctx, n: slice.n, firstOut: slice.firstOut) } ?? []
    // On the grid a column is no output position: a fused epilogue runs in the crop instead.
    let fusedEpilogue = fused.map { f in f.epilogue.convEpilogue(pointers: extras, pixelStrides: f.pixelStrides) }
    kernel.emitTiles(
      a: slice.weights, b: padded ?? slice.image, access: .rowTable(rowTable), c: gridOut ?? out,
      epilogue: GemmEpilogue.chain(slice.bias, gridOut == nil ? fusedEpilogue : nil))
    guard let gridOut else { return }
    // Crop the grid rows into Y.
    let rows = g.outChannelsPerGroup * h.output
    ctx.parallelIfLarge(items: rows, work: rows * w.output, captures: [gridOut, out] + extras) { begin, end, c in
      k.forLoop(from: begin, to: end, hints: LoopHints(vectorize: false)) { row in
        k.forLoop(from: k.i64(0), to: k.i64(Int64(w.output)), hints: LoopHints(vectorize: true)) { i in
          var v = k.load(.f32, from: c[0], at: row * k.i64(Int64(paddedWidth)) + i)
          if let fusedEpilogue {
            // row = (channel in group, output row): the position in the output plane is row' * width + i.
            let channel = row / k.i64(Int64(h.output))
            let position = (row - channel * k.i64(Int64(h.output))) * k.i64(Int64(w.output)) + i
            v = fusedEpilogue.apply(k, v, [], channel, position, nil, Array(c[2...]))
          }
          k.store(v, .f32, to: c[1], at: row * k.i64(Int64(w.output)) + i)
        }
      }
    }
  }
}

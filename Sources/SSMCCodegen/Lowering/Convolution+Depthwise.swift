import CLLVM
import SSMCIR

/// Depthwise Conv (one input channel per group), 1-D and 2-D, unit stride along the width: each input
/// plane is first copied into a zero-padded buffer, so every tap of every output vector is a plain,
/// unmasked load; outputs are computed in register blocks of up to 4 rows x 4 vectors, each loaded input
/// vector feeding every row of the block that uses it, one broadcast weight per tap and row.
extension ConvGeometry {
  /// The depthwise kernels' geometry, as `ConvKernelFamily` decides it; the Strip, Row and Column kernels refine it.
  var isDepthwiseFast: Bool {
    ConvKernelFamily.isDepthwise(inChannelsPerGroup: inChannelsPerGroup, strides: axes.map(\.stride))
  }
}

func emitDepthwiseConv(_ ctx: LoweringContext, _ g: ConvGeometry) {
  let k = ctx.k
  let lanes = ctx.vectorLanes
  let (h, w) = g.planeAxes
  let paddedWidth = w.size + w.padBegin + w.padEnd
  let paddedHeight = h.size + h.padBegin + h.padEnd
  let paddedPlane = paddedHeight * paddedWidth
  let planes = g.batch * g.channels
  // Slack after the last plane: the final vector block of a row may read past its padded end.
  let buffer = ctx.workspace(bytes: (planes * paddedPlane + 4 * lanes) * 4)

  emitPaddedCopy(ctx, from: ctx.operand(0), to: buffer, planes: planes, height: h, width: w)

  // 2. The taps, per output plane (n, m).
  let multiplier = g.outChannelsPerGroup
  let outPlane = h.output * w.output
  let taps = h.kernel * w.kernel
  let work = g.batch * g.outChannels * outPlane * taps
  let captures = [buffer, ctx.operand(1), ctx.results[0]] + (g.hasBias ? [ctx.operand(2)] : [])
  // Register budget: rows x vectors accumulators plus the input vectors and a weight (32 zmm, 16 ymm/xmm).
  let blockRows = min(4, h.output)
  let blockVectors = lanes >= 16 ? 4 : 2
  ctx.parallelIfLarge(items: g.batch * g.outChannels, work: work / 8, captures: captures) { begin, end, c in
    k.forLoop(from: begin, to: end, hints: LoopHints(vectorize: false)) { item in
      let n = item / k.i64(Int64(g.outChannels))
      let m = item - n * k.i64(Int64(g.outChannels))
      let inputPlane = (n * k.i64(Int64(g.channels)) + m / k.i64(Int64(multiplier))) * k.i64(Int64(paddedPlane))
      let bias = g.hasBias ? k.splat(k.load(.f32, from: c[3], at: m), lanes: lanes) : k.constant(0, k.type(.f32, lanes: lanes))
      // A block is `rows` output rows x `vectors` vectors; each input row vector loaded feeds every output
      // row of the block whose window contains it (input row t = i * stride + kh * dilation from the block's
      // first row), which cuts loads per FMA well below one.
      func block(_ oh0: IRValue, rows: Int, _ column: IRValue, vectors: Int, lastMask: IRValue?) {
        let inRow = inputPlane + oh0 * k.i64(Int64(h.stride * paddedWidth)) + column
        var uses: [Int: [(row: Int, kh: Int)]] = [:]
        for i in 0..<rows {
          for kh in 0..<h.kernel { uses[i * h.stride + kh * h.dilation, default: []].append((i, kh)) }
        }
        var acc = [IRValue](repeating: bias, count: rows * vectors)
        for t in uses.keys.sorted() {
          let pairs = uses[t]!
          let row = inRow + k.i64(Int64(t * paddedWidth))
          acc = k.forLoop(from: k.i64(0), to: k.i64(Int64(w.kernel)), hints: LoopHints(vectorize: false), carrying: acc) { kw, a in
            let at = row + kw * k.i64(Int64(w.dilation))
            let x = (0..<vectors).map { v in k.loadVector(.f32, lanes: lanes, from: c[0], at: at + k.i64(Int64(v * lanes))) }
            var next = a
            for (i, kh) in pairs {
              let weight = k.splat(k.load(.f32, from: c[1], at: m * k.i64(Int64(taps)) + k.i64(Int64(kh * w.kernel)) + kw), lanes: lanes)
              for v in 0..<vectors { next[i * vectors + v] = k.mulAdd(weight, x[v], next[i * vectors + v]) }
            }
            return next
          }
        }
        for i in 0..<rows {
          let outRow = item * k.i64(Int64(outPlane)) + (oh0 + k.i64(Int64(i))) * k.i64(Int64(w.output)) + column
          for v in 0..<vectors {
            k.storeVector(acc[i * vectors + v], .f32, to: c[2], at: outRow + k.i64(Int64(v * lanes)), mask: v == vectors - 1 ? lastMask : nil)
          }
        }
      }
      forEachBlock(k, count: h.output, size: blockRows) { oh0, rows in
        forEachVectorBlock(k, extent: w.output, lanes: lanes, vectors: blockVectors) { column, vectors, mask in
          block(oh0, rows: rows, column, vectors: vectors, lastMask: mask)
        }
      }
    }
  }
}

/// Calls `body(start, size)` for consecutive blocks of `size` over 0..<count (a loop), then once for the
/// shorter remainder, so the block size stays a compile-time constant in each body.
func forEachBlock(_ k: KernelBuilder, count: Int, size: Int, _ body: (IRValue, Int) -> Void) {
  let full = count / size
  k.forLoop(from: k.i64(0), to: k.i64(Int64(full)), hints: LoopHints(vectorize: false, unrollCount: 1)) { b in
    body(b * k.i64(Int64(size)), size)
  }
  if count % size > 0 { body(k.i64(Int64(full * size)), count % size) }
}

/// Calls `body(start, vectors, lastMask)` for blocks of `vectors` vectors across `extent` elements, then once
/// for the remainder in as few vectors as it needs, its last vector masked to the extent.
func forEachVectorBlock(_ k: KernelBuilder, extent: Int, lanes: Int, vectors: Int, _ body: (IRValue, Int, IRValue?) -> Void) {
  let width = vectors * lanes
  let full = extent / width
  k.forLoop(from: k.i64(0), to: k.i64(Int64(full)), hints: LoopHints(vectorize: false, unrollCount: 1)) { b in
    body(b * k.i64(Int64(width)), vectors, nil)
  }
  let rest = extent - full * width
  if rest > 0 {
    let mask = rest % lanes == 0 ? nil : k.prefixMask(count: k.i64(Int64(rest % lanes)), lanes: lanes)
    body(k.i64(Int64(full * width)), (rest + lanes - 1) / lanes, mask)
  }
}

extension ConvGeometry {
  /// The (height, width) axes of a 1-D or 2-D conv, 1-D as a single row.
  var planeAxes: (LoweringContext.StaticAxis, LoweringContext.StaticAxis) {
    let flat = LoweringContext.StaticAxis(size: 1, kernel: 1, stride: 1, dilation: 1, padBegin: 0, padEnd: 0, output: 1)
    return axes.count == 2 ? (axes[0], axes[1]) : (flat, axes[0])
  }
}

/// Copies `planes` consecutive (height x width) planes into zero-padded planes with the axes' pads.
func emitPaddedCopy(
  _ ctx: LoweringContext, from source: IRValue, to destination: IRValue, planes: Int,
  height h: LoweringContext.StaticAxis, width w: LoweringContext.StaticAxis
) {
  let k = ctx.k
  let paddedWidth = w.size + w.padBegin + w.padEnd
  let paddedPlane = (h.size + h.padBegin + h.padEnd) * paddedWidth
  ctx.parallelIfLarge(items: planes, work: planes * paddedPlane, captures: [source, destination]) { begin, end, c in
    k.forLoop(from: begin, to: end, hints: LoopHints(vectorize: false)) { plane in
      let to = plane * k.i64(Int64(paddedPlane))
      k.forLoop(from: k.i64(0), to: k.i64(Int64(paddedPlane)), hints: LoopHints(vectorize: true)) { i in
        k.store(k.f32(0), .f32, to: c[1], at: to + i)
      }
      k.forLoop(from: k.i64(0), to: k.i64(Int64(h.size)), hints: LoopHints(vectorize: false)) { row in
        let from = (plane * k.i64(Int64(h.size)) + row) * k.i64(Int64(w.size))
        let rowStart = to + (row + k.i64(Int64(h.padBegin))) * k.i64(Int64(paddedWidth)) + k.i64(Int64(w.padBegin))
        k.forLoop(from: k.i64(0), to: k.i64(Int64(w.size)), hints: LoopHints(vectorize: true)) { i in
          k.store(k.load(.f32, from: c[0], at: from + i), .f32, to: c[1], at: rowStart + i)
        }
      }
    }
  }
}

import CLLVM
import SSMCIR

// Depthwise Conv with a (k, 1) kernel along the height (S4ND's H-direction layer): unit stride and
// dilation, no padding along the width. Reads the input plane in place (no padded copy): the pad rows are
// simply skipped by clamping the tap range of each register block to the real input rows.
//
// A block is `rows` output lines x `vectors` vectors. Input line d of the block (d = 0 ..< rows + k - 1,
// counted from the block's first output line in padded coordinates) feeds output line i with tap d - i
// for every i with 0 <= d - i < k; each loaded vector thus feeds up to `rows` accumulators. The first
// and last rows - 1 lines of the window feed only some lines (unrolled with compile-time taps); the
// lines in between feed all of them (a runtime loop, so code size does not grow with k).

/// One channel's lines: out[i][x] = bias + sum over tap t of weight[t] * in[i + t - padBegin][x], input
/// lines outside 0 ..< inputLines counting as zero.
struct ColumnConv {
  var taps: Int
  var padBegin: Int
  var inputLines: Int
  var outputLines: Int
  /// Elements per line (vectors along the line, the last one masked when ragged).
  var width: Int
  var inStride: Int
  var outStride: Int
}

extension ColumnConv {
  /// Emits the whole channel: `input`, `weights`, `output` are base pointers with flat offsets.
  func emit(
    _ k: KernelBuilder, lanes: Int, input: IRValue, at inBase: IRValue, weights: IRValue, at wBase: IRValue,
    output: IRValue, at outBase: IRValue, bias: IRValue, perBlock: ((_ block: IRValue, _ blocks: Int) -> Void)? = nil
  ) {
    let outVectors = (width + lanes - 1) / lanes
    let accumulators = lanes >= 16 ? 24 : 12
    let vectors = min(lanes >= 16 ? 4 : 2, outVectors)
    let rows = max(1, min(accumulators / vectors, outputLines))
    func block(_ line0: IRValue, rows: Int, _ column: IRValue, vectors: Int, lastMask: IRValue?) {
      let first = k.i64(Int64(padBegin)) - line0
      let limit = k.i64(Int64(inputLines + padBegin)) - line0
      func step(_ from: IRValue, _ to: IRValue, _ acc: [IRValue], taps tap: @escaping (_ d: IRValue, _ i: Int) -> IRValue?) -> [IRValue] {
        k.forLoop(from: from, to: to, hints: LoopHints(vectorize: false, unrollCount: 1), carrying: acc) { d, a in
          let line = inBase + (line0 + d - k.i64(Int64(padBegin))) * k.i64(Int64(inStride)) + column
          let x = (0..<vectors).map { v in
            k.loadVector(.f32, lanes: lanes, from: input, at: line + k.i64(Int64(v * lanes)), mask: v == vectors - 1 ? lastMask : nil)
          }
          var next = a
          for i in 0..<rows {
            guard let t = tap(d, i) else { continue }
            let weight = k.splat(k.load(.f32, from: weights, at: wBase + t), lanes: lanes)
            for v in 0..<vectors { next[i * vectors + v] = k.mulAdd(weight, x[v], next[i * vectors + v]) }
          }
          return next
        }
      }
      var acc = [IRValue](repeating: bias, count: rows * vectors)
      let window = rows + taps - 1
      let bodyEnd = max(taps, rows - 1)
      for d in Array(0..<min(rows - 1, window)) + Array(bodyEnd..<window) {
        let from = k.max(k.i64(Int64(d)), first)
        let to = k.min(k.i64(Int64(d + 1)), limit)
        acc = step(from, to, acc) { _, i in (0..<taps).contains(d - i) ? k.i64(Int64(d - i)) : nil }
      }
      if taps > rows - 1 {
        acc = step(k.max(k.i64(Int64(rows - 1)), first), k.min(k.i64(Int64(taps)), limit), acc) { d, i in d - k.i64(Int64(i)) }
      }
      for i in 0..<rows {
        let line = outBase + (line0 + k.i64(Int64(i))) * k.i64(Int64(outStride)) + column
        for v in 0..<vectors {
          k.storeVector(acc[i * vectors + v], .f32, to: output, at: line + k.i64(Int64(v * lanes)), mask: v == vectors - 1 ? lastMask : nil)
        }
      }
    }
    // Column strips outer, line blocks inner: a strip's window of input lines stays in L1 while the
    // blocks slide down it (a full-width window of a 224-wide plane would not fit).
    func strip(_ column: IRValue, vectors: Int, lastMask: IRValue?) {
      let lineBlocks = outputLines / rows
      k.forLoop(from: k.i64(0), to: k.i64(Int64(lineBlocks)), hints: LoopHints(vectorize: false, unrollCount: 1)) { b in
        perBlock?(b, lineBlocks)
        block(b * k.i64(Int64(rows)), rows: rows, column, vectors: vectors, lastMask: lastMask)
      }
      if outputLines % rows > 0 {
        block(k.i64(Int64(lineBlocks * rows)), rows: outputLines % rows, column, vectors: vectors, lastMask: lastMask)
      }
    }
    let blockWidth = vectors * lanes
    let fullStrips = width / blockWidth
    k.forLoop(from: k.i64(0), to: k.i64(Int64(fullStrips)), hints: LoopHints(vectorize: false, unrollCount: 1)) { b in
      strip(b * k.i64(Int64(blockWidth)), vectors: vectors, lastMask: nil)
    }
    let rest = width - fullStrips * blockWidth
    if rest > 0 {
      let mask = rest % lanes == 0 ? nil : k.prefixMask(count: k.i64(Int64(rest % lanes)), lanes: lanes)
      strip(k.i64(Int64(fullStrips * blockWidth)), vectors: (rest + lanes - 1) / lanes, lastMask: mask)
    }
  }
}

extension ConvGeometry {
  /// True when `emitDepthwiseColumnConv` applies (see the file comment).
  var isDepthwiseColumn: Bool {
    guard isDepthwiseFast && axes.count == 2 else { return false }
    let (h, w) = (axes[0], axes[1])
    return w.kernel == 1 && w.padBegin == 0 && w.padEnd == 0 && h.stride == 1 && h.dilation == 1
  }
}

func emitDepthwiseColumnConv(_ ctx: LoweringContext, _ g: ConvGeometry) {
  let k = ctx.k
  let lanes = ctx.vectorLanes
  let (h, w) = (g.axes[0], g.axes[1])
  let column = ColumnConv(
    taps: h.kernel, padBegin: h.padBegin, inputLines: h.size, outputLines: h.output, width: w.output,
    inStride: w.size, outStride: w.output)
  let multiplier = g.outChannelsPerGroup
  let work = g.batch * g.outChannels * h.output * w.output * h.kernel
  let captures = [ctx.operand(0), ctx.operand(1), ctx.results[0]] + (g.hasBias ? [ctx.operand(2)] : [])
  ctx.parallelIfLarge(items: g.batch * g.outChannels, work: work / 8, captures: captures) { begin, end, c in
    k.forLoop(from: begin, to: end, hints: LoopHints(vectorize: false)) { item in
      let n = item / k.i64(Int64(g.outChannels))
      let m = item - n * k.i64(Int64(g.outChannels))
      let inputPlane = (n * k.i64(Int64(g.channels)) + m / k.i64(Int64(multiplier))) * k.i64(Int64(h.size * w.size))
      let bias = g.hasBias ? k.splat(k.load(.f32, from: c[3], at: m), lanes: lanes) : k.constant(0, k.type(.f32, lanes: lanes))
      column.emit(
        k, lanes: lanes, input: c[0], at: inputPlane, weights: c[1], at: m * k.i64(Int64(h.kernel)),
        output: c[2], at: item * k.i64(Int64(h.output * w.output)), bias: bias)
    }
  }
}

import CLLVM
import SSMCIR

// Depthwise Conv with a (1, k) kernel along the width, computed transposed: a strip of up to 4 vectors'
// worth of rows is transposed in registers (lanes x lanes tiles) into a stack buffer with one line per
// input column, so the width convolution becomes the height convolution of ColumnConv, where each loaded
// vector (one column of the strip's rows) feeds up to 6 output columns with aligned loads and no lane
// shifts. The result lines (one per output column) are transposed back into the output rows.
// Per output element the two transposes cost about 2 * log2(lanes) / lanes shuffles against k FMA lanes.

extension ConvGeometry {
  /// Rows per strip: up to 4 vectors, rounded up to whole vectors for a short plane.
  func stripRows(lanes: Int) -> Int { min(4 * lanes, (planeAxes.0.size + lanes - 1) / lanes * lanes) }

  /// Floats of the two stack buffers (the transposed strip and its transposed result).
  func stripBufferFloats(lanes: Int) -> Int {
    let w = planeAxes.1
    return (w.size + (w.output + lanes - 1) / lanes * lanes) * stripRows(lanes: lanes)
  }

  /// True when `emitDepthwiseStripConv` applies: a row conv (see `isDepthwiseRow`) on 2-D planes whose
  /// strip buffers fit comfortably on a thread's stack.
  func isDepthwiseStrip(lanes: Int) -> Bool {
    isDepthwiseRow && axes.count == 2 && lanes & (lanes - 1) == 0 && stripBufferFloats(lanes: lanes) * 4 <= 256 * 1024
  }
}

func emitDepthwiseStripConv(_ ctx: LoweringContext, _ g: ConvGeometry) {
  let k = ctx.k
  let lanes = ctx.vectorLanes
  let (h, w) = (g.axes[0], g.axes[1])
  let stripRows = g.stripRows(lanes: lanes)
  let paddedOutput = (w.output + lanes - 1) / lanes * lanes
  let multiplier = g.outChannelsPerGroup
  let work = g.batch * g.outChannels * h.output * w.output * w.kernel
  // Only an input larger than L2 comes from memory (ConvNeXt-S4ND's stem: about 10% faster measured).
  let prefetchEnabled = g.batch * g.channels * h.size * w.size * 4 > 2 << 20

  let captures = [ctx.operand(0), ctx.operand(1), ctx.results[0]] + (g.hasBias ? [ctx.operand(2)] : [])
  ctx.parallelIfLarge(items: g.batch * g.outChannels, work: work / 8, captures: captures) { begin, end, c in
    let transposed = k.stackFloats(w.size * stripRows, name: "dwstrip")
    let result = k.stackFloats(paddedOutput * stripRows, name: "dwstripout")
    k.forLoop(from: begin, to: end, hints: LoopHints(vectorize: false)) { item in
      let n = item / k.i64(Int64(g.outChannels))
      let m = item - n * k.i64(Int64(g.outChannels))
      let inputPlane = (n * k.i64(Int64(g.channels)) + m / k.i64(Int64(multiplier))) * k.i64(Int64(h.size * w.size))
      let outputPlane = item * k.i64(Int64(h.output * w.output))
      let bias = g.hasBias ? k.splat(k.load(.f32, from: c[3], at: m), lanes: lanes) : k.constant(0, k.type(.f32, lanes: lanes))
      // Rows row0 ..< row0 + valid (valid <= rows, rows a multiple of lanes); rows past `valid` repeat
      // row0 and are never stored.
      func strip(_ row0: IRValue, rows: Int, valid: Int) {
        // Tiles of `lanes` columns, the last one ragged: `body(first column, columns, mask)`.
        func forEachTile(_ count: Int, _ body: (IRValue, Int, IRValue?) -> Void) {
          k.forLoop(from: k.i64(0), to: k.i64(Int64(count / lanes)), hints: LoopHints(vectorize: false, unrollCount: 1)) { t in
            body(t * k.i64(Int64(lanes)), lanes, nil)
          }
          if count % lanes > 0 {
            body(k.i64(Int64(count / lanes * lanes)), count % lanes, k.prefixMask(count: k.i64(Int64(count % lanes)), lanes: lanes))
          }
        }
        for group in 0..<(rows / lanes) {
          forEachTile(w.size) { c0, columns, mask in
            let tile = (0..<lanes).map { r in
              let row = group * lanes + r < valid ? group * lanes + r : 0
              return k.loadVector(.f32, lanes: lanes, from: c[0], at: inputPlane + (row0 + k.i64(Int64(row))) * k.i64(Int64(w.size)) + c0, mask: mask)
            }
            for (u, column) in k.transposeTile(tile).prefix(columns).enumerated() {
              k.storeVector(column, .f32, to: transposed, at: (c0 + k.i64(Int64(u))) * k.i64(Int64(rows)) + k.i64(Int64(group * lanes)))
            }
          }
        }
        let column = ColumnConv(
          taps: w.kernel, padBegin: w.padBegin, inputLines: w.size, outputLines: w.output, width: rows,
          inStride: rows, outStride: rows)
        // The next strip's input rows come from memory for a large plane: spread prefetches of its cache
        // lines over the blocks of this strip's compute (clamped to the plane's last row).
        let linesPerRow = (w.size * 4 + 63) / 64
        let prefetch: (IRValue, Int) -> Void = { b, blocks in
          let perBlock = (rows * linesPerRow + blocks - 1) / blocks
          for p in 0..<perBlock {
            let line = b * k.i64(Int64(perBlock)) + k.i64(Int64(p))
            let row = k.min(row0 + k.i64(Int64(rows)) + line / k.i64(Int64(linesPerRow)), k.i64(Int64(h.size - 1)))
            let at = inputPlane + row * k.i64(Int64(w.size)) + (line % k.i64(Int64(linesPerRow))) * k.i64(16)
            let address = k.elementAddress(c[0], type: k.llvm.f32, index: k.min(at, inputPlane + k.i64(Int64(h.size * w.size - 1))))
            _ = k.intrinsic("llvm.prefetch", overloads: [k.llvm.ptr], [address, k.i32(0), k.i32(3), k.i32(1)])
          }
        }
        column.emit(
          k, lanes: lanes, input: transposed, at: k.i64(0), weights: c[1], at: m * k.i64(Int64(w.kernel)),
          output: result, at: k.i64(0), bias: bias, perBlock: prefetchEnabled ? prefetch : nil)
        for group in 0..<(rows / lanes) where group * lanes < valid {
          forEachTile(w.output) { p0, _, mask in
            // Lines past w.output (up to paddedOutput) hold garbage that only reaches masked lanes.
            let tile = (0..<lanes).map { u in
              k.loadVector(.f32, lanes: lanes, from: result, at: (p0 + k.i64(Int64(u))) * k.i64(Int64(rows)) + k.i64(Int64(group * lanes)))
            }
            for (r, row) in k.transposeTile(tile).enumerated() where group * lanes + r < valid {
              let at = outputPlane + (row0 + k.i64(Int64(group * lanes + r))) * k.i64(Int64(w.output)) + p0
              k.storeVector(row, .f32, to: c[2], at: at, mask: mask)
            }
          }
        }
      }
      let fullStrips = h.size / stripRows
      k.forLoop(from: k.i64(0), to: k.i64(Int64(fullStrips)), hints: LoopHints(vectorize: false, unrollCount: 1)) { s in
        strip(s * k.i64(Int64(stripRows)), rows: stripRows, valid: stripRows)
      }
      let rest = h.size - fullStrips * stripRows
      if rest > 0 { strip(k.i64(Int64(fullStrips * stripRows)), rows: (rest + lanes - 1) / lanes * lanes, valid: rest) }
    }
  }
}

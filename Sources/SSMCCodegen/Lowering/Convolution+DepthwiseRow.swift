import CLLVM
import SSMCIR

// Depthwise Conv whose kernel spans one row: a (1, k) kernel along the width or any 1-D depthwise conv,
// unit stride and dilation along the width, no padding along the height. 2-D planes normally take the
// transposed strip kernel (Convolution+DepthwiseStrip.swift); this one serves 1-D convs and planes too
// wide for the strip buffers. Rows are independent 1-D convolutions, so instead of copying the whole
// plane into a padded workspace, each row is copied into a small aligned stack buffer that stays in L1
// and whose pad lanes are zeroed once per plane.
//
// Output vector j0 + v * lanes, tap t = q * lanes + s reads buffer[j0 + (q + v) * lanes + s ...], the
// aligned vector A[q + v] shifted by s lanes into A[q + v + 1]. One tap group q loads V + 1 aligned
// vectors; even shifts come from them in registers (a two-source lane permute), odd ones are unaligned
// loads, which splits the work between shuffle and load ports. Blocks of several rows x V vectors give
// enough independent FMA chains and share each broadcast weight.

extension ConvGeometry {
  /// True when `emitDepthwiseRowConv` applies (see the file comment).
  var isDepthwiseRow: Bool {
    let (h, w) = planeAxes
    return isDepthwiseFast && h.kernel == 1 && h.stride == 1 && h.padBegin == 0 && h.padEnd == 0
      && w.stride == 1 && w.dilation == 1 && w.size + w.padBegin + w.padEnd <= 16384
  }
}

func emitDepthwiseRowConv(_ ctx: LoweringContext, _ g: ConvGeometry) {
  let k = ctx.k
  let lanes = ctx.vectorLanes
  let (h, w) = g.planeAxes
  let taps = w.kernel
  let tapGroups = (taps + lanes - 1) / lanes
  let outVectors = (w.output + lanes - 1) / lanes
  // The last block's shifted reads reach vector (outVectors - 1) + tapGroups; past the padded row the
  // lanes only feed output lanes at or beyond w.output, which are never stored.
  let bufferFloats = max(w.size + w.padBegin + w.padEnd, (outVectors + tapGroups) * lanes)
  let bufferStride = (bufferFloats + lanes - 1) / lanes * lanes
  let multiplier = g.outChannelsPerGroup
  let work = g.batch * g.outChannels * h.output * w.output * taps
  let captures = [ctx.operand(0), ctx.operand(1), ctx.results[0]] + (g.hasBias ? [ctx.operand(2)] : [])
  // Each accumulator is one chain of dependent FMAs, so a block needs about 8 of them to cover the FMA
  // latency: `vectors` along the row times `rows` rows (which share the broadcast weights), within the
  // register file (accumulators + each row's vectors + 1 aligned inputs + a weight and a shifted input).
  let registers = lanes >= 16 ? 32 : 16
  let blockVectors = min(lanes >= 16 ? 8 : 4, outVectors)
  var blockRows = 1
  while blockRows < h.size && (blockRows + 1) * blockVectors <= 12 && (blockRows + 1) * (2 * blockVectors + 1) + 2 <= registers - 2 {
    blockRows += 1
  }
  ctx.parallelIfLarge(items: g.batch * g.outChannels, work: work / 8, captures: captures) { begin, end, c in
    let buffer = k.stackFloats(blockRows * bufferStride, name: "dwrow")
    k.forLoop(from: begin, to: end, hints: LoopHints(vectorize: false)) { item in
      let n = item / k.i64(Int64(g.outChannels))
      let m = item - n * k.i64(Int64(g.outChannels))
      let inputPlane = (n * k.i64(Int64(g.channels)) + m / k.i64(Int64(multiplier))) * k.i64(Int64(h.size * w.size))
      let weights = m * k.i64(Int64(taps))
      let bias = g.hasBias ? k.splat(k.load(.f32, from: c[3], at: m), lanes: lanes) : k.constant(0, k.type(.f32, lanes: lanes))
      // Pad lanes: zero once per plane; the row copies below never write them.
      for r in 0..<blockRows {
        for (from, to) in [(0, w.padBegin), (w.padBegin + w.size, bufferStride)] where to > from {
          k.forLoop(from: k.i64(Int64(r * bufferStride + from)), to: k.i64(Int64(r * bufferStride + to)), hints: LoopHints(vectorize: true)) { i in
            k.store(k.f32(0), .f32, to: buffer, at: i)
          }
        }
      }
      // Output rows row0 ..< row0 + rows, vectors j0 ..< j0 + vectors * lanes of each.
      func block(_ row0: IRValue, rows: Int, _ j0: IRValue, vectors: Int, lastMask: IRValue?) {
        func tapGroup(_ q: IRValue, count: Int, _ acc: [IRValue]) -> [IRValue] {
          let base = j0 + q * k.i64(Int64(lanes))
          let aligned = (0..<rows).map { r in
            (0...vectors).map { v in k.loadVector(.f32, lanes: lanes, from: buffer, at: base + k.i64(Int64(r * bufferStride + v * lanes))) }
          }
          var next = acc
          for s in 0..<count {
            let weight = k.splat(k.load(.f32, from: c[1], at: weights + q * k.i64(Int64(lanes)) + k.i64(Int64(s))), lanes: lanes)
            for r in 0..<rows {
              for v in 0..<vectors {
                // Odd shifts as unaligned loads, even ones as lane shifts: splits the work between the load
                // ports and the shuffle ports (measured faster than all shifts or all loads).
                let useLoad = s % 2 == 1
                let x =
                  s == 0 ? aligned[r][v]
                  : useLoad ? k.loadVector(.f32, lanes: lanes, from: buffer, at: base + k.i64(Int64(r * bufferStride + v * lanes + s)))
                  : k.shuffle(aligned[r][v], aligned[r][v + 1], Array(s..<(s + lanes)))
                next[r * vectors + v] = k.mulAdd(weight, x, next[r * vectors + v])
              }
            }
          }
          return next
        }
        var acc = [IRValue](repeating: bias, count: rows * vectors)
        let fullGroups = taps / lanes
        if fullGroups > 0 {
          acc = k.forLoop(from: k.i64(0), to: k.i64(Int64(fullGroups)), hints: LoopHints(vectorize: false, unrollCount: 1), carrying: acc) { q, a in
            tapGroup(q, count: lanes, a)
          }
        }
        if taps % lanes > 0 { acc = tapGroup(k.i64(Int64(fullGroups)), count: taps % lanes, acc) }
        for r in 0..<rows {
          let outRow = (item * k.i64(Int64(h.output)) + row0 + k.i64(Int64(r))) * k.i64(Int64(w.output))
          for v in 0..<vectors {
            k.storeVector(acc[r * vectors + v], .f32, to: c[2], at: outRow + j0 + k.i64(Int64(v * lanes)), mask: v == vectors - 1 ? lastMask : nil)
          }
        }
      }
      func rowBlock(_ row0: IRValue, rows: Int) {
        for r in 0..<rows {
          let from = inputPlane + (row0 + k.i64(Int64(r))) * k.i64(Int64(w.size))
          k.forLoop(from: k.i64(0), to: k.i64(Int64(w.size)), hints: LoopHints(vectorize: true)) { i in
            k.store(k.load(.f32, from: c[0], at: from + i), .f32, to: buffer, at: i + k.i64(Int64(r * bufferStride + w.padBegin)))
          }
        }
        forEachVectorBlock(k, extent: w.output, lanes: lanes, vectors: blockVectors) { column, vectors, mask in
          block(row0, rows: rows, column, vectors: vectors, lastMask: mask)
        }
      }
      forEachBlock(k, count: h.size, size: blockRows) { row0, rows in rowBlock(row0, rows: rows) }
    }
  }
}

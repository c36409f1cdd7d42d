import CLLVM
import SSMCIR

/// The f32 matrix-product kernel: register tiles of `rows` x (2 x vector lanes) accumulators (6 x 32 with
/// AVX-512, 6 x 16 with AVX2: 12 accumulators, 2 B vectors and one A broadcast fit the register file),
/// fed by B panels of `panelWidth` columns laid out k-major so each k step reads two whole vectors.
///
/// Constant B (weights) is packed into panels at compile time, a run-time B into the node's workspace
/// before the tiles run. A is read in place through its strides (one broadcast per row
/// per k). Work is split into (batch, row block, column block) items over the pool; within an item the K
/// dimension is cut into chunks whose B micro-panel stays in L1 while the row tiles stream past it.
struct GemmKernel {
  let ctx: LoweringContext
  let problem: MatMulProblem

  static let rows = 6
  var lanes: Int { ctx.vectorLanes }
  var panelWidth: Int { 2 * lanes }
  var panels: Int { (problem.n + panelWidth - 1) / panelWidth }
  /// Elements of one packed B matrix: panels x K x panelWidth.
  var packedMatrixSize: Int { panels * problem.k * panelWidth }

  /// Worth the packed kernel: at least one full vector of columns and some work. With a run-time B and few
  /// rows, packing B costs more than it saves: the loop kernel streams B once instead.
  static func pays(_ p: MatMulProblem, lanes: Int, bIsConstant: Bool) -> Bool {
    p.n >= lanes && p.k >= 2 && p.m * p.n * p.k >= 4096 && (bIsConstant || p.m >= 4 * rows)
  }

  func emit(a: IRValue, b: IRValue, bConstant: TensorData?, c: IRValue, epilogue: GemmEpilogue?) throws {
    let p = problem
    if let bConstant {
      let packed = packConstant(bConstant)
      let global = ctx.addConstantGlobal(name: "gemm.packed", floats: packed)
      emitTiles(a: a, b: global, bBatchStrides: packedBatchStrides, c: c, epilogue: epilogue)
    } else {
      // Reading B in place would be cheaper by one copy, but rows a power-of-two apart alias in L1.
      let count = packedBatchCount * packedMatrixSize
      let buffer = ctx.workspace(bytes: count * 4)
      emitRuntimePacking(b: b, into: buffer)
      emitTiles(a: a, b: buffer, bBatchStrides: packedBatchStrides, c: c, epilogue: epilogue)
    }
  }

  // MARK: Packing B

  /// Batch dims along which B varies; B is packed once per combination of them.
  private var packedBatchDims: [Int] { problem.batch.indices.filter { problem.bBatchStrides[$0] != 0 } }
  private var packedBatchCount: Int { packedBatchDims.reduce(1) { $0 * problem.batch[$1] } }
  /// Element strides of the packed buffer per output batch dim (0 where B broadcasts).
  private var packedBatchStrides: [Int] {
    var strides = [Int](repeating: 0, count: problem.batch.count)
    var step = packedMatrixSize
    for d in packedBatchDims.reversed() {
      strides[d] = step
      step *= problem.batch[d]
    }
    return strides
  }

  private func packConstant(_ data: TensorData) -> [Float] {
    let p = problem
    let source = data.floats
    var out = [Float](repeating: 0, count: packedBatchCount * packedMatrixSize)
    let dims = packedBatchDims.map { p.batch[$0] }
    var bases: [Int] = []
    forEachIndex(dims) { idx in bases.append(zip(idx, packedBatchDims).reduce(0) { $0 + $1.0 * p.bBatchStrides[$1.1] }) }
    for (bi, base) in bases.enumerated() {
      for panel in 0..<panels {
        for kk in 0..<p.k {
          let row = bi * packedMatrixSize + (panel * p.k + kk) * panelWidth
          for j in 0..<panelWidth where panel * panelWidth + j < p.n {
            out[row + j] = source[base + kk * p.bK + (panel * panelWidth + j) * p.bN]
          }
        }
      }
    }
    return out
  }

  /// Packs a run-time B into panels, in parallel over (batch, panel): whole vectors per k row when B's rows
  /// are contiguous, element by element (walking B along k) otherwise.
  private func emitRuntimePacking(b: IRValue, into buffer: IRValue) {
    let p = problem
    let k = ctx.k
    let dims = packedBatchDims.map { p.batch[$0] }
    let sourceStrides = packedBatchDims.map { p.bBatchStrides[$0] }
    let (panels, width, size, lanes) = (panels, panelWidth, packedMatrixSize, lanes)
    let items = packedBatchCount * panels
    ctx.parallelIfLarge(items: items, work: size * packedBatchCount / 4, captures: [b, buffer]) { begin, end, captured in
      k.forLoop(from: begin, to: end, hints: LoopHints(vectorize: false)) { item in
        let bi = item / k.i64(Int64(panels))
        let panel = item - bi * k.i64(Int64(panels))
        let source = ctx.flatIndex(unflatten(k, bi, dims), strides: sourceStrides)
        let destination = bi * k.i64(Int64(size)) + panel * k.i64(Int64(p.k * width))
        let column0 = panel * k.i64(Int64(width))
        if p.bN == 1 {
          let masks = (0..<(width / lanes)).map { v in
            k.prefixMask(count: k.i64(Int64(p.n)) - column0 - k.i64(Int64(v * lanes)), lanes: lanes)
          }
          k.forLoop(from: k.i64(0), to: k.i64(Int64(p.k)), hints: LoopHints(vectorize: false, unrollCount: 2)) { kk in
            for (v, mask) in masks.enumerated() {
              let at = source + kk * k.i64(Int64(p.bK)) + column0 + k.i64(Int64(v * lanes))
              let vector = k.loadVector(.f32, lanes: lanes, from: captured[0], at: at, mask: mask)
              k.storeVector(vector, .f32, to: captured[1], at: destination + kk * k.i64(Int64(width)) + k.i64(Int64(v * lanes)))
            }
          }
          return
        }
        k.forLoop(from: k.i64(0), to: k.i64(Int64(width)), hints: LoopHints(vectorize: false)) { j in
          let column = column0 + j
          let inside = k.compare(.lt, column, k.i64(Int64(p.n)))
          let clamped = k.min(column, k.i64(Int64(p.n - 1)))
          k.forLoop(from: k.i64(0), to: k.i64(Int64(p.k)), hints: LoopHints(vectorize: false, unrollCount: 4)) { kk in
            let v = k.load(.f32, from: captured[0], at: source + kk * k.i64(Int64(p.bK)) + clamped * k.i64(Int64(p.bN)))
            k.store(k.select(inside, v, k.f32(0)), .f32, to: captured[1], at: destination + kk * k.i64(Int64(width)) + j)
          }
        }
      }
    }
  }

  // MARK: Tiles

  /// Row tiles per block and panels per block, sized for the caches and to give the pool enough items.
  private var blocking: (tiles: Int, panels: Int, kChunk: Int) {
    let p = problem
    let tiles = (p.m + Self.rows - 1) / Self.rows
    // A B micro-panel chunk of about 16 KB stays in L1 while row tiles stream past it.
    let chunkTarget = max(64, 4096 / panelWidth)
    let chunks = (p.k + chunkTarget - 1) / chunkTarget
    let kChunk = (p.k + chunks - 1) / chunks
    var tileBlock = min(tiles, 16)
    var panelBlock = min(panels, max(1, 512 / panelWidth))
    func items() -> Int { p.batchCount * ((tiles + tileBlock - 1) / tileBlock) * ((panels + panelBlock - 1) / panelBlock) }
    while items() < 8 && (tileBlock > 1 || panelBlock > 1) {
      if tileBlock >= panelBlock && tileBlock > 1 { tileBlock = (tileBlock + 1) / 2 } else { panelBlock = (panelBlock + 1) / 2 }
    }
    return (tileBlock, panelBlock, kChunk)
  }

  /// Where the tiles read B.
  enum BAccess {
    /// Panels [batch][panel][k][panelWidth] (zero past N), with the buffer's element strides per batch dim.
    case packed(batchStrides: [Int])
    /// Row k of B starts at element `table[k]` (an i64 array) of the B buffer and is contiguous along n.
    case rowTable(IRValue)
  }

  func emitTiles(a: IRValue, b: IRValue, bBatchStrides: [Int], c: IRValue, epilogue: GemmEpilogue?) {
    emitTiles(a: a, b: b, access: .packed(batchStrides: bBatchStrides), c: c, epilogue: epilogue)
  }

  func emitTiles(a: IRValue, b: IRValue, access: BAccess, c: IRValue, epilogue: GemmEpilogue?) {
    let p = problem
    let k = ctx.k
    let (tileBlock, panelBlock, kChunk) = blocking
    let tiles = (p.m + Self.rows - 1) / Self.rows
    let (fullTiles, rowRemainder) = (p.m / Self.rows, p.m % Self.rows)
    let (fullPanels, columnRemainder) = (p.n / panelWidth, p.n % panelWidth)
    let tileBlocks = (tiles + tileBlock - 1) / tileBlock
    let panelBlocks = (panels + panelBlock - 1) / panelBlock
    let items = p.batchCount * tileBlocks * panelBlocks
    let extras = epilogue?.extras ?? []
    let chunks = (p.k + kChunk - 1) / kChunk
    ctx.parallelIfLarge(items: items, work: p.flops / 64, captures: [a, b, c] + extras) { begin, end, captured in
      k.forLoop(from: begin, to: end, hints: LoopHints(vectorize: false, unrollCount: 1)) { item in
        let panelBlockIndex = item % k.i64(Int64(panelBlocks))
        let rest = item / k.i64(Int64(panelBlocks))
        let tileBlockIndex = rest % k.i64(Int64(tileBlocks))
        let batchIndex = unflatten(k, rest / k.i64(Int64(tileBlocks)), p.batch)
        let aBatch = ctx.flatIndex(batchIndex, strides: p.aBatchStrides)
        let cBatch = ctx.flatIndex(batchIndex, strides: p.cBatchStrides)
        let bBatch: IRValue
        if case .packed(let strides) = access { bBatch = ctx.flatIndex(batchIndex, strides: strides) } else { bBatch = k.i64(0) }
        let tBegin = tileBlockIndex * k.i64(Int64(tileBlock))
        let tEnd = k.min(tBegin + k.i64(Int64(tileBlock)), k.i64(Int64(tiles)))
        let pBegin = panelBlockIndex * k.i64(Int64(panelBlock))
        let pEnd = k.min(pBegin + k.i64(Int64(panelBlock)), k.i64(Int64(panels)))
        // The epilogue (a fused expression may be costly) runs once per element: the last K chunk is peeled
        // off the chunk loop and alone carries it.
        func chunkRun(_ chunk: IRValue, epilogue: GemmEpilogue?) {
          let k0 = chunk * k.i64(Int64(kChunk))
          let kLength = k.min(k.i64(Int64(kChunk)), k.i64(Int64(p.k)) - k0)
          let first = k.compare(.eq, chunk, k.i64(0))
          let tile = Tile(
            kernel: self, access: access, a: captured[0], b: captured[1], c: captured[2], extras: Array(captured[3...]),
            batch: batchIndex, aBatch: aBatch, bBatch: bBatch, cBatch: cBatch, k0: k0, kLength: kLength,
            first: chunks == 1 ? nil : first, epilogue: epilogue)
          func panelRun(_ panel: IRValue, width: Int) {
            k.forLoop(from: tBegin, to: k.min(tEnd, k.i64(Int64(fullTiles))), hints: LoopHints(vectorize: false, unrollCount: 1)) { t in
              tile.emit(rowTile: t, rows: Self.rows, panel: panel, width: width)
            }
            if rowRemainder > 0 {
              k.ifThen(k.compare(.gt, tEnd, k.i64(Int64(fullTiles)))) {
                tile.emit(rowTile: k.i64(Int64(fullTiles)), rows: rowRemainder, panel: panel, width: width)
              }
            }
          }
          k.forLoop(from: pBegin, to: k.min(pEnd, k.i64(Int64(fullPanels))), hints: LoopHints(vectorize: false, unrollCount: 1)) { panel in
            panelRun(panel, width: panelWidth)
          }
          if columnRemainder > 0 {
            k.ifThen(k.compare(.gt, pEnd, k.i64(Int64(fullPanels)))) { panelRun(k.i64(Int64(fullPanels)), width: columnRemainder) }
          }
        }
        let peeled = epilogue == nil ? 0 : 1
        if chunks > peeled {
          k.forLoop(from: k.i64(0), to: k.i64(Int64(chunks - peeled)), hints: LoopHints(vectorize: false, unrollCount: 1)) { chunk in
            chunkRun(chunk, epilogue: nil)
          }
        }
        if epilogue != nil { chunkRun(k.i64(Int64(chunks - 1)), epilogue: epilogue) }
      }
    }
  }
}

/// One register tile's code: accumulate A rows x B panel over a K chunk, then store (through the epilogue,
/// given only for the last chunk).
private struct Tile {
  let kernel: GemmKernel
  let access: GemmKernel.BAccess
  let a, b, c: IRValue
  let extras: [IRValue]
  /// The batch multi-index of the tile's item (empty for an unbatched problem).
  let batch: [IRValue]
  let aBatch, bBatch, cBatch, k0, kLength: IRValue
  /// Whether this is the first K chunk (nil: there is only one chunk).
  let first: IRValue?
  let epilogue: GemmEpilogue?

  func emit(rowTile: IRValue, rows: Int, panel: IRValue, width: Int) {
    let k = kernel.ctx.k
    let p = kernel.problem
    let lanes = kernel.lanes
    let vectors = (width + lanes - 1) / lanes
    let tailMask: IRValue? = width % lanes == 0 ? nil : k.prefixMask(count: k.i64(Int64(width % lanes)), lanes: lanes)
    func mask(_ v: Int) -> IRValue? { v == vectors - 1 ? tailMask : nil }
    let m0 = rowTile * k.i64(Int64(GemmKernel.rows))
    let column0 = panel * k.i64(Int64(kernel.panelWidth))
    let aRows = (0..<rows).map { r in aBatch + (m0 + k.i64(Int64(r))) * k.i64(Int64(p.aM)) + k0 * k.i64(Int64(p.aK)) }
    let cRows = (0..<rows).map { r in cBatch + (m0 + k.i64(Int64(r))) * k.i64(Int64(p.cM)) + column0 }
    let bStart = bBatch + (panel * k.i64(Int64(p.k)) + k0) * k.i64(Int64(kernel.panelWidth))
    // B read in place has nothing past the last column: the partial panel's loads are masked.
    let readsInPlace: Bool
    if case .rowTable = access { readsInPlace = true } else { readsInPlace = false }
    func bRow(_ kk: IRValue) -> IRValue {
      switch access {
      case .packed: return bStart + kk * k.i64(Int64(kernel.panelWidth))
      case .rowTable(let table): return k.load(.i64, from: table, at: k0 + kk) + column0
      }
    }
    let zero = k.constant(0, k.type(.f32, lanes: lanes))
    var initial: [IRValue] = []
    for r in 0..<rows {
      for v in 0..<vectors {
        if let first {
          let old = k.loadVector(.f32, lanes: lanes, from: c, at: cRows[r] + k.i64(Int64(v * lanes)), mask: mask(v))
          initial.append(k.select(first, zero, old))
        } else {
          initial.append(zero)
        }
      }
    }
    let sums = k.forLoop(from: k.i64(0), to: kLength, hints: LoopHints(vectorize: false, unrollCount: 4), carrying: initial) { kk, acc in
      let row = bRow(kk)
      let bv = (0..<vectors).map { v in
        k.loadVector(.f32, lanes: lanes, from: b, at: row + k.i64(Int64(v * lanes)), mask: readsInPlace ? mask(v) : nil)
      }
      var next = acc
      for r in 0..<rows {
        let av = k.splat(k.load(.f32, from: a, at: aRows[r] + kk * k.i64(Int64(p.aK))), lanes: lanes)
        for v in 0..<vectors { next[r * vectors + v] = k.mulAdd(av, bv[v], acc[r * vectors + v]) }
      }
      return next
    }
    for r in 0..<rows {
      for v in 0..<vectors {
        var value = sums[r * vectors + v]
        let column = column0 + k.i64(Int64(v * lanes))
        if let epilogue { value = epilogue.apply(k, value, batch, m0 + k.i64(Int64(r)), column, mask(v), extras) }
        k.storeVector(value, .f32, to: c, at: cRows[r] + k.i64(Int64(v * lanes)), mask: mask(v))
      }
    }
  }
}

/// The multi-index of flat row-major index `flat` in `shape` (constants fold).
func unflatten(_ k: KernelBuilder, _ flat: IRValue, _ shape: [Int]) -> [IRValue] {
  var index: [IRValue] = []
  var rest = flat
  for d in shape.indices.reversed() {
    let size = k.i64(Int64(shape[d]))
    index.insert(shape[d] == 1 ? k.i64(0) : rest % size, at: 0)
    rest = rest / size
  }
  return index
}

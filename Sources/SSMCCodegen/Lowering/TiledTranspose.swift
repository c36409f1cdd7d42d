import CLLVM

/// Where a strided copy is a transpose: dim `j` is contiguous in the source (stride 1), the last dim is
/// contiguous in the destination. Strides are in elements.
struct TransposeTile {
  /// Register tile edge: 8 x 8 elements, loaded as 8 source vectors and stored as 8 destination vectors.
  static let size = 8
  var dims: [Int]
  var j: Int
  var s: [Int]
  var d: [Int]
  var srcOffset: Int
  var dstOffset: Int
}

extension LoweringContext {
  /// Copies with full tiles transposed in registers (vector loads along j, shuffles, vector stores along
  /// the last dim), and the ragged edges element by element. Strips of `size` j-rows are the parallel unit.
  func tiledTranspose(_ t: TransposeTile, scalar: ScalarType, src: IRValue, dst: IRValue) {
    let size = TransposeTile.size
    let last = t.dims.count - 1
    let outer = t.dims.indices.filter { $0 != t.j && $0 != last }
    let (nj, nl) = (t.dims[t.j], t.dims[last])
    let (fullJ, fullL) = (nj / size, nl / size)
    let k = self.k
    func bases(_ index: [IRValue]) -> (IRValue, IRValue) {
      var srcBase = k.i64(Int64(t.srcOffset))
      var dstBase = k.i64(Int64(t.dstOffset))
      for (n, axis) in outer.enumerated() {
        srcBase = srcBase + index[n] * k.i64(Int64(t.s[axis]))
        dstBase = dstBase + index[n] * k.i64(Int64(t.d[axis]))
      }
      return (srcBase, dstBase)
    }
    let (sl, dj) = (k.i64(Int64(t.s[last])), k.i64(Int64(t.d[t.j])))
    let work = t.dims.reduce(1, *)
    let scalarLoop = LoopHints(vectorize: false)
    /// Element-by-element copy of rows [j0, j1) x columns [l0, nl).
    func edge(_ c: [IRValue], _ srcBase: IRValue, _ dstBase: IRValue, j0: IRValue, j1: IRValue, l0: Int) {
      guard l0 < nl else { return }
      k.forLoop(from: j0, to: j1, hints: scalarLoop) { jj in
        k.forLoop(from: k.i64(Int64(l0)), to: k.i64(Int64(nl)), hints: scalarLoop) { ll in
          let v = k.load(scalar, from: c[0], at: srcBase + jj + ll * sl)
          k.store(v, scalar, to: c[1], at: dstBase + jj * dj + ll)
        }
      }
    }
    forEachIndex(outer.map { t.dims[$0] } + [fullJ], work: work, captures: [src, dst], innerHints: scalarLoop) { index, c in
      let (srcBase, dstBase) = bases(index)
      let j0 = index[outer.count] * k.i64(Int64(size))
      k.forLoop(from: k.i64(0), to: k.i64(Int64(fullL)), hints: scalarLoop) { lb in
        let l0 = lb * k.i64(Int64(size))
        let rows = (0..<size).map { r in
          k.loadVector(scalar, lanes: size, from: c[0], at: srcBase + j0 + (l0 + k.i64(Int64(r))) * sl)
        }
        for (u, row) in k.transposeTile(rows).enumerated() {
          k.storeVector(row, scalar, to: c[1], at: dstBase + (j0 + k.i64(Int64(u))) * dj + l0)
        }
      }
      edge(c, srcBase, dstBase, j0: j0, j1: j0 + k.i64(Int64(size)), l0: fullL * size)
    }
    // The j rows after the last full strip.
    guard nj > fullJ * size else { return }
    forEachIndex(outer.map { t.dims[$0] }, work: work, captures: [src, dst], innerHints: scalarLoop) { index, c in
      let (srcBase, dstBase) = bases(index)
      edge(c, srcBase, dstBase, j0: k.i64(Int64(fullJ * size)), j1: k.i64(Int64(nj)), l0: 0)
    }
  }
}

extension KernelBuilder {
  /// Transposes a square tile of vectors (row r lane i -> row i lane r), lanes a power of two. Stage h
  /// swaps bit h of the row index with bit h of the lane index, one two-vector shuffle per output row.
  func transposeTile(_ rows: [IRValue]) -> [IRValue] {
    var rows = rows
    let n = rows.count
    var h = 1
    while h < n {
      for a in 0..<n where a & h == 0 {
        let b = a + h
        // Lanes of concat(rows[a], rows[b]): n + i is lane i of rows[b].
        let low = (0..<n).map { i in i & h == 0 ? i : n + i - h }
        let high = (0..<n).map { i in i & h == 0 ? i + h : n + i }
        (rows[a], rows[b]) = (shuffle(rows[a], rows[b], low), shuffle(rows[a], rows[b], high))
      }
      h <<= 1
    }
    return rows
  }

  /// Lanes of the concatenation of `a` and `b` picked by `lanes`.
  func shuffle(_ a: IRValue, _ b: IRValue, _ lanes: [Int]) -> IRValue {
    var mask: [LLVMValueRef?] = lanes.map { LLVMConstInt(llvm.i32, UInt64($0), 0) }
    let maskValue = LLVMConstVector(&mask, UInt32(mask.count))
    return IRValue(LLVMBuildShuffleVector(builder, a.ref, b.ref, maskValue, "")!, self)
  }
}

import CLLVM

// Square tiles for the selective scan: u, delta, z and y are (batch, channels, length) with length
// contiguous, but the scan keeps one channel per vector lane. A block of `lanes` channels times `lanes`
// positions is read as `lanes` contiguous row loads and transposed in registers into one vector per
// position (and back for y). Measured against per-position gathers/scatters this is the faster choice on
// AVX-512 (a 16x16 transpose is 64 two-source permutes for 256 elements; Zen 4 gathers cost about one
// element per cycle and its scatters far more), and every memory access stays a full, masked vector.

extension KernelBuilder {
  /// Lane-wise shuffle of `a` and `b` (`indices` count from `a`'s lanes, then `b`'s).
  func shuffle(_ a: IRValue, _ b: IRValue, _ indices: [Int]) -> IRValue {
    var mask: [LLVMValueRef?] = indices.map { LLVMConstInt(llvm.i32, UInt64($0), 0) }
    let maskVector = LLVMConstVector(&mask, UInt32(mask.count))
    return IRValue(LLVMBuildShuffleVector(builder, a.ref, b.ref, maskVector, "")!, self)
  }

  /// Transposes a square matrix given as `rows` (n vectors of n lanes, n a power of two).
  ///
  /// log2(n) rounds of pairing vector i with vector i + n/2 and interleaving their low and high halves;
  /// after the last round vector j holds lane j of every input row.
  func transpose(_ rows: [IRValue]) -> [IRValue] {
    let n = rows.count
    precondition(n > 0 && n & (n - 1) == 0 && rows.allSatisfy { $0.lanes == n }, "transpose needs n vectors of n lanes, n a power of two")
    guard n > 1 else { return rows }
    let low = (0..<(n / 2)).flatMap { [$0, $0 + n] }
    let high = low.map { $0 + n / 2 }
    var current = rows
    var round = 1
    while round < n {
      current = (0..<(n / 2)).flatMap { i in
        [shuffle(current[i], current[i + n / 2], low), shuffle(current[i], current[i + n / 2], high)]
      }
      round *= 2
    }
    return current
  }

  /// A 64-byte aligned stack array of `count` f32 values (in the entry block, so once per function).
  func stackFloats(_ count: Int, name: String) -> IRValue {
    let slot = stackSlot(LLVMArrayType2(llvm.f32, UInt64(count)), name: name)
    LLVMSetAlignment(slot.ref, 64)
    return slot
  }
}

/// Where a channel block's rows live in one (batch, channels, length) tensor and which of them are real.
struct ScanTile {
  let k: KernelBuilder
  let lanes: Int
  /// Flat index of the block's first channel at position 0.
  let rowBase: IRValue
  /// Elements between consecutive channels (the sequence length).
  let rowStride: Int
  /// Real channels in the block (the rest are masked lanes past a group's end).
  let validChannels: IRValue

  /// Mask of row `row`'s lanes to touch: positions below `count`, and none for a channel past the block's end.
  func rowMask(_ row: Int, positions: IRValue) -> IRValue {
    let rowIsReal = k.splat(k.compare(.lt, k.i64(Int64(row)), validChannels), lanes: lanes)
    return k.and(positions, rowIsReal)
  }

  /// Flat index of (row, position `start`); rows past the block's end are clamped to its first row so
  /// that even their (fully masked) addresses stay inside the tensor.
  func index(row: Int, start: IRValue) -> IRValue {
    let realRow = k.select(k.compare(.lt, k.i64(Int64(row)), validChannels), k.i64(Int64(row)), k.i64(0))
    return rowBase + realRow * k.i64(Int64(rowStride)) + start
  }

  /// Loads positions `start ..< start + lanes` of every channel row (masked) and returns one vector per
  /// position, lane c holding channel c.
  func loadColumns(_ base: IRValue, start: IRValue, positions: IRValue) -> [IRValue] {
    let rows = (0..<lanes).map { row in
      k.loadVector(.f32, lanes: lanes, from: base, at: index(row: row, start: start), mask: rowMask(row, positions: positions))
    }
    return k.transpose(rows)
  }

  /// Stores `columns` (one vector per position) back as channel rows, only the masked positions.
  func storeColumns(_ columns: [IRValue], to base: IRValue, start: IRValue, positions: IRValue) {
    for (row, vector) in k.transpose(columns).enumerated() {
      k.storeVector(vector, .f32, to: base, at: index(row: row, start: start), mask: rowMask(row, positions: positions))
    }
  }
}

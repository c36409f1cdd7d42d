import CLLVM

// Square tiles for the selective scan: u, delta, z and y are (batch, channels, length) with length
// contiguous, but the scan keeps one channel per vector lane. A block of `lanes` channels times `lanes`
// positions is read as `lanes` contiguous row loads and transposed in registers into one vector per
// position (and back for y). Measured against per-position gathers/scatters this is the faster choice on
// AVX-512 (a 16x16 transpose is 64 two-source permutes for 256 elements; Zen 4 gathers cost about one
// element per cycle and its scatters far more), and every memory access stays a full, masked vector.

extension KernelBuilder {
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
    return k.transposeTile(rows)
  }

  /// Stores `columns` (one vector per position) back as channel rows, only the masked positions.
  func storeColumns(_ columns: [IRValue], to base: IRValue, start: IRValue, positions: IRValue) {
    for (row, vector) in k.transposeTile(columns).enumerated() {
      k.storeVector(vector, .f32, to: base, at: index(row: row, start: start), mask: rowMask(row, positions: positions))
    }
  }
}

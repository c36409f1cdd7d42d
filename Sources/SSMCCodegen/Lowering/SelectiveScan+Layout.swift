import CLLVM
import SSMCIR

// The scan's sequence tensors (u, delta, z, y) may be stored in four layouts (the op's `layout_transposed`
// and `layout_flipped` flags), so that Transpose and reversal copies around the scan are not needed:
//
// * (batch, channels, length), the default: the square-tile transpose of SelectiveScan+Tiles.swift.
// * (batch, length, channels), transposed: a position's channels are already contiguous, so each column
//   (one vector per position, lane c = channel c) is one masked load or store, with no shuffles at all.
// * either one with length reversed (logical position l stored at length−1−l). Transposed, that only
//   changes the column's address. Untransposed, the chunk's `count` positions are the stored window
//   [length−start−count, length−start) read as usual, whose column j is logical position count−1−j: the
//   column goes to tile slot (count−1−j) mod lanes (slots count..<lanes are never read for the chunk).

/// How one sequence tensor is stored.
struct ScanSequenceLayout: Equatable {
  var transposed = false
  var flipped = false
}

/// One sequence tensor of a channel block, read or written in chunks of `lanes` logical positions as one
/// vector per position, lane c holding channel firstChannel + c.
struct ScanSequence {
  let k: KernelBuilder
  let plan: ScanPlan
  let layout: ScanSequenceLayout
  let base: IRValue
  /// The block's rows, for the untransposed layouts.
  let tile: ScanTile
  let batch, firstChannel, channelMask: IRValue

  private var lanes: Int { plan.lanes }
  private func i64(_ value: Int) -> IRValue { k.i64(Int64(value)) }

  /// The tile slot of column `j` of a chunk with `count` positions, and the start of its stored window.
  private func slot(_ j: Int, count: IRValue) -> IRValue {
    guard layout.flipped, !layout.transposed else { return i64(j) }
    return k.and(count - i64(j + 1), i64(lanes - 1))
  }

  private func windowStart(start: IRValue, count: IRValue) -> IRValue {
    layout.flipped ? i64(plan.length) - start - count : start
  }

  /// Flat index of logical position start + t for the transposed layout (positions past the chunk's end
  /// are clamped to its last one, so their fully masked addresses stay inside the tensor), and the mask.
  private func column(_ t: Int, start: IRValue, count: IRValue) -> (index: IRValue, mask: IRValue) {
    let real = k.compare(.lt, i64(t), count)
    let logical = start + k.select(real, i64(t), count - i64(1))
    let stored = layout.flipped ? i64(plan.length - 1) - logical : logical
    let index = (batch * i64(plan.length) + stored) * i64(plan.channels) + firstChannel
    return (index, k.and(channelMask, k.splat(real, lanes: lanes)))
  }

  /// Calls `body(slot, column)` for each column of the chunk; `slot` is the tile column it belongs to.
  func loadColumns(start: IRValue, count: IRValue, positions: IRValue, _ body: (IRValue, IRValue) -> Void) {
    if layout.transposed {
      for t in 0..<lanes {
        let (index, mask) = column(t, start: start, count: count)
        body(i64(t), k.loadVector(.f32, lanes: lanes, from: base, at: index, mask: mask))
      }
      return
    }
    let columns = tile.loadColumns(base, start: windowStart(start: start, count: count), positions: positions)
    for (j, value) in columns.enumerated() { body(slot(j, count: count), value) }
  }

  /// Stores the chunk's columns, `columnAt(slot)` giving the tile column for a slot, only real positions.
  func storeColumns(start: IRValue, count: IRValue, positions: IRValue, _ columnAt: (IRValue) -> IRValue) {
    if layout.transposed {
      for t in 0..<lanes {
        let (index, mask) = column(t, start: start, count: count)
        k.storeVector(columnAt(i64(t)), .f32, to: base, at: index, mask: mask)
      }
      return
    }
    let columns = (0..<lanes).map { columnAt(slot($0, count: count)) }
    tile.storeColumns(columns, to: base, start: windowStart(start: start, count: count), positions: positions)
  }
}

extension ScanPlan {
  /// The layouts of u, delta, z and y from the op's attributes (absent: the default layout).
  static func layouts(_ op: Node) -> [ScanSequenceLayout] {
    func flags(_ name: String) -> [Bool] {
      if case .ints(let v)? = op.attributes[name], v.count == 4 { return v.map { $0 != 0 } }
      return [false, false, false, false]
    }
    let (t, f) = (flags("layout_transposed"), flags("layout_flipped"))
    return (0..<4).map { ScanSequenceLayout(transposed: t[$0], flipped: f[$0]) }
  }
}

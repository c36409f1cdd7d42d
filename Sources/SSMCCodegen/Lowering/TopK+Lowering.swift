import CLLVM
import SSMCIR

/// TopK keeps each row's best k so far sorted in the outputs themselves: element j enters when fewer than k
/// are kept or it beats the last kept one; it goes after every kept element it does not beat (equal values
/// keep the lower position first) and pushes the worse ones down. O(n·k) per row, no scratch memory; rows
/// run in parallel. `sorted` = 0 leaves the order free, and sorted order is one choice of it.
///
/// Float order follows the ONNX reference (a numpy sort): NaN is above every number, so it comes first for
/// largest = 1 and last for largest = 0, and NaNs are equal to each other.
let lowerTopK: Lowering = { ctx in
  let shape = ctx.operandShape(0)
  let (axis, count) = try topKGeometry(ctx.op)
  let largest = try ctx.op.flag("largest")
  let scalar = try ctx.scalar(ctx.operandType(0).element)
  guard scalar != .i1 else { throw ctx.error("TopK needs numeric input, got bool") }
  let n = shape[axis]
  let outer = shape[..<axis].reduce(1, *)
  let inner = shape[(axis + 1)...].reduce(1, *)
  guard count > 0, outer * inner > 0 else { return }
  let k = ctx.k
  let kv = k.i64(Int64(count))
  let innerv = k.i64(Int64(inner))
  /// Whether `a` goes strictly before `b`.
  func beats(_ a: IRValue, _ b: IRValue) -> IRValue {
    let strictly = k.compare(largest ? .gt : .lt, a, b)
    guard a.isFloat else { return strictly }
    // NaN against a number: first when largest, last otherwise.
    let nanFirst = largest ? k.and(k.isNaN(a), k.not(k.isNaN(b))) : k.and(k.not(k.isNaN(a)), k.isNaN(b))
    return k.or(strictly, nanFirst)
  }
  ctx.forEachIndex(
    [outer, inner], work: outer * inner * n * Swift.min(count, 16),
    captures: [ctx.operand(0), ctx.results[0], ctx.results[1]], innerHints: LoopHints(vectorize: false)
  ) { i, c in
    let (x, values, positions) = (c[0], c[1], c[2])
    let rowIn = i[0] * k.i64(Int64(n * inner)) + i[1]
    let rowOut = i[0] * k.i64(Int64(count * inner)) + i[1]
    func slot(_ r: IRValue) -> IRValue { rowOut + r * innerv }
    k.forLoop(from: k.i64(0), to: k.i64(Int64(n)), hints: LoopHints(vectorize: false)) { j in
      let v = k.load(scalar, from: x, at: rowIn + j * innerv)
      let kept = k.min(j, kv)
      // While fewer than k are kept the last slot holds garbage, but then j < k decides.
      let enters = k.or(k.compare(.lt, j, kv), beats(v, k.load(scalar, from: values, at: slot(kv - k.i64(1)))))
      k.ifThen(enters) {
        let place = k.forLoop(from: k.i64(0), to: kept, hints: LoopHints(vectorize: false), carrying: [k.i64(0)]) { r, acc in
          let before = beats(v, k.load(scalar, from: values, at: slot(r)))
          return [acc[0] + k.select(before, k.i64(0), k.i64(1))]
        }[0]
        // Slots [place, last) move down by one; the element in slot k - 1 falls out when k are kept.
        let last = k.min(kept, kv - k.i64(1))
        k.forLoop(from: last - k.i64(1), to: place - k.i64(1), step: -1, hints: LoopHints(vectorize: false)) { r in
          k.store(k.load(scalar, from: values, at: slot(r)), scalar, to: values, at: slot(r + k.i64(1)))
          k.store(k.load(.i64, from: positions, at: slot(r)), .i64, to: positions, at: slot(r + k.i64(1)))
        }
        k.store(v, scalar, to: values, at: slot(place))
        k.store(j, .i64, to: positions, at: slot(place))
      }
    }
  }
}

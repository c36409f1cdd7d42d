import CLLVM

/// Loop nests over static shapes, with the outermost loop spread across the thread pool when the work is
/// large enough to pay for it.
extension LoweringContext {
  /// Elements below which a loop nest runs on the calling thread alone.
  static let parallelThreshold = 1 << 15

  /// Calls `body` for every index of `shape` in row-major order (innermost dim last, vectorizable).
  /// `captures` are the pointers the body uses; inside `body` use only the captured values it receives,
  /// because a parallel body is outlined into its own function.
  public func forEachIndex(
    _ shape: [Int], captures: [IRValue], innerHints: LoopHints = LoopHints(vectorize: true),
    body: @escaping (_ index: [IRValue], _ captured: [IRValue]) -> Void
  ) {
    let total = shape.reduce(1, *)
    guard total > 0 else { return }
    if shape.isEmpty {
      body([], captures)
      return
    }
    func nest(_ dim: Int, _ prefix: [IRValue], _ captured: [IRValue], from start: IRValue? = nil, to end: IRValue? = nil) {
      if dim == shape.count {
        body(prefix, captured)
        return
      }
      let hints = dim == shape.count - 1 ? innerHints : LoopHints(vectorize: false)
      k.forLoop(from: start ?? k.i64(0), to: end ?? k.i64(Int64(shape[dim])), hints: hints) { i in
        nest(dim + 1, prefix + [i], captured)
      }
    }
    if total >= Self.parallelThreshold && shape[0] > 1 {
      k.parallelFor(count: k.i64(Int64(shape[0])), pool: pool, captures: captures) { begin, end, captured in
        nest(0, [], captured, from: begin, to: end)
      }
    } else {
      nest(0, [], captures)
    }
  }

  /// Row-major flat index of `index` in a tensor of `shape`, where `strides` (in elements) may be 0 for
  /// broadcast dims. Constant strides fold away.
  public func flatIndex(_ index: [IRValue], strides: [Int]) -> IRValue {
    var sum = k.i64(0)
    for (i, s) in zip(index, strides) where s != 0 { sum = sum + (s == 1 ? i : i * k.i64(Int64(s))) }
    return sum
  }
}

/// Row-major strides in elements of a contiguous tensor of `shape`.
public func contiguousStrides(_ shape: [Int]) -> [Int] {
  var strides = [Int](repeating: 1, count: shape.count)
  var step = 1
  for i in stride(from: shape.count - 1, through: 0, by: -1) {
    strides[i] = step
    step *= shape[i]
  }
  return strides
}

/// Merges adjacent dims that every operand walks contiguously (or broadcasts along both), so loop nests
/// get as few and as long loops as possible. `strides[k]` are operand k's strides over `shape`.
func coalesce(_ fullShape: [Int], _ fullStrides: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
  // Dims of extent 1 contribute nothing to any index.
  let kept = fullShape.indices.filter { fullShape[$0] != 1 }
  let shape = kept.map { fullShape[$0] }
  let strides = fullStrides.map { s in kept.map { s[$0] } }
  guard !shape.isEmpty else { return ([], fullStrides.map { _ in [] }) }
  var outShape = [shape[0]]
  var outStrides = strides.map { [$0[0]] }
  for d in 1..<shape.count {
    let mergeable = strides.indices.allSatisfy { k in outStrides[k].last! == strides[k][d] * shape[d] }
    if mergeable {
      outShape[outShape.count - 1] *= shape[d]
      for k in strides.indices { outStrides[k][outStrides[k].count - 1] = strides[k][d] }
    } else {
      outShape.append(shape[d])
      for k in strides.indices { outStrides[k].append(strides[k][d]) }
    }
  }
  return (outShape, outStrides)
}

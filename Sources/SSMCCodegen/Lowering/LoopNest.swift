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
    forEachIndex(shape, work: shape.reduce(1, *), captures: captures, innerHints: innerHints, body: body)
  }

  /// Row-major flat index of `index` in a tensor of `shape`, where `strides` (in elements) may be 0 for
  /// broadcast dims. Constant strides fold away.
  public func flatIndex(_ index: [IRValue], strides: [Int]) -> IRValue {
    var sum = k.i64(0)
    for (i, s) in zip(index, strides) where s != 0 { sum = sum + (s == 1 ? i : i * k.i64(Int64(s))) }
    return sum
  }
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

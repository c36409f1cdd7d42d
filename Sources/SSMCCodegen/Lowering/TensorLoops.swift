import CLLVM
import SSMCIR

// Loop helpers shared by the data-movement, reduction and normalization lowerings: loop nests whose
// threading is decided by the work per index, strided copies (with cache blocking for transposes), and
// vectorized reductions of contiguous rows.

extension LoweringContext {
  /// Like `forEachIndex(_:captures:innerHints:body:)`, but the outer loop goes to the pool when the total
  /// `work` (elements touched, summed over all indices) is large, not the index count: for bodies that
  /// each process a whole row.
  func forEachIndex(
    _ shape: [Int], work: Int, captures: [IRValue], innerHints: LoopHints = LoopHints(vectorize: true),
    body: @escaping (_ index: [IRValue], _ captured: [IRValue]) -> Void
  ) {
    guard !shape.contains(0) else { return }
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
    if work >= Self.parallelThreshold && shape[0] > 1 {
      k.parallelFor(count: k.i64(Int64(shape[0])), pool: pool, captures: captures) { begin, end, captured in
        nest(0, [], captured, from: begin, to: end)
      }
    } else {
      nest(0, [], captures)
    }
  }

  /// The integer type that moves elements of `element` bit for bit (bools as their 0/1 byte).
  func moveScalar(_ element: ElementType) throws(CodegenError) -> ScalarType {
    switch element.byteSize {
    case 1: .i8
    case 4: .i32
    case 8: .i64
    default: throw error("element type \(element) is not supported by code generation")
    }
  }

  /// Vector lanes for elements of `scalar`: the target's vector register width (u8 is an i32 in registers).
  func lanes(for scalar: ScalarType) -> Int {
    Swift.max(2, vectorLanes * 4 / (scalar == .u8 ? 4 : Swift.max(scalar.byteSize, 1)))
  }

  /// Sets the `count` elements of `buffer` to the element `value` points at (read at run time), or to zero
  /// bits when `value` is nil. `scalar` moves elements bit for bit (see `moveScalar`).
  func fill(_ buffer: IRValue, count: Int, scalar: ScalarType, value: IRValue? = nil) {
    let k = self.k
    forEachIndex([count], work: count, captures: [buffer] + (value.map { [$0] } ?? [])) { i, c in
      let v = c.count > 1 ? k.load(scalar, from: c[1], at: k.i64(0)) : k.constant(0, k.type(scalar))
      k.store(v, scalar, to: c[0], at: i[0])
    }
  }

  /// Copies `dst[dstOffset + Σ i_k dstStrides_k] = src[srcOffset + Σ i_k srcStrides_k]` for every index of
  /// `shape` (strides in elements, possibly negative or 0). When the destination's innermost dim reads the
  /// source with a stride (a transpose), the copy transposes register tiles (see TiledTranspose.swift).
  func stridedCopy(
    _ shape: [Int], scalar: ScalarType, from src: IRValue, sourceOffset srcOffset: Int = 0, strides srcStrides: [Int],
    to dst: IRValue, destOffset dstOffset: Int = 0, strides dstStrides: [Int]
  ) {
    guard !shape.contains(0) else { return }
    let (dims, strides) = coalesce(shape, [srcStrides, dstStrides])
    let (s, d) = (strides[0], strides[1])
    let total = dims.reduce(1, *)
    let tile = TransposeTile.size
    if let last = dims.indices.last, d[last] == 1, s[last] != 1, dims[last] >= tile,
      let j = s.indices.first(where: { s[$0] == 1 && dims[$0] >= tile })
    {
      tiledTranspose(TransposeTile(dims: dims, j: j, s: s, d: d, srcOffset: srcOffset, dstOffset: dstOffset), scalar: scalar, src: src, dst: dst)
      return
    }
    forEachIndex(dims, work: total, captures: [src, dst]) { index, c in
      let v = self.k.load(scalar, from: c[0], at: self.flatIndex(index, strides: s) + self.k.i64(Int64(srcOffset)))
      self.k.store(v, scalar, to: c[1], at: self.flatIndex(index, strides: d) + self.k.i64(Int64(dstOffset)))
    }
  }
}

extension KernelBuilder {
  /// Folds `count` contiguous elements `base[start..<start+count]` to one scalar: `map` each element,
  /// then `combine` them starting from `identity` (a scalar of the element's register type). Runs
  /// `lanes`-wide with a masked tail; `combine` must be associative and commutative.
  func reduceContiguous(
    _ scalar: ScalarType, lanes: Int, base: IRValue, start: IRValue, count: Int, identity: IRValue,
    map: (IRValue) -> IRValue, combine: (IRValue, IRValue) -> IRValue
  ) -> IRValue {
    let lanes = count < lanes ? Swift.max(2, count.nextPowerOfTwo) : lanes
    var acc = splat(identity, lanes: lanes)
    let main = count / lanes * lanes
    if main > 0 {
      acc = forLoop(from: i64(0), to: i64(Int64(main)), step: Int64(lanes), carrying: [acc]) { i, a in
        [combine(a[0], map(loadVector(scalar, lanes: lanes, from: base, at: start + i)))]
      }[0]
    }
    if count > main {
      let mask = prefixMask(count: i64(Int64(count - main)), lanes: lanes)
      let v = loadVector(scalar, lanes: lanes, from: base, at: start + i64(Int64(main)), mask: mask)
      acc = combine(acc, select(mask, map(v), splat(identity, lanes: lanes)))
    }
    return horizontal(acc, combine)
  }

  /// Visits `count` contiguous elements as vectors of `lanes`: `body(offset, mask, carried)` gets a nil mask
  /// for full vectors and a prefix mask for the tail, and returns the next carried values.
  @discardableResult
  func forVectors(
    count: Int, lanes: Int, carrying initial: [IRValue] = [], body: (IRValue, IRValue?, [IRValue]) -> [IRValue]
  ) -> [IRValue] {
    var carried = initial
    let main = count / lanes * lanes
    if main > 0 {
      carried = forLoop(from: i64(0), to: i64(Int64(main)), step: Int64(lanes), carrying: carried) { i, a in body(i, nil, a) }
    }
    if count > main {
      carried = body(i64(Int64(main)), prefixMask(count: i64(Int64(count - main)), lanes: lanes), carried)
    }
    return carried
  }

  /// Combines the lanes of `vector` pairwise (a tree, log2(lanes) steps of half-width vectors).
  func horizontal(_ vector: IRValue, _ combine: (IRValue, IRValue) -> IRValue) -> IRValue {
    var v = vector
    while v.lanes > 1 {
      let half = v.lanes / 2
      v = combine(shuffle(v, Array(0..<half)), shuffle(v, Array(half..<(2 * half))))
    }
    return v.isVector ? extractLane(v, 0) : v
  }

  /// The lanes of `vector` at `lanes` (a single index gives a 1-lane vector).
  func shuffle(_ vector: IRValue, _ lanes: [Int]) -> IRValue {
    var mask: [LLVMValueRef?] = lanes.map { LLVMConstInt(llvm.i32, UInt64($0), 0) }
    let maskValue = LLVMConstVector(&mask, UInt32(mask.count))
    return IRValue(LLVMBuildShuffleVector(builder, vector.ref, LLVMGetPoison(vector.type), maskValue, "")!, self)
  }
}

extension Int {
  /// The smallest power of two >= self (1 for 0 and 1).
  var nextPowerOfTwo: Int {
    var p = 1
    while p < self { p <<= 1 }
    return p
  }
}

/// A single axis attribute normalized to [0, rank).
func normalizedAxis(_ ctx: LoweringContext, _ name: String = "axis") throws -> Int {
  let rank = ctx.operandType(0).rank
  let a = try ctx.op.int(name)
  guard a >= -rank && a < Swift.max(rank, 1) else { throw ctx.error("\(name) \(a) is out of range for rank \(rank)") }
  return a < 0 ? a + rank : a
}

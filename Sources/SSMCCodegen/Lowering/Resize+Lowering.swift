import CLLVM
import SSMCIR

/// Resize (and Upsample, imported as Resize).
let resizeLowerings: [String: Lowering] = ["Resize": { ctx in try lowerResize(ctx) }]

/// Inner-axis taps unrolled in one pass over an output row; wider windows (antialias) take several passes.
private let tapBlock = 8
/// Outer tap combinations summed in one row pass (4 covers bicubic and trilinear).
private let maximumUnrolledRows = 4

/// A gather-style Resize: per output axis, compile-time tables give the input positions and weights each
/// output coordinate reads (`resizeTaps`), and the kernel sums the products over the taps of every resized
/// axis. One body call per output row (all axes but the last): resized outer axes contribute a row offset
/// and a weight per tap, the last axis a weighted gather along the row,
/// vectorized over the row's output positions (gathers through the offset table). Up to
/// `maximumUnrolledRows` outer tap combinations are summed in one pass; with more, or with several inner
/// tap blocks, the row is accumulated in the output. tf_crop_and_resize then overwrites extrapolated positions.
private func lowerResize(_ ctx: LoweringContext) throws {
  let plan: ResizePlan
  do { plan = try resizePlan(ctx.op) } catch { throw ctx.error("\(error)") }
  let element = ctx.operandType(0).element
  let weighted = plan.mode != .nearest
  // Nearest moves elements bit for bit, so it takes any element type; interpolation needs floats.
  let scalar = weighted ? try ctx.scalar(element) : try ctx.moveScalar(element)
  if weighted && !scalar.isFloat { throw ctx.error("\(plan.mode.rawValue) Resize needs a float input, got \(element)") }
  let x = ctx.operandShape(0)
  let out = ctx.resultShape(0)
  let rank = x.count
  guard !out.contains(0) else { return }
  let inStrides = rowMajorStrides(x)
  let k = ctx.k

  var taps: [Int: ResizeTaps] = [:]
  for (axis, spec) in plan.axes {
    do { taps[axis] = try resizeTaps(spec, plan: plan) } catch {
      throw ctx.error("antialias window too wide for scale \(spec.scale) on axis \(axis)")
    }
  }
  let inner = rank - 1
  let width = out[inner]
  let name = "resize.\(ctx.node.name)"

  // Outer resized axes: tables [o][t] of input offsets (index * stride), weights and inside flags.
  struct OuterAxis { var axis: Int, count: Int, offsets: IRValue, weights: IRValue?, inside: IRValue? }
  var outer: [OuterAxis] = []
  for axis in 0..<inner {
    guard let t = taps[axis] else { continue }
    let offsets = ctx.addConstantGlobal(name: "\(name).offsets\(axis)", int64s: t.indices.map { Int64($0 * inStrides[axis]) })
    let weights = weighted ? weightTable(ctx, "\(name).weights\(axis)", t.weights, scalar) : nil
    let inside = t.inside.map { ctx.addConstantGlobal(name: "\(name).inside\(axis)", int64s: $0.map { $0 ? 1 : 0 }) }
    outer.append(OuterAxis(axis: axis, count: t.count, offsets: offsets, weights: weights, inside: inside))
  }
  // The last axis: tables [t][o] (so the row's positions are contiguous), taps padded to whole blocks.
  let innerTaps = taps[inner]
  let block = min(innerTaps?.count ?? 1, tapBlock)
  let blocks = ((innerTaps?.count ?? 1) + block - 1) / block
  var innerOffsets: IRValue? = nil
  var innerWeights: IRValue? = nil
  var innerInside: IRValue? = nil
  if let t = innerTaps {
    var offsets = [Int64](repeating: 0, count: blocks * block * width)
    var weights = [Double](repeating: 0, count: blocks * block * width)
    for o in 0..<width {
      for i in 0..<t.count {
        offsets[i * width + o] = Int64(t.indices[o * t.count + i])
        weights[i * width + o] = t.weights[o * t.count + i]
      }
    }
    innerOffsets = ctx.addConstantGlobal(name: "\(name).offsets\(inner)", int64s: offsets)
    if weighted { innerWeights = weightTable(ctx, "\(name).weights\(inner)", weights, scalar) }
    innerInside = t.inside.map { ctx.addConstantGlobal(name: "\(name).inside\(inner)", int64s: $0.map { $0 ? 1 : 0 }) }
  }
  let extrapolates = outer.contains { $0.inside != nil } || innerInside != nil
  // Few outer taps (bilinear, bicubic, trilinear) are unrolled into the row pass, which then writes each
  // output once; more take nested loops that accumulate in the output row.
  let looped = outer.filter { $0.count > 1 }
  let outerTaps = looped.reduce(1) { $0 * $1.count }
  let unrollOuter = outerTaps <= maximumUnrolledRows && blocks == 1
  let accumulate = (!looped.isEmpty && !unrollOuter) || blocks > 1
  let tapProduct = taps.values.reduce(1) { $0 * $1.count }
  let outStrides = rowMajorStrides(out)
  let rowHints = LoopHints(vectorize: true)

  ctx.forEachIndex(Array(out[..<inner]), work: out.reduce(1, *) * tapProduct, captures: [ctx.operand(0), ctx.results[0]],
                   innerHints: LoopHints(vectorize: false)) { index, captured in
    let (src, dst) = (captured[0], captured[1])
    let row = ctx.flatIndex(index, strides: Array(outStrides[..<inner]))
    // Offset of the input row from the outer axes that are copied or read at one position.
    var base = k.i64(0)
    for axis in 0..<inner where taps[axis] == nil { base = base + index[axis] * k.i64(Int64(inStrides[axis])) }
    for a in outer where a.count == 1 { base = base + k.load(.i64, from: a.offsets, at: index[a.axis]) }
    if accumulate {
      k.forLoop(from: k.i64(0), to: k.i64(Int64(width)), hints: rowHints) { j in
        k.store(k.constant(0, k.type(scalar)), scalar, to: dst, at: row + j)
      }
    }
    /// The input row offset and weight of tap `t` of looped outer axis `a`.
    func outerTap(_ a: OuterAxis, _ t: IRValue) -> (offset: IRValue, weight: IRValue) {
      let at = index[a.axis] * k.i64(Int64(a.count)) + t
      return (k.load(.i64, from: a.offsets, at: at), k.load(scalar, from: a.weights!, at: at))
    }
    typealias Row = (offset: IRValue, weight: IRValue?)
    func nest(_ level: Int, _ row: Row) {
      guard level < looped.count else {
        emitRow([row])
        return
      }
      k.forLoop(from: k.i64(0), to: k.i64(Int64(looped[level].count)), hints: LoopHints(vectorize: false)) { t in
        let tap = outerTap(looped[level], t)
        nest(level + 1, (row.offset + tap.offset, row.weight.map { $0 * tap.weight } ?? tap.weight))
      }
    }
    func store(_ value: IRValue, _ j: IRValue) {
      let at = row + j
      k.store(accumulate ? k.load(scalar, from: dst, at: at) + value : value, scalar, to: dst, at: at)
    }
    /// The weighted sum over `rows` (input row offsets and their outer weights) of the last axis's taps.
    func emitRow(_ rows: [Row]) {
      func weightedSum(_ j: IRValue, _ value: (IRValue) -> IRValue) -> IRValue {
        let terms = rows.map { r in r.weight.map { $0 * value(r.offset) } ?? value(r.offset) }
        return terms.dropFirst().reduce(terms[0], +)
      }
      guard let innerOffsets else {
        k.forLoop(from: k.i64(0), to: k.i64(Int64(width)), hints: rowHints) { j in
          store(weightedSum(j) { k.load(scalar, from: src, at: $0 + j) }, j)
        }
        return
      }
      guard let innerWeights else {
        k.forLoop(from: k.i64(0), to: k.i64(Int64(width)), hints: rowHints) { j in
          let column = k.load(.i64, from: innerOffsets, at: j)
          store(weightedSum(j) { k.load(scalar, from: src, at: $0 + column) }, j)
        }
        return
      }
      k.forLoop(from: k.i64(0), to: k.i64(Int64(blocks)), hints: LoopHints(vectorize: false)) { b in
        let first = b * k.i64(Int64(block * width))
        k.forLoop(from: k.i64(0), to: k.i64(Int64(width)), hints: rowHints) { j in
          let columns = (0..<block).map { t in first + k.i64(Int64(t * width)) + j }
          let offsets = columns.map { k.load(.i64, from: innerOffsets, at: $0) }
          let weights = columns.map { k.load(scalar, from: innerWeights, at: $0) }
          store(weightedSum(j) { rowOffset in
            let terms = (0..<block).map { t in weights[t] * k.load(scalar, from: src, at: rowOffset + offsets[t]) }
            return terms.dropFirst().reduce(terms[0], +)
          }, j)
        }
      }
    }
    if unrollOuter && !looped.isEmpty {
      // Every combination of the looped axes' taps, as (offset, weight) rows.
      var rows: [Row] = [(base, nil)]
      for a in looped {
        rows = rows.flatMap { r in
          (0..<a.count).map { t -> Row in
            let tap = outerTap(a, k.i64(Int64(t)))
            return (r.offset + tap.offset, r.weight.map { $0 * tap.weight } ?? tap.weight)
          }
        }
      }
      emitRow(rows)
    } else {
      nest(0, (base, nil))
    }
    guard extrapolates else { return }
    // tf_crop_and_resize: positions whose source lies outside the input on any axis take extrapolation_value.
    var rowInside = k.bool(true)
    for a in outer {
      guard let flags = a.inside else { continue }
      rowInside = k.and(rowInside, k.compare(.ne, k.load(.i64, from: flags, at: index[a.axis]), k.i64(0)))
    }
    let fill = weighted ? k.constant(plan.extrapolationValue, k.type(scalar)) : fillBits(k, plan.extrapolationValue, element, scalar)
    k.forLoop(from: k.i64(0), to: k.i64(Int64(width)), hints: rowHints) { j in
      var keep = rowInside
      if let innerInside { keep = k.and(keep, k.compare(.ne, k.load(.i64, from: innerInside, at: j), k.i64(0))) }
      let at = row + j
      k.store(k.select(keep, k.load(scalar, from: dst, at: at), fill), scalar, to: dst, at: at)
    }
  }
}

/// A constant table of weights in the kernel's float type.
private func weightTable(_ ctx: LoweringContext, _ name: String, _ weights: [Double], _ scalar: ScalarType) -> IRValue {
  if scalar == .f64 { return ctx.addConstantGlobal(name: name, int64s: weights.map { Int64(bitPattern: $0.bitPattern) }) }
  return ctx.addConstantGlobal(name: name, floats: weights.map { Float($0) })
}

/// extrapolation_value as the bits nearest mode moves for `element` (floats keep their encoding).
private func fillBits(_ k: KernelBuilder, _ value: Double, _ element: ElementType, _ scalar: ScalarType) -> IRValue {
  let bits: Int64 =
    switch element {
    case .f32: Int64(Float(value).bitPattern)
    case .f64: Int64(bitPattern: value.bitPattern)
    case .bool: value != 0 ? 1 : 0
    default: value.isFinite ? Int64(max(min(value, 9.2e18), -9.2e18)) : 0
    }
  return k.constant(bits: bits, k.type(scalar))
}

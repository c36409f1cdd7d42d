import CLLVM
import SSMCIR

/// AffineGrid: each output position's normalized base coordinates (x, y[, z], 1), as the reference's
/// `arange` lays them out (compile-time tables per axis, in f64), times the sample's theta rows.
let lowerAffineGrid: Lowering = { ctx in
  let size: [Int]
  do { size = try affineGridSize(ctx.op) } catch { throw ctx.error("\(error)") }
  let alignCorners = try ctx.op.flag("align_corners")
  let scalar = try ctx.scalar(ctx.operandType(0).element)
  guard scalar.isFloat else { throw ctx.error("AffineGrid needs a float theta, got \(ctx.operandType(0).element)") }
  let spatial = Array(size[2...])
  let r = spatial.count
  let out = ctx.resultShape(0)
  guard out.reduce(1, *) > 0 else { return }
  let k = ctx.k
  // Base coordinates per spatial axis: start + i * step, as np.arange computes them.
  let tables = spatial.enumerated().map { axis, d -> IRValue in
    let values: [Double] = (0..<d).map { i in
      if alignCorners { return d == 1 ? -1 : -1 + Double(i) * (2.0 / Double(d - 1)) }
      let step = 2.0 / Double(d)
      return -1 + step / 2 + Double(i) * step
    }
    return ctx.addConstantGlobal(name: "affinegrid.\(ctx.node.name).base\(axis)", int64s: values.map { Int64(bitPattern: $0.bitPattern) })
  }
  let outStrides = rowMajorStrides(out)
  ctx.forEachIndex(
    Array(out[..<(r + 1)]), work: out.reduce(1, *) * (r + 1), captures: [ctx.operand(0), ctx.results[0]],
    innerHints: LoopHints(vectorize: false)
  ) { index, c in
    let (theta, grid) = (c[0], c[1])
    // Homogeneous base point: x is the innermost spatial axis.
    let base = (0..<r).map { j in k.load(.f64, from: tables[r - 1 - j], at: index[r - j]) }
    let at = ctx.flatIndex(Array(index[..<(r + 1)]), strides: Array(outStrides[..<(r + 1)]))
    let thetaAt = index[0] * k.i64(Int64(r * (r + 1)))
    for row in 0..<r {
      func entry(_ col: Int) -> IRValue {
        k.convert(k.load(scalar, from: theta, at: thetaAt + k.i64(Int64(row * (r + 1) + col))), to: .f64)
      }
      var sum = entry(r)
      for col in 0..<r { sum = sum + entry(col) * base[col] }
      k.store(k.convert(sum, to: scalar), scalar, to: grid, at: at + k.i64(Int64(row)))
    }
  }
}

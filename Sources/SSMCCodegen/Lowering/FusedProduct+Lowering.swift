import SSMCIR

/// `ssmc.FusedMatMul`, `ssmc.FusedGemm`, `ssmc.FusedConv`: the underlying op's own lowering, with the node's
/// expression as (part of) the GEMM epilogue, so each finished accumulator vector goes through the
/// expression in registers before its one store. Where the product is not computed as a GEMM (a Conv on the
/// depthwise or general kernel, a MatMul with a 1-D operand), the product is written first and the
/// expression then runs as one sweep over the result: slower, but the same values.
let fusedProductLowerings: [String: Lowering] = [
  "ssmc.FusedMatMul": { ctx in try lowerMatMul(ctx, fused: try ProductEpilogue(ctx, baseOperands: 2)) },
  "ssmc.FusedGemm": { ctx in try lowerGemm(ctx, fused: try ProductEpilogue(ctx, baseOperands: 3)) },
  "ssmc.FusedConv": { ctx in try lowerConv(ctx, fused: try ProductEpilogue(ctx, baseOperands: 3)) },
]

/// The expression of a fused product node, evaluated on the product's values: `a0` is the product, `aK`
/// (K >= 1) the node's extra operand K-1, read at the same output element through its broadcast strides.
struct ProductEpilogue {
  let plan: FusedPlan
  /// The node operand index of each extra operand.
  let operands: [Int]
  /// Each extra operand's element strides per output dim (0 along the dims it broadcasts over).
  let strides: [[Int]]
  let outShape: [Int]

  init(_ ctx: LoweringContext, baseOperands: Int) throws {
    outShape = ctx.resultShape(0)
    operands = Array(baseOperands..<ctx.node.operands.count)
    guard ctx.operandType(0).element == .f32, ctx.resultType(0).element == .f32,
      operands.allSatisfy({ ctx.hasOperand($0) && ctx.operandType($0).element == .f32 })
    else { throw ctx.error("a fused product epilogue needs an f32 product, f32 extra operands and an f32 result") }
    strides = operands.map { broadcastStrides(of: ctx.operandShape($0), to: ctx.resultShape(0)) }
    plan = try FusedPlan(ctx, operandElements: [.f32] + operands.map { _ in .f32 })
  }

  func pointers(_ ctx: LoweringContext) -> [IRValue] { operands.map { ctx.operand($0) } }

  /// The expression at one element or vector of consecutive columns: `acc` is the product, extra j is read
  /// from `extras[j]` at element `offsets[j]`, advancing `columnStrides[j]` (0 or 1) per column.
  func evaluate(
    _ k: KernelBuilder, _ acc: IRValue, extras: [IRValue], offsets: [IRValue], columnStrides: [Int], mask: IRValue?
  ) -> IRValue {
    var loaded = [acc]
    for j in extras.indices {
      if !acc.isVector {
        loaded.append(k.load(.f32, from: extras[j], at: offsets[j]))
      } else if columnStrides[j] == 0 {
        loaded.append(k.splat(k.load(.f32, from: extras[j], at: offsets[j]), lanes: acc.lanes))
      } else {
        loaded.append(k.loadVector(.f32, lanes: acc.lanes, from: extras[j], at: offsets[j], mask: mask))
      }
    }
    return plan.evaluate(k, loaded, lanes: acc.lanes)
  }

  /// The expression as a separate pass over the finished product in the result buffer.
  func emitSweep(_ ctx: LoweringContext) {
    let k = ctx.k
    let outStrides = rowMajorStrides(outShape)
    ctx.forEachIndex(outShape, captures: [ctx.results[0]] + pointers(ctx)) { index, c in
      let at = ctx.flatIndex(index, strides: outStrides)
      let offsets = strides.map { ctx.flatIndex(index, strides: $0) }
      let value = evaluate(
        k, k.load(.f32, from: c[0], at: at), extras: Array(c[1...]), offsets: offsets,
        columnStrides: strides.map { _ in 1 }, mask: nil)
      k.store(value, .f32, to: c[0], at: at)
    }
  }

  // MARK: GEMM epilogues

  /// For a MatMul with output (batch..., M, N) computed as `problem`: batched as the output, or with the
  /// batch folded into its rows (then a row is a flat index over (batch..., M)).
  func matMulEpilogue(_ ctx: LoweringContext, batch: [Int], m: Int, problem: MatMulProblem) -> GemmEpilogue {
    let rank = batch.count
    let folded = problem.batch.isEmpty && !batch.isEmpty
    let rowDims = batch + [m]
    let strides = self.strides
    let columnStrides = strides.map { $0[rank + 1] }
    // A folded row walks an extra contiguously when the extra spans all of (batch..., M) or none of it;
    // otherwise the row is unflattened into (batch..., m) first.
    let contiguousRows = strides.map { s in
      let unit = s[rank]
      return rowDims.indices.allSatisfy { d in rowDims[d] == 1 || s[d] == unit * rowDims[(d + 1)...].reduce(1, *) }
    }
    return GemmEpilogue(extras: pointers(ctx)) { k, acc, batchIndex, row, column, mask, extras in
      let offsets = strides.indices.map { j in
        let s = strides[j]
        let rowOffset: IRValue
        if !folded {
          rowOffset = ctx.flatIndex(batchIndex + [row], strides: Array(s[...rank]))
        } else if contiguousRows[j] {
          rowOffset = ctx.flatIndex([row], strides: [s[rank]])
        } else {
          rowOffset = ctx.flatIndex(unflatten(k, row, rowDims), strides: Array(s[...rank]))
        }
        return rowOffset + ctx.flatIndex([column], strides: [columnStrides[j]])
      }
      return self.evaluate(k, acc, extras: extras, offsets: offsets, columnStrides: columnStrides, mask: mask)
    }
  }

  /// For a Gemm: output (M, N), rows and columns as in the problem.
  func gemmEpilogue(_ ctx: LoweringContext) -> GemmEpilogue {
    let strides = self.strides
    return GemmEpilogue(extras: pointers(ctx)) { k, acc, _, row, column, mask, extras in
      let offsets = strides.map { ctx.flatIndex([row, column], strides: $0) }
      return self.evaluate(k, acc, extras: extras, offsets: offsets, columnStrides: strides.map { $0[1] }, mask: mask)
    }
  }

  /// Per extra operand, the step along a Conv's flat output plane: 1 when it spans every spatial dim, 0
  /// when it spans none; nil when some extra spans only some (the lowering then sweeps).
  var convPixelStrides: [Int]? {
    var steps: [Int] = []
    for s in strides {
      let spatial = Array(s.dropFirst(2))
      let spans = zip(spatial, rowMajorStrides(Array(outShape.dropFirst(2)))).allSatisfy { $0 == $1 }
      if spatial.allSatisfy({ $0 == 0 }) { steps.append(0) } else if spans { steps.append(1) } else { return nil }
    }
    return steps
  }

  /// The extra operands' addresses at image `n`, output channel `firstOut`, position 0.
  func convPointers(_ ctx: LoweringContext, n: IRValue, firstOut: IRValue) -> [IRValue] {
    let k = ctx.k
    return zip(operands, strides).map { operand, s in
      k.elementAddress(ctx.operand(operand), type: k.type(.f32), index: ctx.flatIndex([n, firstOut], strides: [s[0], s[1]]))
    }
  }

  /// For one image and group of a Conv GEMM: rows are the group's output channels, columns the positions
  /// of the output plane (`pixelStrides` from `convPixelStrides`); `pointers` from `convPointers`.
  func convEpilogue(pointers: [IRValue], pixelStrides: [Int]) -> GemmEpilogue {
    let channelStrides = strides.map { $0[1] }
    return GemmEpilogue(extras: pointers) { k, acc, _, row, column, mask, extras in
      let offsets = channelStrides.indices.map { j in
        row * k.i64(Int64(channelStrides[j])) + column * k.i64(Int64(pixelStrides[j]))
      }
      return self.evaluate(k, acc, extras: extras, offsets: offsets, columnStrides: pixelStrides, mask: mask)
    }
  }
}

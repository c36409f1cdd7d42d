import CLLVM
import SSMCIR

/// The per-element formulas of BitwiseAnd/Or/Xor/Not and BitShift, merged into `elementwiseFormulas`.
/// A u8 lives zero-extended in an i32 register, so results that could set bits above the low byte (Not, a
/// left shift) are masked back to it: the value stays what a u8 holds, also inside fused expressions.
let bitwiseFormulas: [String: Formula] = [
  "BitwiseAnd": { k, v, _ in k.and(v[0], v[1]) },
  "BitwiseOr": { k, v, _ in k.or(v[0], v[1]) },
  "BitwiseXor": { k, v, _ in k.xor(v[0], v[1]) },
  "BitwiseNot": { k, v, op in
    isU8(op) ? k.xor(v[0], k.constant(bits: 0xFF, v[0].type)) : k.not(v[0])
  },
  "BitShift": { k, v, op in
    let (x, y) = (v[0], v[1])
    let element = (try? op.type(0).element) ?? .i64
    let width = Int64(element.byteSize * 8)
    // A shift by a negative amount or by the width or more gives what the sign fill alone gives (BitShift-28):
    // -1 for a right shift of a negative signed X, else 0. LLVM's shifts are poison there, so shift by 0.
    let valid = k.and(k.compare(.ge, y, k.constant(bits: 0, y.type)), k.compare(.lt, y, k.constant(bits: width, y.type)))
    let amount = k.select(valid, y, k.constant(bits: 0, y.type))
    let zero = k.constant(bits: 0, x.type)
    if (try? op.string("direction")) == "LEFT" {
      var shifted = IRValue(LLVMBuildShl(k.builder, x.ref, amount.ref, "")!, k)
      if isU8(op) { shifted = k.and(shifted, k.constant(bits: 0xFF, x.type)) }
      return k.select(valid, shifted, zero)
    }
    // Signed types shift arithmetically; a u8 is zero-extended, so the arithmetic shift is the logical one.
    let shifted = IRValue(LLVMBuildAShr(k.builder, x.ref, amount.ref, "")!, k)
    let fill = k.select(k.compare(.lt, x, zero), k.constant(bits: -1, x.type), zero)
    return k.select(valid, shifted, fill)
  },
]

private func isU8(_ op: OpContext) -> Bool { (try? op.type(0).element) == .u8 }

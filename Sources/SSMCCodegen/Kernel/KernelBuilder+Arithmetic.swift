import CLLVM

// Arithmetic reads as formulas: operators pick the float or integer instruction from the operand type,
// and a Swift number next to an IRValue becomes a constant of that value's type (splatted for vectors).

extension IRValue {
  public static func + (a: IRValue, b: IRValue) -> IRValue { a.builder.binary(a, b, LLVMBuildFAdd, LLVMBuildAdd) }
  public static func - (a: IRValue, b: IRValue) -> IRValue { a.builder.binary(a, b, LLVMBuildFSub, LLVMBuildSub) }
  public static func * (a: IRValue, b: IRValue) -> IRValue { a.builder.binary(a, b, LLVMBuildFMul, LLVMBuildMul) }
  /// Float division, or signed integer division (rounding toward zero).
  public static func / (a: IRValue, b: IRValue) -> IRValue { a.builder.binary(a, b, LLVMBuildFDiv, LLVMBuildSDiv) }
  /// Float remainder (fmod semantics) or signed integer remainder.
  public static func % (a: IRValue, b: IRValue) -> IRValue { a.builder.binary(a, b, LLVMBuildFRem, LLVMBuildSRem) }
  public static prefix func - (a: IRValue) -> IRValue {
    a.isFloat ? IRValue(LLVMBuildFNeg(a.builder.builder, a.ref, "")!, a.builder) : a.builder.constant(0, a.type) - a
  }

  public static func + (a: IRValue, b: Double) -> IRValue { a + a.builder.constant(b, a.type) }
  public static func - (a: IRValue, b: Double) -> IRValue { a - a.builder.constant(b, a.type) }
  public static func * (a: IRValue, b: Double) -> IRValue { a * a.builder.constant(b, a.type) }
  public static func / (a: IRValue, b: Double) -> IRValue { a / a.builder.constant(b, a.type) }
  public static func % (a: IRValue, b: Double) -> IRValue { a % a.builder.constant(b, a.type) }
  public static func + (a: Double, b: IRValue) -> IRValue { b.builder.constant(a, b.type) + b }
  public static func - (a: Double, b: IRValue) -> IRValue { b.builder.constant(a, b.type) - b }
  public static func * (a: Double, b: IRValue) -> IRValue { b.builder.constant(a, b.type) * b }
  public static func / (a: Double, b: IRValue) -> IRValue { b.builder.constant(a, b.type) / b }
}

/// A comparison; on floats `ne` is true when either side is NaN, the others are false then.
public enum Comparison: Sendable {
  case lt, le, gt, ge, eq, ne
}

extension KernelBuilder {
  typealias Build = (LLVMBuilderRef?, LLVMValueRef?, LLVMValueRef?, UnsafePointer<CChar>?) -> LLVMValueRef?

  func binary(_ a: IRValue, _ b: IRValue, _ float: Build, _ integer: Build) -> IRValue {
    IRValue((a.isFloat ? float : integer)(builder, a.ref, b.ref, "")!, self)
  }

  /// `a <op> b` as `i1` (or a vector of `i1`); signed for integers.
  public func compare(_ op: Comparison, _ a: IRValue, _ b: IRValue) -> IRValue {
    if a.isFloat {
      let predicate: LLVMRealPredicate =
        switch op {
        case .lt: LLVMRealOLT
        case .le: LLVMRealOLE
        case .gt: LLVMRealOGT
        case .ge: LLVMRealOGE
        case .eq: LLVMRealOEQ
        case .ne: LLVMRealUNE
        }
      return IRValue(LLVMBuildFCmp(builder, predicate, a.ref, b.ref, "")!, self)
    }
    let predicate: LLVMIntPredicate =
      switch op {
      case .lt: LLVMIntSLT
      case .le: LLVMIntSLE
      case .gt: LLVMIntSGT
      case .ge: LLVMIntSGE
      case .eq: LLVMIntEQ
      case .ne: LLVMIntNE
      }
    return IRValue(LLVMBuildICmp(builder, predicate, a.ref, b.ref, "")!, self)
  }

  public func compare(_ op: Comparison, _ a: IRValue, _ b: Double) -> IRValue { compare(op, a, constant(b, a.type)) }

  /// True in the lanes where `a` is NaN.
  public func isNaN(_ a: IRValue) -> IRValue { IRValue(LLVMBuildFCmp(builder, LLVMRealUNO, a.ref, a.ref, "")!, self) }

  /// `condition ? a : b`, lane-wise for vectors.
  public func select(_ condition: IRValue, _ a: IRValue, _ b: IRValue) -> IRValue {
    IRValue(LLVMBuildSelect(builder, condition.ref, a.ref, b.ref, "")!, self)
  }

  public func and(_ a: IRValue, _ b: IRValue) -> IRValue { IRValue(LLVMBuildAnd(builder, a.ref, b.ref, "")!, self) }
  public func or(_ a: IRValue, _ b: IRValue) -> IRValue { IRValue(LLVMBuildOr(builder, a.ref, b.ref, "")!, self) }
  public func xor(_ a: IRValue, _ b: IRValue) -> IRValue { IRValue(LLVMBuildXor(builder, a.ref, b.ref, "")!, self) }
  public func not(_ a: IRValue) -> IRValue { IRValue(LLVMBuildNot(builder, a.ref, "")!, self) }
  public func shiftLeft(_ a: IRValue, _ bits: Int64) -> IRValue {
    IRValue(LLVMBuildShl(builder, a.ref, constant(bits: bits, a.type).ref, "")!, self)
  }
  /// Arithmetic (sign-propagating) right shift.
  public func shiftRight(_ a: IRValue, _ bits: Int64) -> IRValue {
    IRValue(LLVMBuildAShr(builder, a.ref, constant(bits: bits, a.type).ref, "")!, self)
  }

  // MARK: Intrinsic math

  /// `a * b + c` with one rounding (`llvm.fma`); a library call on targets without FMA.
  public func fma(_ a: IRValue, _ b: IRValue, _ c: IRValue) -> IRValue { intrinsic("llvm.fma", overloads: [a.type], [a, b, c]) }

  /// `a * b + c`, fused only where the target has FMA (`llvm.fmuladd`); never a library call.
  public func mulAdd(_ a: IRValue, _ b: IRValue, _ c: IRValue) -> IRValue {
    intrinsic("llvm.fmuladd", overloads: [a.type], [a, b, c])
  }

  /// Float maximum ignoring a NaN operand (`llvm.maxnum`), or signed integer maximum.
  public func max(_ a: IRValue, _ b: IRValue) -> IRValue {
    intrinsic(a.isFloat ? "llvm.maxnum" : "llvm.smax", overloads: [a.type], [a, b])
  }

  /// Float minimum ignoring a NaN operand (`llvm.minnum`), or signed integer minimum.
  public func min(_ a: IRValue, _ b: IRValue) -> IRValue {
    intrinsic(a.isFloat ? "llvm.minnum" : "llvm.smin", overloads: [a.type], [a, b])
  }

  public func sqrt(_ a: IRValue) -> IRValue { intrinsic("llvm.sqrt", overloads: [a.type], [a]) }

  /// Absolute value (float or integer).
  public func abs(_ a: IRValue) -> IRValue {
    a.isFloat ? intrinsic("llvm.fabs", overloads: [a.type], [a]) : intrinsic("llvm.abs", overloads: [a.type], [a, bool(false)])
  }

  /// Copies the sign of `sign` onto `magnitude`.
  public func copySign(_ magnitude: IRValue, _ sign: IRValue) -> IRValue {
    intrinsic("llvm.copysign", overloads: [magnitude.type], [magnitude, sign])
  }

  // MARK: Conversions

  /// Converts to `target` keeping the lane count: int<->float (signed), widening/narrowing of either kind,
  /// and `i1` to and from numbers (nonzero is true). To `u8`, integers wrap modulo 256 (as numpy's astype)
  /// and the result is kept zero-extended in its `i32` register.
  public func convert(_ value: IRValue, to target: ScalarType) -> IRValue {
    if target == .u8 {
      let wide = convert(value, to: .i32)
      return LLVMGetIntTypeWidth(value.scalarType) == 1 ? wide : and(wide, constant(bits: 0xFF, wide.type))
    }
    let to = type(target, lanes: value.lanes)
    if LLVMTypeOf(value.ref) == to { return value }
    let b = builder
    let fromFloat = value.isFloat
    if target == .i1 {
      return compare(.ne, value, constant(0, value.type))
    }
    let ref: LLVMValueRef
    if fromFloat && target.isFloat {
      ref = LLVMBuildFPCast(b, value.ref, to, "")
    } else if fromFloat {
      ref = LLVMBuildFPToSI(b, value.ref, to, "")
    } else if target.isFloat {
      ref = LLVMGetIntTypeWidth(value.scalarType) == 1
        ? LLVMBuildUIToFP(b, value.ref, to, "") : LLVMBuildSIToFP(b, value.ref, to, "")
    } else {
      let unsigned = LLVMGetIntTypeWidth(value.scalarType) == 1
      ref = LLVMBuildIntCast2(b, value.ref, to, unsigned ? 0 : 1, "")
    }
    return IRValue(ref, self)
  }

  /// Reinterprets the bits of `value` as `type` (same size).
  public func bitcast(_ value: IRValue, to type: LLVMTypeRef) -> IRValue {
    IRValue(LLVMBuildBitCast(builder, value.ref, type, "")!, self)
  }

  /// The integer type with the same lanes and width as float type `type` (`float` -> `i32`).
  public func integerType(matching type: LLVMTypeRef) -> LLVMTypeRef {
    let isVector = LLVMGetTypeKind(type) == LLVMVectorTypeKind
    let scalar = isVector ? LLVMGetElementType(type)! : type
    let bits = LLVMGetTypeKind(scalar) == LLVMDoubleTypeKind ? llvm.i64 : llvm.i32
    return isVector ? llvm.vector(bits, lanes: Int(LLVMGetVectorSize(type))) : bits
  }
}

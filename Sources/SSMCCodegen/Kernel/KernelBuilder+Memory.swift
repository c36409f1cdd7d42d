import CLLVM

// Loads and stores address `base + index * elementSize`: tensors are flat arrays and kernels compute
// flat indices with integer arithmetic, so one addressing form serves every layout and stride.

extension KernelBuilder {
  /// The address of element `index` (an `i64`) of type `type` in the array at `base`.
  public func elementAddress(_ base: IRValue, type: LLVMTypeRef, index: IRValue) -> IRValue {
    var indices = [Optional(index.ref)]
    return IRValue(LLVMBuildInBoundsGEP2(builder, type, base.ref, &indices, 1, "")!, self)
  }

  /// The address `base + bytes`, e.g. a buffer inside the scratch memory.
  public func byteOffset(_ base: IRValue, _ bytes: IRValue) -> IRValue {
    elementAddress(base, type: llvm.i8, index: bytes)
  }

  private func memoryType(_ scalar: ScalarType, lanes: Int) -> LLVMTypeRef {
    type(scalar == .i1 || scalar == .u8 ? .i8 : scalar, lanes: lanes)
  }

  /// Loads element `index` of a `scalar` array (an `i1` from a byte: nonzero is true; a `u8` zero-extended).
  public func load(_ scalar: ScalarType, from base: IRValue, at index: IRValue) -> IRValue {
    loadVector(scalar, lanes: 1, from: base, at: index)
  }

  /// Stores `value` as element `index` of a `scalar` array (`i1` as a 0/1 byte, `u8` as its low byte).
  public func store(_ value: IRValue, _ scalar: ScalarType, to base: IRValue, at index: IRValue) {
    storeVector(value, scalar, to: base, at: index)
  }

  /// Loads `lanes` consecutive elements starting at element `index` (aligned to the element only).
  /// With `mask` (a `<lanes x i1>`), only lanes whose mask bit is set are read; the others are zero.
  public func loadVector(
    _ scalar: ScalarType, lanes: Int, from base: IRValue, at index: IRValue, mask: IRValue? = nil
  ) -> IRValue {
    let memory = memoryType(scalar, lanes: lanes)
    let address = elementAddress(base, type: memoryType(scalar, lanes: 1), index: index)
    var value: IRValue
    if let mask {
      let align = i32(Int32(scalar.byteSize))
      value = intrinsic(
        "llvm.masked.load", overloads: [memory, llvm.ptr], [address, align, mask, constant(0, memory)])
    } else {
      let load = LLVMBuildLoad2(builder, memory, address.ref, "")!
      LLVMSetAlignment(load, UInt32(scalar.byteSize))
      value = IRValue(load, self)
    }
    if scalar == .i1 { value = compare(.ne, value, constant(0, memory)) }
    if scalar == .u8 { value = IRValue(LLVMBuildZExt(builder, value.ref, type(.u8, lanes: lanes), "")!, self) }
    return value
  }

  /// Stores the lanes of `value` to consecutive elements from element `index`; with `mask`, only set lanes.
  public func storeVector(_ value: IRValue, _ scalar: ScalarType, to base: IRValue, at index: IRValue, mask: IRValue? = nil) {
    let memory = memoryType(scalar, lanes: value.lanes)
    let address = elementAddress(base, type: memoryType(scalar, lanes: 1), index: index)
    let stored =
      switch scalar {
      case .i1: IRValue(LLVMBuildZExt(builder, value.ref, memory, "")!, self)
      case .u8: IRValue(LLVMBuildTrunc(builder, value.ref, memory, "")!, self)
      default: value
      }
    if let mask {
      _ = intrinsic(
        "llvm.masked.store", overloads: [memory, llvm.ptr], [stored, address, i32(Int32(scalar.byteSize)), mask])
    } else {
      let store = LLVMBuildStore(builder, stored.ref, address.ref)!
      LLVMSetAlignment(store, UInt32(scalar.byteSize))
    }
  }

  // MARK: Vectors

  /// A vector with every lane equal to scalar `value`.
  public func splat(_ value: IRValue, lanes: Int) -> IRValue {
    let vectorType = llvm.vector(value.type, lanes: lanes)
    let inserted = LLVMBuildInsertElement(builder, LLVMGetPoison(vectorType), value.ref, i32(0).ref, "")
    let zeros = LLVMConstNull(llvm.vector(llvm.i32, lanes: lanes))
    return IRValue(LLVMBuildShuffleVector(builder, inserted, LLVMGetPoison(vectorType), zeros, "")!, self)
  }

  /// `<0, 1, ..., lanes-1>` of integer type `scalar`.
  public func laneIndices(_ scalar: ScalarType = .i64, lanes: Int) -> IRValue {
    var values = (0..<lanes).map { Optional(constant(bits: Int64($0), type(scalar)).ref) }
    return IRValue(LLVMConstVector(&values, UInt32(lanes)), self)
  }

  /// The mask whose first `count` lanes are set (`count` an `i64`, clamped by the comparison).
  public func prefixMask(count: IRValue, lanes: Int) -> IRValue {
    compare(.lt, laneIndices(lanes: lanes), splat(count, lanes: lanes))
  }

  public func extractLane(_ vector: IRValue, _ lane: Int) -> IRValue {
    IRValue(LLVMBuildExtractElement(builder, vector.ref, i32(Int32(lane)).ref, "")!, self)
  }

  public func insertLane(_ vector: IRValue, _ value: IRValue, _ lane: Int) -> IRValue {
    IRValue(LLVMBuildInsertElement(builder, vector.ref, value.ref, i32(Int32(lane)).ref, "")!, self)
  }

  /// The sum of the lanes. Float sums may be reassociated (a tree sum), which is what makes them fast.
  public func reduceAdd(_ vector: IRValue) -> IRValue {
    guard vector.isFloat else { return intrinsic("llvm.vector.reduce.add", overloads: [vector.type], [vector]) }
    let result = intrinsic(
      "llvm.vector.reduce.fadd", overloads: [vector.type], [constant(-0.0, vector.scalarType), vector])
    LLVMSetFastMathFlags(result.ref, LLVMFastMathFlags(LLVMFastMathAllowReassoc))
    return result
  }

  /// The largest lane (NaN lanes are ignored for floats, as `llvm.maxnum`).
  public func reduceMax(_ vector: IRValue) -> IRValue {
    intrinsic(vector.isFloat ? "llvm.vector.reduce.fmax" : "llvm.vector.reduce.smax", overloads: [vector.type], [vector])
  }

  /// The smallest lane (NaN lanes are ignored for floats, as `llvm.minnum`).
  public func reduceMin(_ vector: IRValue) -> IRValue {
    intrinsic(vector.isFloat ? "llvm.vector.reduce.fmin" : "llvm.vector.reduce.smin", overloads: [vector.type], [vector])
  }
}

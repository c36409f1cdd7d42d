import CLLVM
import SSMCIR

/// Shape-math sources (Shape, Size, Range, ConstantOfShape, NonZero). Their results depend only on static
/// types or on constant operands, so constant folding normally removes them; when it did not run (e.g.
/// `--passes` without it), the lowering evaluates the op's own folder at compile time and copies the
/// result from read-only data.
let shapeLowerings: [String: Lowering] = [
  "Shape": runtimeOr(lowerRuntimeShape, writeFolded), "Size": runtimeOr(lowerRuntimeSize, writeFolded),
  "Range": runtimeOr(lowerRuntimeRange, writeFolded), "ConstantOfShape": runtimeOr(lowerRuntimeConstantOfShape, writeFolded),
  "NonZero": writeFolded,
]

let writeFolded: Lowering = { ctx in
  let op = ctx.op
  guard let fold = op.schema.fold else { throw ctx.error("has no compile-time evaluator") }
  let values: [TensorData]
  do {
    values = try fold(op)
  } catch {
    throw ctx.error("its result must be known at compile time: \(error)")
  }
  for (result, data) in zip(ctx.results, values) {
    ctx.k.memcpy(to: result, from: constantBytes(ctx.k, data.bytes), bytes: data.bytes.count)
  }
}

/// A private read-only global holding `bytes`.
func constantBytes(_ k: KernelBuilder, _ bytes: [UInt8]) -> IRValue {
  let module = k.llvm
  let initializer = bytes.withUnsafeBufferPointer { buffer in
    buffer.withMemoryRebound(to: CChar.self) { chars in
      LLVMConstStringInContext(module.context, chars.baseAddress, UInt32(bytes.count), 1)!
    }
  }
  let global = LLVMAddGlobal(module.module, LLVMTypeOf(initializer), k.uniqueName("folded"))!
  LLVMSetInitializer(global, initializer)
  LLVMSetGlobalConstant(global, 1)
  LLVMSetLinkage(global, LLVMPrivateLinkage)
  LLVMSetUnnamedAddress(global, LLVMGlobalUnnamedAddr)
  LLVMSetAlignment(global, 16)
  return IRValue(global, k)
}

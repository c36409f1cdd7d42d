/// Turns a finished kernel module into a model library: compiles it, adds the C glue, links the `.so`.
public enum SharedLibraryBuilder {
  /// Optimizes `module` for `target`, emits its object and links it with the glue for `signature` into
  /// `path` (atomically). Returns the header text, which the caller writes where it wants it.
  @discardableResult
  public static func build(
    module: LLVMModule, signature: ModelSignature, target: TargetMachine, to path: String,
    linker: SharedLibraryLinker = SharedLibraryLinker()
  ) throws(CodegenError) -> String {
    try signature.validate()
    guard module.function(named: signature.kernelSymbol) != nil else {
      throw CodegenError(.invalidModule, "the module has no kernel function '\(signature.kernelSymbol)'")
    }
    try target.compile(module)
    let object = try target.emit(module, as: .object)
    let header = HeaderGenerator.header(for: signature)
    try linker.link(
      objects: [object],
      cSources: [.init(fileName: "\(signature.name)_glue.c", text: GlueGenerator.source(for: signature))],
      headers: [.init(fileName: "\(signature.name).h", text: header)],
      to: path)
    return header
  }
}

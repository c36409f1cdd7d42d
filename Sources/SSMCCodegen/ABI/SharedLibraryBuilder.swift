/// Turns a finished kernel module into a model library: compiles it, adds the C glue, links the `.so`.
public enum SharedLibraryBuilder {
  /// Optimizes `module` for `target`, emits its object and links it with the glue for `library` into
  /// `path` (atomically). Returns the header text, which the caller writes where it wants it.
  @discardableResult
  public static func build(
    module: LLVMModule, library: LibrarySignature, target: TargetMachine, to path: String,
    linker: SharedLibraryLinker = SharedLibraryLinker()
  ) throws(CodegenError) -> String {
    try library.validate()
    for variant in library.variants where module.function(named: variant.kernelSymbol) == nil {
      throw CodegenError(.invalidModule, "the module has no kernel function '\(variant.kernelSymbol)'")
    }
    try target.compile(module)
    let object = try target.emit(module, as: .object)
    let header = HeaderGenerator.header(for: library)
    try linker.link(
      objects: [object],
      cSources: [.init(fileName: "\(library.name)_glue.c", text: GlueGenerator.source(for: library))],
      headers: [.init(fileName: "\(library.name).h", text: header)],
      to: path)
    return header
  }

  /// `build` for a library of one shape.
  @discardableResult
  public static func build(
    module: LLVMModule, signature: ModelSignature, target: TargetMachine, to path: String,
    linker: SharedLibraryLinker = SharedLibraryLinker()
  ) throws(CodegenError) -> String {
    try build(module: module, library: try LibrarySignature([signature]), target: target, to: path, linker: linker)
  }
}

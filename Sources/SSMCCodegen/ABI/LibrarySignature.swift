/// The C interface of one library: one model compiled for one or more shapes of its inputs (shape
/// variants). The library's `run` picks the variant whose input shapes match the caller's tensors.
///
/// Every variant has the same inputs and outputs (names, element types, ranks, batch axes); only extents
/// differ. The metadata reports -1 for a dim that differs between variants, as for the run-time batch.
public struct LibrarySignature: Sendable, Equatable {
  public let variants: [ModelSignature]

  /// Checks that the variants describe one interface, naming the first difference otherwise.
  public init(_ variants: [ModelSignature]) throws(CodegenError) {
    guard let first = variants.first else { throw CodegenError(.invalidModule, "a library needs at least one compiled shape") }
    for (index, variant) in variants.enumerated().dropFirst() {
      func differ(_ what: String) -> CodegenError {
        CodegenError(.invalidModule, "shape variant \(index) does not fit variant 0: \(what)")
      }
      guard variant.name == first.name else { throw differ("model name '\(variant.name)' is not '\(first.name)'") }
      guard variant.runtimeSymbols == first.runtimeSymbols else {
        func given(_ v: ModelSignature) -> String {
          v.runtimeSymbols.isEmpty ? (v.hasRuntimeBatch ? "only a batch (run sample by sample)" : "nothing") : v.runtimeSymbols.joined(separator: ", ")
        }
        throw differ("variant 0 leaves \(given(first)) to run time, this one \(given(variant)); leave the same dims symbolic in every variant")
      }
      for (role, mine, theirs) in [("input", variant.inputs, first.inputs), ("output", variant.outputs, first.outputs)] {
        guard mine.count == theirs.count else { throw differ("\(mine.count) \(role)s instead of \(theirs.count)") }
        for (i, (a, b)) in zip(mine, theirs).enumerated() {
          guard a.name == b.name, a.elementType == b.elementType, a.dims.count == b.dims.count else {
            throw differ("\(role) \(i) is '\(a.name)' of type \(a.elementType) and rank \(a.dims.count), not '\(b.name)' of type \(b.elementType) and rank \(b.dims.count)")
          }
          guard a.sampleAxis == b.sampleAxis else {
            throw differ("\(role) \(i) '\(a.name)' has its run-time batch on axis \(a.sampleAxis.map(String.init) ?? "none"), not \(b.sampleAxis.map(String.init) ?? "none")")
          }
        }
      }
      guard variant.profiledNodes.isEmpty else { throw differ("profiling covers a library of one shape only") }
      if let twin = variants[..<index].firstIndex(where: { $0.inputs.map(\.dims) == variant.inputs.map(\.dims) }) {
        throw differ("its input shapes are those of variant \(twin)")
      }
    }
    self.variants = variants
  }

  public var name: String { variants[0].name }
  /// The inputs as the metadata reports them (see `reportedDims`).
  public var inputs: [TensorSignature] { merged(variants.map(\.inputs)) }
  public var outputs: [TensorSignature] { merged(variants.map(\.outputs)) }
  public var hasRuntimeBatch: Bool { variants[0].hasRuntimeBatch }
  public var hasShapeVariants: Bool { variants.count > 1 }
  /// Scratch bytes of the largest variant: a context serves them all.
  public var scratchBytes: Int { variants.map(\.scratchBytes).max()! }
  public var profiledNodes: [ProfiledNode] { variants[0].profiledNodes }

  public func validate() throws(CodegenError) {
    for variant in variants { try variant.validate() }
  }

  /// Variant 0's tensors with the axes whose extent differs between variants marked variable.
  private func merged(_ lists: [[TensorSignature]]) -> [TensorSignature] {
    lists[0].indices.map { i in
      var tensor = lists[0][i]
      tensor.variableAxes = tensor.dims.indices.filter { axis in lists.contains { $0[i].dims[axis] != tensor.dims[axis] } }
      return tensor
    }
  }
}

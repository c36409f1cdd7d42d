import CLLVM
import SSMCIR

/// Turns an optimized IR graph into an LLVM module with one kernel entry point, plus the model signature
/// the C ABI is generated from.
///
/// Layout of the generated code: constants become read-only globals; every node becomes an internal
/// function `node.N.OP` taking its operand and result pointers and its workspace (all `noalias`) and the
/// thread pool; the kernel `NAME_kernel(inputs, outputs, scratch, pool, dims)` computes each value's address
/// (graph input, graph output, constant global, or scratch offset from the memory plan) and calls the node
/// functions in order. Node functions are emitted first: their lowerings decide the workspace sizes the
/// memory plan then reserves, so a model of static shapes allocates nothing at run time (values sized by
/// run-time symbols follow the plan, see `ModelCompiler+RuntimeDims.swift`).
public struct ModelCompiler {
  public let graph: Graph
  public let name: String
  public let vectorLanes: Int
  /// Time every node call into the context's per-node counters (see `ModelCompiler+Profile.swift`).
  public let profile: Bool
  /// For a batch given at run time (the graph is one sample): per graph input and output, the axis that
  /// holds the samples, or nil. Empty for a model of fixed shapes.
  public let inputSampleAxes: [Int?]
  public let outputSampleAxes: [Int?]
  /// The target is x86-64 with AVX-512F (kernels may use its intrinsics).
  public let x86AVX512: Bool
  /// The index of this graph among the shape variants of one library (nil for a library of one shape):
  /// it names the variant's kernel and functions apart from the others' in the shared module.
  public let variant: Int?
  /// Symbolic input dims left for run time (see `ModelCompiler+RuntimeDims.swift`); empty for static graphs.
  public let symbols: RuntimeSymbols

  public init(
    graph: Graph, name: String, vectorLanes: Int = 16, profile: Bool = false, inputSampleAxes: [Int?] = [],
    outputSampleAxes: [Int?] = [], x86AVX512: Bool = false, variant: Int? = nil
  ) {
    self.graph = graph
    self.name = name
    self.vectorLanes = vectorLanes
    self.profile = profile
    self.inputSampleAxes = inputSampleAxes
    self.outputSampleAxes = outputSampleAxes
    self.x86AVX512 = x86AVX512
    self.variant = variant
    var names: [String] = []
    for id in graph.inputs {
      for case .symbol(let name) in graph.type(of: id)?.dims ?? [] where !names.contains(name) { names.append(name) }
    }
    self.symbols = RuntimeSymbols(names)
  }

  public var kernelSymbol: String { variant.map { "\(name)_kernel_v\($0)" } ?? "\(name)_kernel" }
  /// Prefix of the variant's internal symbols.
  private var internalPrefix: String { variant.map { "v\($0)." } ?? "" }

  /// Every reason the graph cannot be compiled, all at once: symbolic shapes the kernels cannot take at run
  /// time, ops without lowering, element types the ABI cannot carry.
  public func check() throws(Diagnostics) {
    var problems: [Diagnostic] = []
    for (i, value) in graph.values.enumerated() where isUsed(ValueID(i)) {
      if value.type == nil {
        problems.append(Diagnostic(.unknownShape, "value '\(value.name)' has no type after shape inference"))
      }
    }
    problems += runtimeDimProblems()
    for node in graph.nodes where Lowerings.table[node.op] == nil {
      problems.append(Diagnostic(.unsupportedOp, "no code generation for this op yet", at: Location(node: node.name, opType: node.op)))
    }
    for (role, ids) in [("input", graph.inputs), ("output", graph.outputs.map(\.value))] {
      for id in ids {
        if let element = graph.type(of: id)?.element, ModelSignature.elementSizes[element.rawValue] == nil {
          problems.append(Diagnostic(.unsupportedFeature, "graph \(role) '\(graph[id].name)' has element type \(element), which the C ABI does not carry"))
        }
      }
    }
    if !problems.isEmpty { throw Diagnostics(Array(problems.prefix(50))) }
  }

  private func isUsed(_ id: ValueID) -> Bool {
    graph.inputs.contains(id) || graph.constants[id] != nil || graph.nodes.contains { $0.results.contains(id) }
  }

  /// The model's C interface with the given scratch size; `emit(into:)` returns it with the real one (the
  /// scratch size is known only once every node is lowered). Enough as it is for the header.
  public func signature(scratchBytes: Int = 0) -> ModelSignature {
    func tensor(_ name: String, _ id: ValueID, _ axes: [Int?], _ index: Int) -> TensorSignature {
      let type = graph.type(of: id)!
      var tensor = TensorSignature(
        name: name, elementType: type.element.rawValue, dims: type.dims.map { Int64($0.value ?? -1) },
        sampleAxis: index < axes.count ? axes[index] : nil)
      tensor.dimSymbols = type.dims.map { d in if case .symbol(let s) = d { symbols.index(of: s) } else { nil } }
      return tensor
    }
    var signature = ModelSignature(
      name: name, inputs: graph.inputs.enumerated().map { tensor(graph[$1].name, $1, inputSampleAxes, $0) },
      outputs: graph.outputs.enumerated().map { tensor($1.name, $1.value, outputSampleAxes, $0) }, scratchBytes: scratchBytes,
      kernelSymbol: kernelSymbol,
      profiledNodes: profile ? profiledNodes : [])
    signature.runtimeSymbols = symbols.names
    signature.runtimeChecks = symbols.isEmpty ? [] : runtimeChecks.map(\.text)
    return signature
  }

  var outputValues: Set<ValueID> { Set(graph.outputs.map(\.value)) }

  func plan(workspaceBytes: [Int], views: ViewPlan) -> MemoryPlan {
    // A value returned as an output lives in the caller's buffer, unless it must also be copied to a second
    // output or is an input/constant (then the kernel copies it).
    let outputs = outputValues
    return MemoryPlan(
      graph, byteSize: byteSize, isExternal: { outputs.contains($0) || isRuntimeSized($0) }, workspaceBytes: workspaceBytes,
      views: views)
  }

  /// Results that are views of their operand (never graph outputs, which live in the caller's buffers).
  var views: ViewPlan {
    let outputs = outputValues
    return ViewPlan(graph, isExternal: { outputs.contains($0) })
  }

  /// Bytes of a value of static type.
  func byteSize(_ id: ValueID) -> Int {
    let type = graph.type(of: id)!
    return type.elementCount! * type.element.byteSize
  }

  /// Builds the module and returns the model's signature (with the scratch size of its memory plan).
  /// Call `check()` first.
  @discardableResult
  public func emit(into module: LLVMModule) throws(CodegenError) -> ModelSignature {
    let k = KernelBuilder(module: module)
    var globals: [ValueID: LLVMValueRef] = [:]
    for (id, data) in graph.constants.sorted(by: { $0.key < $1.key }) {
      globals[id] = module.addConstantData(name: "const.\(id.index)", bytes: data.bytes)
    }
    // One function per node, defined before the kernel that calls them.
    // View nodes get no function: their results are addresses into their operand.
    let views = self.views
    var nodeFunctions: [(function: LLVMValueRef, type: LLVMTypeRef, workspaceBytes: Int)?] = []
    for (index, node) in graph.nodes.enumerated() {
      var strided: [Int: [Int]] = [:]
      for (i, operand) in node.operands.enumerated() { if let operand, let strides = views.strides[operand] { strided[i] = strides } }
      nodeFunctions.append(views.isView(node) ? nil : try emitNodeFunction(node, index: index, k: k, stridedOperands: strided))
    }
    let plan = self.plan(workspaceBytes: nodeFunctions.map { $0?.workspaceBytes ?? 0 }, views: views)
    let firstOutput = Dictionary(graph.outputs.enumerated().map { ($0.element.value, $0.offset) }, uniquingKeysWith: { a, _ in a })
    let kernel = k.defineKernel(kernelSymbol, profiling: profile) { p in
      var address: [ValueID: IRValue] = [:]
      for (i, id) in graph.inputs.enumerated() { address[id] = p.input(i) }
      for (id, global) in globals { address[id] = IRValue(global, k) }
      for (id, offset) in plan.offsets { address[id] = k.byteOffset(p.scratch, k.i64(Int64(offset))) }
      for (id, index) in firstOutput where address[id] == nil { address[id] = p.output(index) }
      // Values of run-time size follow the planned ones (`ssmc_scratch` sized the scratch for them).
      for (id, offset) in runtimeLayout(k, after: plan.scratchBytes, dims: p.dims).offsets where address[id] == nil {
        address[id] = k.byteOffset(p.scratch, offset)
      }
      for (index, node) in graph.nodes.enumerated() {
        guard let (function, type, _) = nodeFunctions[index] else {
          for result in node.results {
            let view = views.root(of: result)
            address[result] = k.byteOffset(address[view.value]!, k.i64(Int64(view.byteOffset)))
          }
          if let counters = p.profile { timed(node: index, counters: counters, k) {} }
          continue
        }
        let workspace = plan.workspaceOffsets[index].map { k.byteOffset(p.scratch, k.i64(Int64($0))) }
          ?? IRValue(LLVMConstPointerNull(k.llvm.ptr), k)
        let args = node.operands.compactMap { $0.map { address[$0]! } } + node.results.map { address[$0]! } + [workspace, p.pool, p.dims]
        if let counters = p.profile {
          timed(node: index, counters: counters, k) { k.call(function, type: type, args) }
        } else {
          k.call(function, type: type, args)
        }
      }
      // Outputs that are graph inputs or constants, or repeat an earlier output, are copied.
      for (index, output) in graph.outputs.enumerated() {
        let source = address[output.value]!
        let isOwnBuffer = firstOutput[output.value] == index && graph.nodes.contains { $0.results.contains(output.value) }
        if !isOwnBuffer {
          k.memcpy(to: p.output(index), from: source, bytes: runtimeByteSize(output.value, k, dims: p.dims))
        }
      }
    }
    // Only the glue in the same library calls the kernel; it is not part of the ABI.
    LLVMSetVisibility(kernel, LLVMHiddenVisibility)
    if !symbols.isEmpty { emitShapesFunction(k, plannedBytes: plan.scratchBytes) }
    return signature(scratchBytes: plan.scratchBytes)
  }

  private func emitNodeFunction(
    _ node: Node, index: Int, k: KernelBuilder, stridedOperands: [Int: [Int]]
  ) throws(CodegenError) -> (function: LLVMValueRef, type: LLVMTypeRef, workspaceBytes: Int) {
    guard let lowering = Lowerings.table[node.op] else {
      throw CodegenError(.invalidModule, "no lowering for \(node.op)")
    }
    let ptr = k.llvm.ptr
    let present = node.operands.compactMap { $0 }
    let params = present.indices.map { LLVMModule.Parameter("in\($0)", ptr, noalias: true) }
      + node.results.indices.map { LLVMModule.Parameter("out\($0)", ptr, noalias: true) }
      + [.init("workspace", ptr, noalias: true), .init("pool", ptr), .init("dims", ptr, noalias: true)]
    let symbol = "\(internalPrefix)node.\(index).\(node.op)"
    var failure: CodegenError?
    var workspaceBytes = 0
    let function = k.defineFunction(symbol, returns: k.llvm.void, params: params, linkage: LLVMInternalLinkage) { p in
      var operands: [IRValue?] = []
      var next = 0
      for operand in node.operands {
        if operand == nil {
          operands.append(nil)
        } else {
          operands.append(p[next])
          next += 1
        }
      }
      let results = Array(p[present.count..<(present.count + node.results.count)])
      let arena = WorkspaceArena(base: p[p.count - 3])
      let context = LoweringContext(
        k: k, node: node, graph: graph, operands: operands, results: results, pool: p[p.count - 2], vectorLanes: vectorLanes,
        arena: arena, stridedOperands: stridedOperands, x86AVX512: x86AVX512, symbols: symbols, dims: p.last!)
      defer { workspaceBytes = arena.bytes }
      do {
        try lowering(context)
      } catch let error as CodegenError {
        failure = error
      } catch {
        failure = CodegenError(.invalidModule, "\(node.op) '\(node.name)': \(error)")
      }
    }
    if let failure { throw failure }
    k.llvm.addAttribute("noinline", to: function, index: k.llvm.functionIndex)
    return (function, k.llvm.functionType(returns: k.llvm.void, params: params.map(\.type)), workspaceBytes)
  }
}

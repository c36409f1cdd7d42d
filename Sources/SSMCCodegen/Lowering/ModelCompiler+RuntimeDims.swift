import CLLVM
import SSMCIR

/// Symbolic input dims given at run time (`f32[T,64]` run at any T): values whose types mention them are
/// sized and addressed at run time, after the memory plan's bytes, and the lowerings of the ops that take
/// such types (`Lowerings.runtimeSized`) compute their extents from the symbol values the kernel receives.
extension ModelCompiler {
  /// Whether the value's size is known only at run time.
  func isRuntimeSized(_ id: ValueID) -> Bool { graph.type(of: id).map { !$0.isStatic } ?? false }

  /// Why the graph's symbolic dims cannot be left to run time, if they cannot: an input dim that is an
  /// expression, a dim of a symbol no input gives, or an op whose lowering needs static extents.
  func runtimeDimProblems() -> [Diagnostic] {
    var problems: [Diagnostic] = []
    let known = Set(symbols.names)
    let fix = "fix the symbolic input dims with --input-shape NAME=D1xD2x... (give it several times to serve several shapes)"
    for id in graph.inputs {
      for dim in graph.type(of: id)?.dims ?? [] {
        if case .expr = dim { problems.append(Diagnostic(.unsupportedFeature, "input '\(graph[id].name)' has the computed dim \(dim); \(fix)")) }
      }
    }
    var unsupported: [(node: Node, symbols: Set<String>)] = []
    for node in graph.nodes {
      let types = (node.operands.compactMap { $0 } + node.results).compactMap { graph.type(of: $0) }.filter { !$0.isStatic }
      guard !types.isEmpty else { continue }
      let location = Location(node: node.name, opType: node.op)
      let mentioned = types.reduce(into: Set<String>()) { set, type in for d in type.dims { set.formUnion(d.expression.symbols) } }
      let unknown = mentioned.subtracting(known)
      if !unknown.isEmpty {
        problems.append(Diagnostic(.unsupportedFeature, "its types mention \(unknown.sorted().joined(separator: ", ")), which no input dim gives", at: location))
      } else if !Lowerings.runtimeSized.contains(node.op) {
        unsupported.append((node, mentioned))
      }
    }
    // One problem for all of them: a vision model would list every convolution.
    if let first = unsupported.first {
      var counts: [String: Int] = [:]
      for entry in unsupported { counts[entry.node.op, default: 0] += 1 }
      let ops = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key) x\($0.value)" }.joined(separator: ", ")
      let symbols = unsupported.reduce(into: Set<String>()) { $0.formUnion($1.symbols) }.sorted().joined(separator: ", ")
      problems.append(Diagnostic(
        .unsupportedFeature,
        "\(unsupported.count) node\(unsupported.count == 1 ? "" : "s") cannot take extents given at run time yet (\(ops)), here first, with sizes that depend on \(symbols); \(fix)",
        at: Location(node: first.node.name, opType: first.node.op)))
    }
    return problems
  }

  /// The value's byte size, computed at run time when it depends on symbols.
  func runtimeByteSize(_ id: ValueID, _ k: KernelBuilder, dims: IRValue) -> IRValue {
    let type = graph.type(of: id)!
    if let count = type.elementCount { return k.i64(Int64(count * type.element.byteSize)) }
    let count = Dim.product(type.dims) ?? DimExpr(0)
    return k.evaluate(count, symbols: symbols, dims: dims) * k.i64(Int64(type.element.byteSize))
  }

  /// What the run-time sizes must satisfy for the kernels to read only what is there: shape inference typed a
  /// symbolic dim against a fixed one (a broadcast against a weight, a MatMul's inner dim), which holds only if
  /// the symbol's value is that size (or 1, where it broadcasts).
  struct RuntimeCheck: Equatable {
    var dim: DimExpr
    var size: Int
    var orOne: Bool
    /// `dim >= size` instead of equality (a window's output count must be at least 1).
    var atLeast = false
    /// For the glue's error: the node and the operand.
    var text: String
  }

  var runtimeChecks: [RuntimeCheck] {
    var checks: [RuntimeCheck] = []
    func add(_ dim: Dim, against target: Dim, orOne: Bool, _ what: @autoclosure () -> String) {
      guard dim.value == nil, let size = target.value else { return }
      let check = RuntimeCheck(dim: dim.expression, size: size, orOne: orOne && size != 1, text: what())
      if !checks.contains(where: { $0.dim == check.dim && $0.size == check.size && $0.orOne == check.orOne }) { checks.append(check) }
    }
    func atLeastOne(_ dim: Dim, _ what: @autoclosure () -> String) {
      guard dim.value == nil, !checks.contains(where: { $0.atLeast && $0.dim == dim.expression }) else { return }
      checks.append(RuntimeCheck(dim: dim.expression, size: 1, orOne: false, atLeast: true, text: what()))
    }
    for node in graph.nodes where node.results.contains(where: isRuntimeSized) || node.operands.contains(where: { $0.map(isRuntimeSized) ?? false }) {
      let types = node.operands.map { $0.flatMap { graph.type(of: $0) } }
      guard let result = graph.type(of: node.results[0]) else { continue }
      let name = "\(node.op) '\(node.name)'"
      if ["Conv", "MaxPool", "AveragePool"].contains(node.op) {
        // A window larger than the padded input leaves no output position (the static compile refuses it).
        for axis in 2..<result.rank {
          atLeastOne(result.dims[axis], "\(name): output dim \(axis) (\(result.dims[axis])) must be at least 1; the input is smaller than the window")
        }
      }
      if Lowerings.broadcastsOperands(node.op) {
        // Each operand dim against the result dim it broadcasts to (right-aligned).
        for (i, type) in types.enumerated() {
          guard let type, type.rank <= result.rank else { continue }
          for (axis, dim) in type.dims.enumerated() {
            let target = result.dims[axis + result.rank - type.rank]
            add(dim, against: target, orOne: true, "\(name) operand \(i) dim \(axis) (\(dim)) must be \(target) or 1")
          }
        }
      } else if node.op == "MatMul", let a = types[0], let b = types[1], a.rank >= 2, b.rank >= 2 {
        let (ka, kb) = (a.dims[a.rank - 1], b.dims[b.rank - 2])
        add(ka, against: kb, orOne: false, "\(name): A's inner dim (\(ka)) must be \(kb)")
        add(kb, against: ka, orOne: false, "\(name): B's inner dim (\(kb)) must be \(ka)")
        for (i, type) in [a, b].enumerated() {
          for axis in 0..<(type.rank - 2) {
            let target = result.dims[axis + result.rank - type.rank]
            add(type.dims[axis], against: target, orOne: true, "\(name) operand \(i) batch dim \(axis) (\(type.dims[axis])) must be \(target) or 1")
          }
        }
      }
    }
    return checks
  }

  /// Scratch offsets of the values sized at run time, placed one after another behind the `planned` bytes
  /// (no reuse between them yet), and the scratch bytes they all need.
  func runtimeLayout(_ k: KernelBuilder, after planned: Int, dims: IRValue) -> (offsets: [(ValueID, IRValue)], total: IRValue) {
    let alignment = Int64(MemoryPlan.alignment)
    var offset = k.i64(Int64(MemoryPlan.round(planned)))
    var offsets: [(ValueID, IRValue)] = []
    let views = self.views
    let outputs = outputValues
    for node in graph.nodes {
      for result in node.results where isRuntimeSized(result) && !outputs.contains(result) && views.root(of: result).value == result {
        offsets.append((result, offset))
        let bytes = runtimeByteSize(result, k, dims: dims)
        offset = offset + (bytes + k.i64(alignment - 1)) / k.i64(alignment) * k.i64(alignment)
      }
    }
    return (offsets, offset)
  }

  /// `void KERNEL_shapes(const int64_t *dims, int64_t *out)`: out[0] = the scratch bytes a call needs, or
  /// -(k + 1) when the sizes break the k-th of `runtimeChecks`; then the dims of every output in order. The
  /// glue calls it before each run.
  func emitShapesFunction(_ k: KernelBuilder, plannedBytes: Int) {
    let ptr = k.llvm.ptr
    let checks = runtimeChecks
    let function = k.defineFunction(
      "\(kernelSymbol)_shapes", returns: k.llvm.void, params: [.init("dims", ptr, noalias: true), .init("out", ptr, noalias: true)]
    ) { p in
      var status = runtimeLayout(k, after: plannedBytes, dims: p[0]).total
      // The first broken check wins: walk them last to first.
      for (index, check) in checks.enumerated().reversed() {
        let value = k.evaluate(check.dim, symbols: symbols, dims: p[0])
        var holds = k.compare(check.atLeast ? .ge : .eq, value, k.i64(Int64(check.size)))
        if check.orOne { holds = k.or(holds, k.compare(.eq, value, k.i64(1))) }
        status = k.select(holds, status, k.i64(Int64(-(index + 1))))
      }
      k.store(status, .i64, to: p[1], at: k.i64(0))
      var slot: Int64 = 1
      for output in graph.outputs {
        for dim in graph.type(of: output.value)!.dims {
          k.store(k.extent(dim, symbols: symbols, dims: p[0]), .i64, to: p[1], at: k.i64(slot))
          slot += 1
        }
      }
      k.ret()
    }
    LLVMSetVisibility(function, LLVMHiddenVisibility)
  }
}

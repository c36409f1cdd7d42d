import CLLVM
import SSMCIR

// Symbolic dims at run time: the values of a model's run-time symbols arrive as an `int64_t` array, and
// every extent computed from them is emitted from its `DimExpr`, so kernels, scratch sizing and output
// shapes evaluate one and the same expression.

/// The run-time symbols of a graph, in the order of the `dims` array the kernel receives.
public struct RuntimeSymbols: Sendable, Equatable {
  public let names: [String]
  public init(_ names: [String]) { self.names = names }
  public var isEmpty: Bool { names.isEmpty }
  public func index(of name: String) -> Int? { names.firstIndex(of: name) }
}

extension KernelBuilder {
  /// `dim` as an i64 value: a constant when fixed, else evaluated from the symbol values at `dims`.
  func extent(_ dim: Dim, symbols: RuntimeSymbols, dims: IRValue?) -> IRValue {
    if let v = dim.value { return i64(Int64(v)) }
    return evaluate(dim.expression, symbols: symbols, dims: dims)
  }

  func evaluate(_ e: DimExpr, symbols: RuntimeSymbols, dims: IRValue?) -> IRValue {
    var total = i64(Int64(e.constant))
    for term in e.terms {
      var product = i64(Int64(term.coefficient))
      for factor in term.factors { product = product * evaluate(factor, symbols: symbols, dims: dims) }
      total = total + product
    }
    return total
  }

  private func evaluate(_ atom: DimAtom, symbols: RuntimeSymbols, dims: IRValue?) -> IRValue {
    switch atom {
    case .symbol(let name):
      // `ModelCompiler.check` makes sure every symbol of a compiled graph is a run-time symbol.
      guard let index = symbols.index(of: name), let dims else { return i64(0) }
      return load(.i64, from: dims, at: i64(Int64(index)))
    case .floorDiv(let numerator, let divisor):
      // floor(n / d) for d > 0: truncating division, one less when n is negative and not a multiple.
      let n = evaluate(numerator, symbols: symbols, dims: dims)
      let d = i64(Int64(divisor))
      let q = n / d
      let inexactNegative = and(compare(.lt, n, i64(0)), compare(.ne, q * d, n))
      return select(inexactNegative, q - i64(1), q)
    case .min(let a, let b): return min(evaluate(a, symbols: symbols, dims: dims), evaluate(b, symbols: symbols, dims: dims))
    case .max(let a, let b): return max(evaluate(a, symbols: symbols, dims: dims), evaluate(b, symbols: symbols, dims: dims))
    }
  }
}

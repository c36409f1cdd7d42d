/// A dimension computed from named symbols: an integer polynomial whose atoms are symbols, floor quotients by a
/// positive constant, and minima and maxima. Shape inference builds these for dims that depend on symbolic
/// input dims (`(height + 1)/2` after a stride-2 convolution, `height*width` after a flatten).
///
/// The form is canonical, so expressions that are equal by these rules compare equal and print alike: like terms
/// are merged, terms are sorted, and a floor quotient keeps only the part of its numerator that does not divide
/// exactly (`(h - 1)/2 + 1` is `(h + 1)/2`). Symbols stand for sizes of at least 1, which lets `max(h - 1, 0)`
/// simplify to `h - 1`. Arithmetic returns nil when a coefficient would overflow.
public struct DimExpr: Sendable, Hashable, Comparable, CustomStringConvertible {
  /// `coefficient * factors[0] * factors[1] * ...`: factors sorted, never empty, repeats allowed.
  public struct Term: Sendable, Hashable {
    public var coefficient: Int
    public var factors: [DimAtom]
  }
  /// Sorted by their factors, with nonzero coefficients and distinct factor lists.
  public private(set) var terms: [Term]
  public private(set) var constant: Int

  public init(_ constant: Int) {
    terms = []
    self.constant = constant
  }
  public init(symbol: String) { self.init(atom: .symbol(symbol)) }
  init(atom: DimAtom) {
    terms = [Term(coefficient: 1, factors: [atom])]
    constant = 0
  }
  /// Builds the canonical form of `terms + constant`.
  private init(merging raw: [Term], constant: Int) {
    var merged: [[DimAtom]: Int] = [:]
    var order: [[DimAtom]] = []
    for term in raw {
      let factors = term.factors.sorted()
      if merged[factors] == nil { order.append(factors) }
      merged[factors, default: 0] &+= term.coefficient
    }
    terms = order.compactMap { f in merged[f] == 0 ? nil : Term(coefficient: merged[f]!, factors: f) }
      .sorted { DimAtom.listKey($0.factors) < DimAtom.listKey($1.factors) }
    self.constant = constant
  }

  /// The value when the expression has no symbols.
  public var constantValue: Int? { terms.isEmpty ? constant : nil }
  /// The symbol when the expression is exactly one.
  public var symbolName: String? {
    guard constant == 0, terms.count == 1, terms[0].coefficient == 1, terms[0].factors.count == 1,
      case .symbol(let name) = terms[0].factors[0]
    else { return nil }
    return name
  }
  /// The single atom when the expression is exactly one (a symbol, quotient, minimum or maximum).
  var singleAtom: DimAtom? {
    guard constant == 0, terms.count == 1, terms[0].coefficient == 1, terms[0].factors.count == 1 else { return nil }
    return terms[0].factors[0]
  }

  /// Every symbol the expression mentions.
  public var symbols: Set<String> {
    var result = Set<String>()
    for term in terms { for factor in term.factors { result.formUnion(factor.symbols) } }
    return result
  }

  // MARK: Arithmetic (nil on overflow)

  public func plus(_ other: DimExpr) -> DimExpr? {
    let (c, overflow) = constant.addingReportingOverflow(other.constant)
    guard !overflow else { return nil }
    // Coefficients of like terms are summed in `merging`; check them here so no sum wraps.
    var sums: [[DimAtom]: Int] = [:]
    for term in terms + other.terms {
      let (s, o) = sums[term.factors, default: 0].addingReportingOverflow(term.coefficient)
      guard !o else { return nil }
      sums[term.factors] = s
    }
    return DimExpr(merging: terms + other.terms, constant: c)
  }
  public func plus(_ value: Int) -> DimExpr? { plus(DimExpr(value)) }
  public func scaled(by factor: Int) -> DimExpr? {
    var scaled: [Term] = []
    for term in terms {
      let (p, o) = term.coefficient.multipliedReportingOverflow(by: factor)
      guard !o else { return nil }
      scaled.append(Term(coefficient: p, factors: term.factors))
    }
    let (c, o) = constant.multipliedReportingOverflow(by: factor)
    guard !o else { return nil }
    return DimExpr(merging: scaled, constant: c)
  }
  public func minus(_ other: DimExpr) -> DimExpr? { other.scaled(by: -1).flatMap { plus($0) } }

  public func times(_ other: DimExpr) -> DimExpr? {
    var result = DimExpr(0)
    for (a, aFactors) in parts {
      for (b, bFactors) in other.parts {
        let (p, o) = a.multipliedReportingOverflow(by: b)
        guard !o else { return nil }
        let product = bFactors.isEmpty && aFactors.isEmpty ? DimExpr(p) : DimExpr(merging: [Term(coefficient: p, factors: aFactors + bFactors)], constant: 0)
        guard let sum = result.plus(product) else { return nil }
        result = sum
      }
    }
    return result
  }
  /// The terms and the constant as (coefficient, factors) pairs; the constant has no factors.
  private var parts: [(Int, [DimAtom])] { terms.map { ($0.coefficient, $0.factors) } + [(constant, [])] }

  /// `floor(self / divisor)` for a positive divisor. Terms whose coefficients the divisor divides come out of the
  /// quotient, and the constant left inside is reduced to [0, divisor).
  public func floorDivided(by divisor: Int) -> DimExpr? {
    guard divisor > 0 else { return nil }
    if divisor == 1 { return self }
    var outside: [Term] = []
    var inside: [Term] = []
    for term in terms {
      if term.coefficient % divisor == 0 {
        outside.append(Term(coefficient: term.coefficient / divisor, factors: term.factors))
      } else {
        inside.append(term)
      }
    }
    let quotient = floorDivision(constant, divisor)
    let remainder = constant - quotient * divisor
    var result = DimExpr(merging: outside, constant: quotient)
    if inside.isEmpty { return result }
    let numerator = DimExpr(merging: inside, constant: remainder)
    let atom: DimAtom
    // floor((floor(x / a) + r) / b) = floor((x + a r) / (a b))
    if inside.count == 1, inside[0].coefficient == 1, inside[0].factors.count == 1, case .floorDiv(let x, let a) = inside[0].factors[0] {
      guard let product = scaledOrNil(a, divisor), let shift = scaledOrNil(a, remainder), let shifted = x.plus(shift) else { return nil }
      guard let nested = shifted.floorDivided(by: product) else { return nil }
      return result.plus(nested)
    } else {
      atom = .floorDiv(numerator, divisor)
    }
    let bounds = DimExpr(atom: atom).bounds
    if let low = bounds.lower, low == bounds.upper {
      result = result.plus(low) ?? result
    } else {
      guard let sum = result.plus(DimExpr(atom: atom)) else { return nil }
      result = sum
    }
    return result
  }
  /// `ceil(self / divisor)` for a positive divisor.
  public func ceilDivided(by divisor: Int) -> DimExpr? { plus(divisor - 1)?.floorDivided(by: divisor) }

  /// `self / divisor` when it divides exactly as polynomials: the divisor is one term whose coefficient divides
  /// every coefficient and whose factors occur in every term (`b*h*w*c / (b*c)` is `h*w`); nil otherwise.
  public func exactlyDivided(by divisor: DimExpr) -> DimExpr? {
    if let d = divisor.constantValue {
      guard d != 0, terms.allSatisfy({ $0.coefficient % d == 0 }), constant % d == 0 else { return nil }
      return DimExpr(merging: terms.map { Term(coefficient: $0.coefficient / d, factors: $0.factors) }, constant: constant / d)
    }
    guard divisor.constant == 0, divisor.terms.count == 1, constant == 0 else { return nil }
    let d = divisor.terms[0]
    var quotient: [Term] = []
    for term in terms {
      guard term.coefficient % d.coefficient == 0 else { return nil }
      var rest = term.factors
      for factor in d.factors {
        guard let i = rest.firstIndex(of: factor) else { return nil }
        rest.remove(at: i)
      }
      quotient.append(Term(coefficient: term.coefficient / d.coefficient, factors: rest))
    }
    let constantPart = quotient.filter(\.factors.isEmpty).reduce(0) { $0 + $1.coefficient }
    return DimExpr(merging: quotient.filter { !$0.factors.isEmpty }, constant: constantPart)
  }

  public static func minimum(_ a: DimExpr, _ b: DimExpr) -> DimExpr { ordered(a, b, smaller: true) }
  public static func maximum(_ a: DimExpr, _ b: DimExpr) -> DimExpr { ordered(a, b, smaller: false) }
  private static func ordered(_ a: DimExpr, _ b: DimExpr, smaller: Bool) -> DimExpr {
    if a == b { return a }
    if let difference = b.minus(a) {
      let bounds = difference.bounds
      if let low = bounds.lower, low >= 0 { return smaller ? a : b }
      if let high = bounds.upper, high <= 0 { return smaller ? b : a }
    }
    let (x, y) = a < b ? (a, b) : (b, a)
    return DimExpr(atom: smaller ? .min(x, y) : .max(x, y))
  }

  /// The value for the given symbol values; nil when a symbol is unbound or a step overflows.
  public func evaluate(_ binding: (String) -> Int?) -> Int? {
    var total = constant
    for term in terms {
      var product = term.coefficient
      for factor in term.factors {
        guard let v = factor.evaluate(binding) else { return nil }
        let (p, o) = product.multipliedReportingOverflow(by: v)
        guard !o else { return nil }
        product = p
      }
      let (s, o) = total.addingReportingOverflow(product)
      guard !o else { return nil }
      total = s
    }
    return total
  }

  /// The expression with some symbols replaced by expressions; nil on overflow.
  public func substituting(_ replacements: [String: DimExpr]) -> DimExpr? {
    var result = DimExpr(constant)
    for term in terms {
      var product = DimExpr(term.coefficient)
      for factor in term.factors {
        guard let f = factor.substituting(replacements), let p = product.times(f) else { return nil }
        product = p
      }
      guard let sum = result.plus(product) else { return nil }
      result = sum
    }
    return result
  }

  /// Bounds over every assignment of values >= 1 to the symbols (nil: unbounded on that side).
  public var bounds: (lower: Int?, upper: Int?) {
    var lower: Int? = constant
    var upper: Int? = constant
    for term in terms {
      var low: Int? = 1
      var high: Int? = 1
      for factor in term.factors {
        let b = factor.bounds
        // Products of factors that may be negative are left unbounded.
        guard let fl = b.lower, fl >= 0, let l = low else { low = nil; high = nil; break }
        low = l.multipliedReportingOverflow(by: fl).overflow ? nil : l * fl
        high = high.flatMap { h in b.upper.flatMap { h.multipliedReportingOverflow(by: $0).overflow ? nil : h * $0 } }
      }
      let c = term.coefficient
      let (termLow, termHigh) = c > 0
        ? (low.flatMap { scaledOrNil($0, c) }, high.flatMap { scaledOrNil($0, c) })
        : (high.flatMap { scaledOrNil($0, c) }, low.flatMap { scaledOrNil($0, c) })
      lower = lower.flatMap { l in termLow.flatMap { l.addingReportingOverflow($0).overflow ? nil : l + $0 } }
      upper = upper.flatMap { u in termHigh.flatMap { u.addingReportingOverflow($0).overflow ? nil : u + $0 } }
    }
    return (lower, upper)
  }

  // MARK: Text

  /// Terms in order, then the constant: `2*h + w - 1`, `(h + 1)/2`, `min(h, 4)`. `/` is floor division.
  public var description: String {
    var text = ""
    for term in terms {
      let magnitude = term.coefficient.magnitude
      let body = (magnitude == 1 ? "" : "\(magnitude)*") + term.factors.map { $0.text(alone: term.factors.count == 1 && magnitude == 1) }.joined(separator: "*")
      if text.isEmpty {
        text = (term.coefficient < 0 ? "-" : "") + body
      } else {
        text += (term.coefficient < 0 ? " - " : " + ") + body
      }
    }
    if text.isEmpty { return String(constant) }
    if constant != 0 { text += (constant < 0 ? " - " : " + ") + String(constant.magnitude) }
    return text
  }

  public static func < (a: DimExpr, b: DimExpr) -> Bool { a.description < b.description }
}

/// One factor of a `DimExpr` term.
public indirect enum DimAtom: Sendable, Hashable, Comparable {
  case symbol(String)
  /// `floor(numerator / divisor)`, divisor >= 2.
  case floorDiv(DimExpr, Int)
  case min(DimExpr, DimExpr)
  case max(DimExpr, DimExpr)

  var symbols: Set<String> {
    switch self {
    case .symbol(let s): [s]
    case .floorDiv(let e, _): e.symbols
    case .min(let a, let b), .max(let a, let b): a.symbols.union(b.symbols)
    }
  }

  func evaluate(_ binding: (String) -> Int?) -> Int? {
    switch self {
    case .symbol(let s): return binding(s)
    case .floorDiv(let e, let d): return e.evaluate(binding).map { floorDivision($0, d) }
    case .min(let a, let b):
      guard let x = a.evaluate(binding), let y = b.evaluate(binding) else { return nil }
      return Swift.min(x, y)
    case .max(let a, let b):
      guard let x = a.evaluate(binding), let y = b.evaluate(binding) else { return nil }
      return Swift.max(x, y)
    }
  }

  func substituting(_ replacements: [String: DimExpr]) -> DimExpr? {
    switch self {
    case .symbol(let s): return replacements[s] ?? DimExpr(atom: self)
    case .floorDiv(let e, let d): return e.substituting(replacements)?.floorDivided(by: d)
    case .min(let a, let b):
      guard let x = a.substituting(replacements), let y = b.substituting(replacements) else { return nil }
      return .minimum(x, y)
    case .max(let a, let b):
      guard let x = a.substituting(replacements), let y = b.substituting(replacements) else { return nil }
      return .maximum(x, y)
    }
  }

  var bounds: (lower: Int?, upper: Int?) {
    switch self {
    case .symbol: return (1, nil)
    case .floorDiv(let e, let d):
      let b = e.bounds
      return (b.lower.map { floorDivision($0, d) }, b.upper.map { floorDivision($0, d) })
    case .min(let a, let b):
      let (x, y) = (a.bounds, b.bounds)
      let lower = x.lower.flatMap { l in y.lower.map { Swift.min(l, $0) } }
      let upper = [x.upper, y.upper].compactMap { $0 }.min()
      return (lower, upper)
    case .max(let a, let b):
      let (x, y) = (a.bounds, b.bounds)
      let lower = [x.lower, y.lower].compactMap { $0 }.max()
      let upper = x.upper.flatMap { u in y.upper.map { Swift.max(u, $0) } }
      return (lower, upper)
    }
  }

  /// The atom as text; `alone` when it is a whole term by itself (a quotient inside a product needs parentheses).
  func text(alone: Bool) -> String {
    switch self {
    case .symbol(let s): return DimAtom.symbolText(s)
    case .floorDiv(let e, let d):
      let body = "\(e.symbolName.map(DimAtom.symbolText) ?? "(\(e))")/\(d)"
      return alone ? body : "(\(body))"
    case .min(let a, let b): return "min(\(a), \(b))"
    case .max(let a, let b): return "max(\(a), \(b))"
    }
  }

  /// A symbol name as the text IR writes it: bare when it lexes as an identifier, else quoted.
  static func symbolText(_ name: String) -> String {
    let isIdentifier = name.first.map { $0.isLetter || $0 == "_" } == true
      && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." } && name != "min" && name != "max"
    return isIdentifier ? name : "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
  }

  static func listKey(_ atoms: [DimAtom]) -> String { atoms.map { $0.text(alone: false) }.joined(separator: "*") }
  public static func < (a: DimAtom, b: DimAtom) -> Bool { a.text(alone: false) < b.text(alone: false) }
}

/// Floor division for a positive divisor (Swift's `/` truncates toward zero).
func floorDivision(_ a: Int, _ d: Int) -> Int {
  let q = a / d
  return (a % d != 0 && a < 0) ? q - 1 : q
}

private func scaledOrNil(_ value: Int, _ factor: Int) -> Int? {
  let (p, o) = value.multipliedReportingOverflow(by: factor)
  return o ? nil : p
}

/// Sliding-window geometry shared by Conv, ConvTranspose and the pools: the attributes strides, dilations,
/// pads and auto_pad resolved into explicit per-axis numbers, so lowerings never re-derive padding.
public struct WindowAxis: Sendable, Hashable {
  public var input: Dim
  public var kernel: Int
  public var stride: Int
  public var dilation: Int
  public var padBegin: Int
  public var padEnd: Int
  public var output: Dim
  /// Kernel extent with dilation: (kernel - 1) * dilation + 1.
  public var effectiveKernel: Int { (kernel - 1) * dilation + 1 }
}

/// Bound on window attributes and spatial sizes, so the window arithmetic cannot overflow Int.
let windowLimit = 1 << 30

/// The window attributes of a node with `spatial` spatial axes, checked and defaulted.
struct WindowAttributes {
  var strides: [Int]
  var dilations: [Int]
  /// Explicit pads [begin..., end...]; all zero when absent.
  var pads: [Int]
  var autoPad: String
}

extension OpContext {
  func windowAttributes(spatial n: Int) throws(Diagnostic) -> WindowAttributes {
    func list(_ name: String, default value: Int, count: Int, minimum: Int) throws(Diagnostic) -> [Int] {
      guard let v = try ints(name) else { return Array(repeating: value, count: count) }
      guard v.count == count else { throw error(.badAttribute, "\(name) \(v) must have \(count) entries") }
      guard v.allSatisfy({ $0 >= minimum && $0 <= windowLimit }) else {
        throw error(.badAttribute, "\(name) \(v) must be in \(minimum)...\(windowLimit)")
      }
      return v
    }
    let autoPad = try string("auto_pad") ?? "NOTSET"
    guard ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"].contains(autoPad) else {
      throw error(.badAttribute, "auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got \(autoPad)")
    }
    let pads = try list("pads", default: 0, count: 2 * n, minimum: 0)
    if autoPad != "NOTSET" && pads.contains(where: { $0 != 0 }) {
      throw error(.badAttribute, "pads \(pads) and auto_pad \(autoPad) must not both be given")
    }
    return WindowAttributes(
      strides: try list("strides", default: 1, count: n, minimum: 1),
      dilations: try list("dilations", default: 1, count: n, minimum: 1), pads: pads, autoPad: autoPad)
  }

  /// The kernel shape: from W's spatial dims, checked against the kernel_shape attribute when both exist.
  func kernelShape(weights: [Dim]?, spatial n: Int) throws(Diagnostic) -> [Int] {
    let attribute = try ints("kernel_shape")
    if let a = attribute {
      guard a.count == n, a.allSatisfy({ $0 >= 1 && $0 <= windowLimit }) else { throw error(.badAttribute, "kernel_shape \(a) must have \(n) positive entries") }
    }
    guard let weights else {
      guard let a = attribute else { throw error(.badAttribute, "missing attribute 'kernel_shape'") }
      return a
    }
    let fromWeights = weights.compactMap(\.value)
    guard fromWeights.count == n else { throw error(.unknownShape, "the kernel dims of W \(weights) must be static") }
    guard fromWeights.allSatisfy({ $0 >= 1 && $0 <= windowLimit }) else { throw error("W's kernel dims \(fromWeights) are out of range") }
    if let a = attribute, a != fromWeights { throw error("kernel_shape \(a) differs from W's kernel dims \(fromWeights)") }
    return fromWeights
  }

  /// Forward windows (Conv and the pools). `ceilMode` rounds the window count up, but a window may not start
  /// inside the end padding.
  func forwardWindows(input: [Dim], kernel: [Int], ceilMode: Bool = false) throws(Diagnostic) -> [WindowAxis] {
    let a = try windowAttributes(spatial: kernel.count)
    let n = kernel.count
    var axes: [WindowAxis] = []
    for i in 0..<n {
      var w = WindowAxis(
        input: input[i], kernel: kernel[i], stride: a.strides[i], dilation: a.dilations[i],
        padBegin: a.pads[i], padEnd: a.pads[i + n], output: input[i])
      let ek = w.effectiveKernel
      if let size = input[i].value, size > windowLimit { throw error("spatial size \(size) is too large") }
      guard let size = input[i].value else {
        w.output = try symbolicWindowCount(&w, autoPad: a.autoPad, ceilMode: ceilMode)
        axes.append(w)
        continue
      }
      var out: Int
      switch a.autoPad {
      case "SAME_UPPER", "SAME_LOWER":
        out = (size + w.stride - 1) / w.stride
        let total = max(0, (out - 1) * w.stride + ek - size)
        (w.padBegin, w.padEnd) = samePads(total: total, upper: a.autoPad == "SAME_UPPER")
      default:
        let span = size + w.padBegin + w.padEnd - ek
        guard span >= 0 else {
          throw error("the kernel extent \(ek) exceeds the padded input size \(size + w.padBegin + w.padEnd) on spatial axis \(i)")
        }
        out = (ceilMode ? (span + w.stride - 1) / w.stride : span / w.stride) + 1
        if ceilMode && (out - 1) * w.stride >= size + w.padBegin { out -= 1 }
      }
      w.output = .fixed(out)
      axes.append(w)
    }
    return axes
  }
}

extension OpContext {
  /// The window count over a symbolic size, by the same rules as a static one. SAME padding of such an axis is
  /// exact only when the stride is 1 (the pads depend on the size otherwise); it is worked out again once
  /// the size is fixed.
  fileprivate func symbolicWindowCount(_ w: inout WindowAxis, autoPad: String, ceilMode: Bool) throws(Diagnostic) -> Dim {
    let size = w.input.expression
    let ek = w.effectiveKernel
    let what = "the window count over \(w.input)"
    switch autoPad {
    case "SAME_UPPER", "SAME_LOWER":
      if w.stride == 1 { (w.padBegin, w.padEnd) = samePads(total: ek - 1, upper: autoPad == "SAME_UPPER") }
      return try dim(size.ceilDivided(by: w.stride), what)
    default:
      guard let span = size.plus(w.padBegin + w.padEnd - ek) else { throw error("\(what) overflows") }
      guard !ceilMode else {
        // Rounded up, but the last window must start inside the input or its begin padding.
        guard let up = span.ceilDivided(by: w.stride)?.plus(1), let limit = size.plus(w.padBegin)?.ceilDivided(by: w.stride) else {
          throw error("\(what) overflows")
        }
        return Dim(.minimum(up, limit))
      }
      return try dim(span.floorDivided(by: w.stride)?.plus(1), what)
    }
  }
}

/// SAME padding: the odd pixel goes at the end (SAME_UPPER) or the beginning (SAME_LOWER).
func samePads(total: Int, upper: Bool) -> (Int, Int) {
  upper ? (total / 2, total - total / 2) : (total - total / 2, total / 2)
}

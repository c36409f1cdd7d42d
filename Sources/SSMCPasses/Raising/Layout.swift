import SSMCIR

/// One mixed-radix digit of an index: `size` steps, each moving `stride` elements in the source (0 = broadcast).
struct Digit: Hashable, CustomStringConvertible {
  var size: Int
  var stride: Int
  var description: String { "\(size):\(stride)" }
}

/// How a tensor of some static shape reads the elements of a source value, as the view ops (Reshape,
/// Transpose, Unsqueeze, Expand, broadcasting) compose: element (i_0, ..., i_r) is the source's row-major
/// element Σ over all digits of digit value · stride. Each axis is a list of digits, major first, whose sizes
/// multiply to the axis size. Reshape re-splits the digit sequence, Transpose permutes axes, broadcasting
/// adds stride-0 digits; so any chain of these ops stays exact, and the raising passes compare layouts to
/// decide which coordinates of a scan an operand depends on.
struct Layout: Hashable, CustomStringConvertible {
  var source: ValueID
  var axes: [[Digit]]

  /// The row-major layout of `source` itself.
  static func identity(_ source: ValueID, shape: [Int]) -> Layout {
    Layout(source: source, axes: zip(shape, rowMajorStrides(shape)).map { [Digit(size: $0, stride: $1)] }.map(canonicalAxis))
  }

  var shape: [Int] { axes.map { $0.reduce(1) { $0 * $1.size } } }
  var description: String { "\(source)" + axes.map { "(" + $0.map(\.description).joined(separator: ",") + ")" }.joined() }

  /// Drops size-1 digits and merges neighbours that step contiguously (major stride = minor size · minor stride).
  static func canonicalAxis(_ digits: [Digit]) -> [Digit] {
    var out: [Digit] = []
    for d in digits where d.size != 1 {
      if let last = out.last, last.stride == d.size * d.stride {
        out[out.count - 1] = Digit(size: last.size * d.size, stride: d.stride)
      } else {
        out.append(d)
      }
    }
    return out
  }

  var canonical: Layout { Layout(source: source, axes: axes.map(Self.canonicalAxis)) }

  func transposed(_ perm: [Int]) -> Layout? {
    guard perm.count == axes.count, Set(perm) == Set(axes.indices) else { return nil }
    return Layout(source: source, axes: perm.map { axes[$0] })
  }

  /// The same elements read as `newShape` in row-major order (Reshape, Squeeze, Unsqueeze, Flatten).
  /// Nil when an axis boundary falls inside a digit that does not split evenly there.
  func reshaped(_ newShape: [Int]) -> Layout? {
    var digits = axes.flatMap(Self.canonicalAxis)[...]
    var result: [[Digit]] = []
    for size in newShape {
      var axis: [Digit] = []
      var need = size
      while need > 1 {
        guard let d = digits.first else { return nil }
        if d.size <= need {
          guard need % d.size == 0 else { return nil }
          axis.append(d)
          need /= d.size
          digits.removeFirst()
        } else {
          guard d.size % need == 0 else { return nil }
          // Split the digit: its major part completes this axis, its minor part starts the next.
          axis.append(Digit(size: need, stride: d.stride * (d.size / need)))
          digits[digits.startIndex] = Digit(size: d.size / need, stride: d.stride)
          need = 1
        }
      }
      guard size >= 1 else { return nil }
      result.append(axis)
    }
    guard digits.isEmpty else { return nil }
    return Layout(source: source, axes: result)
  }

  /// Numpy broadcasting to `target`: leading axes and size-1 axes become stride-0 digits.
  func broadcast(to target: [Int]) -> Layout? {
    guard target.count >= axes.count else { return nil }
    let lead = target.count - axes.count
    var out: [[Digit]] = target[..<lead].map { [Digit(size: $0, stride: 0)] }
    for (axis, size) in zip(axes, target[lead...]) {
      let own = axis.reduce(1) { $0 * $1.size }
      if own == size {
        out.append(axis)
      } else if own == 1 {
        out.append([Digit(size: size, stride: 0)])
      } else {
        return nil
      }
    }
    return Layout(source: source, axes: out)
  }

  /// Whether every digit of axis `i` is a broadcast (the value does not depend on that coordinate).
  func ignores(_ i: Int) -> Bool { axes[i].allSatisfy { $0.stride == 0 || $0.size == 1 } }

  /// This layout without axis `i`, which it must ignore.
  func dropping(_ i: Int) -> Layout? {
    guard ignores(i) else { return nil }
    var copy = self
    copy.axes.remove(at: i)
    return copy
  }
}

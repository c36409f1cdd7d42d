import CLLVM
import SSMCIR

/// Sliding-window loops shared by the general Conv, ConvTranspose and pool kernels.
extension LoweringContext {
  /// Window geometry with every dim static (the compiler checked shapes before lowering).
  struct StaticAxis {
    var size: Int
    var kernel: Int
    var stride: Int
    var dilation: Int
    var padBegin: Int
    var padEnd: Int
    var output: Int

    init(size: Int, kernel: Int, stride: Int, dilation: Int, padBegin: Int, padEnd: Int, output: Int) {
      (self.size, self.kernel, self.stride, self.dilation) = (size, kernel, stride, dilation)
      (self.padBegin, self.padEnd, self.output) = (padBegin, padEnd, output)
    }

    init(_ w: WindowAxis) {
      size = w.input.value!
      kernel = w.kernel
      stride = w.stride
      dilation = w.dilation
      padBegin = w.padBegin
      padEnd = w.padEnd
      output = w.output.value!
    }
  }

  /// Visits every kernel position of the window of output position `output` (one index per spatial axis),
  /// carrying `initial` values. The body gets the kernel position, the input coordinate clamped into the
  /// input (always safe to load), whether the true coordinate lies inside the input, and whether it lies
  /// inside the input plus its declared padding (for AveragePool's count_include_pad).
  func forEachWindowPosition(
    _ axes: [StaticAxis], output: [IRValue], carrying initial: [IRValue],
    body: (_ kernel: [IRValue], _ input: [IRValue], _ inside: IRValue, _ insidePadded: IRValue, _ carried: [IRValue]) -> [IRValue]
  ) -> [IRValue] {
    func level(_ axis: Int, _ kernel: [IRValue], _ input: [IRValue], _ inside: IRValue, _ padded: IRValue, _ carried: [IRValue]) -> [IRValue] {
      guard axis < axes.count else { return body(kernel, input, inside, padded, carried) }
      let a = axes[axis]
      return k.forLoop(from: k.i64(0), to: k.i64(Int64(a.kernel)), hints: LoopHints(vectorize: false), carrying: carried) { kk, c in
        let coordinate = output[axis] * k.i64(Int64(a.stride)) + kk * k.i64(Int64(a.dilation)) - k.i64(Int64(a.padBegin))
        let inRange = k.and(k.compare(.ge, coordinate, k.i64(0)), k.compare(.lt, coordinate, k.i64(Int64(a.size))))
        let inPadded = k.compare(.lt, coordinate, k.i64(Int64(a.size + a.padEnd)))
        let clamped = k.min(k.max(coordinate, k.i64(0)), k.i64(Int64(a.size - 1)))
        return level(axis + 1, kernel + [kk], input + [clamped], k.and(inside, inRange), k.and(padded, inPadded), c)
      }
    }
    return level(0, [], [], k.bool(true), k.bool(true), initial)
  }
}

/// The smallest value of an element type, the start of a max reduction.
func lowestValue(_ k: KernelBuilder, _ element: ScalarType) -> IRValue {
  switch element {
  case .f32, .f64: k.constant(-.infinity, k.type(element))
  case .i8: k.constant(bits: Int64(Int8.min), k.type(element))
  case .u8: k.constant(bits: 0, k.type(element))
  case .i32: k.constant(bits: Int64(Int32.min), k.type(element))
  default: k.constant(bits: Int64.min, k.type(element))
  }
}

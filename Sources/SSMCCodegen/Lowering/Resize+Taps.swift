import SSMCIR

/// The input positions and weights that one resized output axis reads, worked out at compile time from
/// static shapes and attributes (ONNX Resize, as its reference implementation computes them in float64).
struct ResizeTaps {
  /// Taps per output position (1 for nearest).
  var count: Int
  /// Input position of tap t of output position o at [o * count + t], clamped into the input (edge padding).
  var indices: [Int]
  /// Weight of each tap, same layout; all zero where tf_crop_and_resize extrapolates.
  var weights: [Double]
  /// Per output position: false where tf_crop_and_resize puts extrapolation_value; nil when none does.
  var inside: [Bool]?
}

/// Windows wider than this many taps come from absurdly small antialias scales; refused rather than built.
private let maximumTaps = 1 << 14

/// The taps of every output position of `axis`.
func resizeTaps(_ axis: ResizeAxis, plan: ResizePlan) throws(ResizeTapError) -> ResizeTaps {
  let d = axis.input
  let s = axis.scale
  // A tap window: offsets start..<start+n from the base position, weighted by kernel(offset - ratio).
  var start = 0
  var n = 1
  var stretch = 1.0  // the antialias kernel is widened by 1/scale when downsampling
  switch plan.mode {
  case .nearest: break
  case .linear, .cubic:
    let reach = plan.mode == .linear ? 1.0 : 2.0
    stretch = plan.antialias ? min(s, 1) : 1
    let first = (-reach / stretch).rounded(.down) + 1
    guard first > -Double(maximumTaps) else { throw ResizeTapError.windowTooWide(scale: s) }
    start = Int(first)
    n = 2 - 2 * start
  }
  var taps = ResizeTaps(count: n, indices: [], weights: [], inside: nil)
  taps.indices.reserveCapacity(axis.output * n)
  taps.weights.reserveCapacity(axis.output * n)
  var inside = [Bool](repeating: true, count: axis.output)
  // Positions far outside the input only read the edge; clamping first keeps the Int conversion safe.
  let margin = Double(n + 4)
  for o in 0..<axis.output {
    let x = sourceCoordinate(o, axis, mode: plan.coordinateMode)
    if plan.coordinateMode == "tf_crop_and_resize" && !(x >= 0 && x <= Double(d - 1)) { inside[o] = false }
    let floor = x.rounded(.down)
    if plan.mode == .nearest {
      var position = floor
      if x != floor {
        let r = x - floor
        let up: Bool =
          switch plan.nearestMode {
          case "round_prefer_floor": r > 0.5
          case "round_prefer_ceil": r >= 0.5
          case "floor": false
          case "ceil": true
          default: s < 1  // simple: floor when growing, ceil when shrinking
          }
        if up { position += 1 }
      }
      taps.indices.append(Int(min(max(position, 0), Double(d - 1))))
      taps.weights.append(inside[o] ? 1 : 0)
      continue
    }
    // The reference takes the ratio in (0, 1]: an integer x is base x - 1 with ratio 1.
    let base = x == floor ? x - 1 : floor
    let ratio = x - base
    let baseIndex = Int(min(max(base, -margin), Double(d) + margin))
    var weights = (0..<n).map { i in kernel(Double(start + i) - ratio, plan: plan, stretch: stretch) }
    if plan.antialias { normalize(&weights) }
    if plan.excludeOutside {
      for i in 0..<n where !(0..<d).contains(baseIndex + start + i) { weights[i] = 0 }
      normalize(&weights)
    }
    for i in 0..<n {
      taps.indices.append(min(max(baseIndex + start + i, 0), d - 1))
      taps.weights.append(inside[o] ? weights[i] : 0)
    }
  }
  if inside.contains(false) { taps.inside = inside }
  return taps
}

enum ResizeTapError: Error { case windowTooWide(scale: Double) }

/// Weights divided by their sum (left alone when they sum to zero).
private func normalize(_ weights: inout [Double]) {
  let sum = weights.reduce(0, +)
  if sum != 0 { weights = weights.map { $0 / sum } }
}

/// The interpolation kernel at `offset` input positions from the sample point.
private func kernel(_ offset: Double, plan: ResizePlan, stretch: Double) -> Double {
  let t = abs(offset * stretch)
  if plan.mode == .linear { return max(0, 1 - t) }
  let a = plan.cubicA
  if t <= 1 { return ((a + 2) * t - (a + 3)) * t * t + 1 }
  if t < 2 { return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a }
  return 0
}

/// The input coordinate output position `o` maps to, per coordinate_transformation_mode. As in the
/// reference, the resized length is scale * input (not the rounded output size) except in the
/// `length_resized > 1` tests the spec states on the output size.
private func sourceCoordinate(_ o: Int, _ axis: ResizeAxis, mode: String) -> Double {
  let y = Double(o)
  let d = Double(axis.input)
  let s = axis.scale
  let resized = s * d
  switch mode {
  case "align_corners": return resized == 1 ? 0 : y * (d - 1) / (resized - 1)
  case "asymmetric": return y / s
  case "tf_crop_and_resize":
    let (low, high) = axis.roi
    let x = resized == 1 ? (high - low) * (d - 1) / 2 : y * (high - low) * (d - 1) / (resized - 1)
    return x + low * (d - 1)
  case "pytorch_half_pixel": return axis.output > 1 ? (y + 0.5) / s - 0.5 : 0
  case "half_pixel_symmetric":
    let adjustment = Double(axis.output) / resized
    return d / 2 * (1 - adjustment) + (y + 0.5) / s - 0.5
  case "tf_half_pixel_for_nn": return (y + 0.5) / s
  default: return (y + 0.5) / s - 0.5  // half_pixel
  }
}

import Testing
@testable import SSMCIR

/// Normalization shape rules, per the ONNX operator docs (opset 17 LayerNormalization, 15 BatchNormalization,
/// 21 GroupNormalization, 23 RMSNormalization).
struct NormalizationOpTests {
  static let inputs = """
    %x: f32[B,197,384], %g: f32[384], %g2: f32[197,384], %one: f32[1], %img: f32[N,6,5,5], %c: f32[6], %h: f16[384], %c64: f64[6], \
    %i: i64[2,3]
    """

  @Test(arguments: [
    ("%y = LayerNormalization(%x, %g, %g) : ?", "f32[B,197,384]"),
    ("%y, %m, %r = LayerNormalization(%x, %g) : ?, ?, ?", "f32[B,197,384] f32[B,197,1] f32[B,197,1]"),
    ("%y, %m = LayerNormalization(%x, %g2, %one) {axis = 1} : ?, ?", "f32[B,197,384] f32[B,1,1]"),
    ("%y, %m = LayerNormalization(%x, %g) {stash_type = 16} : ?, ?", "f32[B,197,384] bf16[B,197,1]"),
    ("%y = RMSNormalization(%x, %h) : ?", "f16[B,197,384]"),
    ("%y = BatchNormalization(%img, %c, %c, %c, %c64) : ?", "f32[N,6,5,5]"),
    ("%y = RMSNormalization(%x, %g) {epsilon = 1e-06} : ?", "f32[B,197,384]"),
    ("%y = RMSNormalization(%x, %g2) {axis = -2} : ?", "f32[B,197,384]"),
    ("%y = BatchNormalization(%img, %c, %c, %c, %c) : ?", "f32[N,6,5,5]"),
    ("%y = InstanceNormalization(%img, %c, %c) : ?", "f32[N,6,5,5]"),
    ("%y = GroupNormalization(%img, %c, %c) {num_groups = 3} : ?", "f32[N,6,5,5]"),
    ("%y = LpNormalization(%x) {p = 1} : ?", "f32[B,197,384]"),
  ])
  func shapes(body: String, expected: String) throws {
    #expect(try OpTest.types(Self.inputs, body).joined(separator: " ") == expected)
  }

  @Test(arguments: [
    ("%y = LayerNormalization(%x, %g2) : ?", "does not broadcast to the normalized dims"),
    ("%y = LayerNormalization(%x, %g) {axis = 3} : ?", "out of range"),
    ("%y = LayerNormalization(%x, %h) : ?", "f16"),
    ("%y = LayerNormalization(%i, %i) : ?", "float X"),
    ("%y, %m = LayerNormalization(%x, %g) {stash_type = 7} : ?, ?", "is not one of"),
    ("%y, %m = LayerNormalization(%x, %g) {stash_type = 11} : ?, ?", "is not one of"),
    ("%y = InstanceNormalization(%img, %c64, %c) : ?", "f64"),
    ("%y = RMSNormalization(%x, %c) : ?", "does not broadcast"),
    ("%y = BatchNormalization(%img, %c, %c, %c, %g) : ?", "channels"),
    ("%y = BatchNormalization(%img, %c, %c, %c, %c) {training_mode = 1} : ?", "inference form only"),
    ("%y, %a, %b = BatchNormalization(%img, %c, %c, %c, %c) : ?, ?, ?", "inference form only"),
    ("%y = InstanceNormalization(%img, %g, %c) : ?", "channels"),
    ("%y = GroupNormalization(%img, %c, %c) {num_groups = 4} : ?", "do not split into 4 groups"),
    ("%y = GroupNormalization(%img, %c, %c) {num_groups = 0} : ?", "must be positive"),
    ("%y = LpNormalization(%x) {p = 3} : ?", "p must be 1 or 2"),
  ])
  func rejects(body: String, message: String) throws {
    let e = try OpTest.error(Self.inputs, body)
    #expect(e?.description.contains(message) == true, "\(String(describing: e))")
  }
}

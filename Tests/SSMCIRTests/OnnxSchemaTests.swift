import Foundation
import Testing
@testable import SSMCIR

/// ssmc's op definitions against the pinned onnx package's newest schemas (Inputs/onnx-schemas.json, written by
/// tools/dump-onnx-schemas.py): operand names and arity, result counts, attribute names, kinds, defaults.
struct OnnxSchemaTests {
  // Read once; the parsed JSON is never mutated.
  nonisolated(unsafe) static let onnx: [String: [String: Any]] = {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Inputs/onnx-schemas.json")
    guard let data = try? Data(contentsOf: url),
      let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let ops = root["ops"] as? [String: [String: Any]]
    else { return [:] }
    return ops
  }()

  /// The families this file checks strictly.
  static let checked: [OpSchema] = reductionOps + tensorOps + shapeOps + linalgOps + convolutionOps + normalizationOps
    + resizeOps + matrixOps + visionOps + recurrentNetworkOps + quantizationOps + attentionOps + signalSourceOps + signalOps

  @Test func oracleLoaded() {
    #expect(Self.onnx.count > 150)
  }

  @Test(arguments: checked.map(\.name))
  func matchesOnnx(name: String) throws {
    let ours = try #require(OpRegistry.schema(name))
    let theirs = try #require(Self.onnx[name], "\(name) is not an ONNX op")
    #expect(differences(ours, theirs) == [])
  }

  func differences(_ ours: OpSchema, _ theirs: [String: Any]) -> [String] {
    var problems: [String] = []
    let inputs = theirs["inputs"] as? [[String: String]] ?? []
    let operandText = ours.operands.map { spec -> String in
      switch spec.arity {
      case .required: "\(spec.name):single"
      case .optional: "\(spec.name):optional"
      case .variadic: "\(spec.name):variadic"
      }
    }
    let onnxOperands = inputs.map { "\($0["name"]!):\($0["option"]!)" }
    if operandText != onnxOperands { problems.append("operands \(operandText) vs ONNX \(onnxOperands)") }

    let outputs = theirs["outputs"] as? [[String: String]] ?? []
    let fixedOne = outputs.count == 1 && outputs[0]["option"] == "single"
    if fixedOne != (ours.resultCount == 1) { problems.append("result count \(String(describing: ours.resultCount)) vs ONNX \(outputs)") }

    let attributes = theirs["attributes"] as? [String: [String: Any]] ?? [:]
    let ourNames = Set(ours.attributes.map(\.name))
    if ourNames != Set(attributes.keys) { problems.append("attributes \(ourNames.sorted()) vs ONNX \(attributes.keys.sorted())") }
    for spec in ours.attributes {
      guard let a = attributes[spec.name] else { continue }
      if a["kind"] as? String != spec.kind.rawValue { problems.append("\(spec.name): kind \(spec.kind) vs ONNX \(a["kind"]!)") }
      if a["required"] as? Bool != spec.required { problems.append("\(spec.name): required \(spec.required) vs ONNX") }
      if !sameDefault(spec.defaultValue, a["default"]) {
        problems.append("\(spec.name): default \(String(describing: spec.defaultValue)) vs ONNX \(String(describing: a["default"]))")
      }
    }
    return problems
  }

  func sameDefault(_ ours: Attribute?, _ theirs: Any?) -> Bool {
    switch (ours, theirs) {
    case (nil, nil), (nil, is NSNull): true
    case (.int(let v)?, let n as NSNumber): n.intValue == v
    case (.float(let v)?, let n as NSNumber): Float(n.doubleValue) == v
    case (.string(let v)?, let s as String): s == v
    case (.ints(let v)?, let list as [NSNumber]): list.map(\.intValue) == v
    // The schema dump writes a string list default as this placeholder.
    case (.strings?, let s as String): s == "<strings>"
    default: false
    }
  }
}

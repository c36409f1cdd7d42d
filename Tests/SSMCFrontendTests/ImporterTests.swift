import SSMCIR
import Testing

@testable import SSMCFrontend

/// The ONNX -> IR importer on hand-built models: functions, version adapters, opsets, all-errors-at-once.
struct ImporterTests {
  func node(_ op: String, _ inputs: [String], _ outputs: [String], name: String = "", domain: String = "", _ attributes: [ONNXAttribute] = []) -> ONNXNode {
    ONNXNode(name: name, opType: op, domain: domain, inputs: inputs, outputs: outputs, attributes: attributes)
  }
  func input(_ name: String, _ dims: [ONNXDim]) -> ONNXValueInfo { ONNXValueInfo(name: name, elementType: 1, dims: dims) }
  func model(_ nodes: [ONNXNode], inputs: [ONNXValueInfo], outputs: [String], opset: Int64 = 17, extra: [String: Int64] = [:],
             functions: [ONNXFunction] = [], initializers: [ONNXTensor] = []) -> ONNXModel {
    let graph = ONNXGraph(name: "g", nodes: nodes, initializers: initializers, inputs: inputs,
                          outputs: outputs.map { ONNXValueInfo(name: $0, elementType: nil, dims: nil) }, valueInfo: [])
    return ONNXModel(irVersion: 9, producerName: "test", opsetImports: ["": opset].merging(extra) { a, _ in a },
                     graph: graph, functions: functions, path: "test.onnx")
  }
  func text(_ m: ONNXModel) throws -> String { Printer().print(try Importer.importModel(m)) }
  func diagnostics(_ m: ONNXModel, _ options: ImportOptions = ImportOptions()) -> [String] {
    do {
      _ = try Importer.importModel(m, options: options)
      return []
    } catch {
      return error.all.map(\.description)
    }
  }

  @Test func inlinesModelLocalFunctionsWithAttributeReferences() throws {
    let body = [
      node("Mul", ["x", "x"], ["sq"], name: "square"),
      node("LeakyRelu", ["sq"], ["y"], name: "act", [ONNXAttribute(name: "alpha", value: .float(0), refAttrName: "slope")]),
    ]
    let function = ONNXFunction(name: "SquareAct", domain: "custom", inputs: ["x"], outputs: ["y"], attributes: ["slope"],
                                attributeDefaults: [], nodes: body, opsetImports: ["": 17])
    let m = model([node("SquareAct", ["in"], ["out"], name: "call", domain: "custom", [ONNXAttribute(name: "slope", value: .float(0.25))])],
                  inputs: [input("in", [.value(2)])], outputs: ["out"], extra: ["custom": 1], functions: [function])
    let printed = try text(m)
    #expect(printed.contains("%\"call/sq\" = Mul(%in, %in) : ? loc(\"call/square\")"))
    #expect(printed.contains("%out = LeakyRelu(%\"call/sq\") {alpha = 0.25} : ? loc(\"call/act\")"))
  }

  @Test func knownOpsAreNotExpandedEvenWithAFunctionBody() throws {
    let scanBody = [node("Identity", ["u"], ["y"])]
    let function = ONNXFunction(name: "SelectiveScan", domain: "ai.ssmc", inputs: ["u", "delta", "A", "B", "C"], outputs: ["y"],
                                attributes: [], attributeDefaults: [], nodes: scanBody, opsetImports: ["": 17])
    let m = model([node("SelectiveScan", ["u", "u", "A", "B", "B"], ["y"], name: "scan", domain: "ai.ssmc")],
                  inputs: [input("u", [.value(1), .value(4), .value(3)]), input("A", [.value(4), .value(2)]),
                           input("B", [.value(1), .value(2), .value(3)])],
                  outputs: ["y"], extra: ["ai.ssmc": 1], functions: [function])
    let printed = try text(m)
    #expect(printed.contains("ssmc.SelectiveScan(%u, %u, %A, %B, %B)"))
    #expect(!printed.contains("Identity"))
  }

  @Test func listsEveryUnsupportedOpBeforeImporting() {
    let m = model([node("Foo", ["x"], ["a"], name: "n1", domain: "x.y"), node("Relu", ["a"], ["b"]), node("Bar", ["b"], ["c"], name: "n2")],
                  inputs: [input("x", [.value(1)])], outputs: ["c"], extra: ["x.y": 3])
    let found = diagnostics(m)
    #expect(found.count == 2)
    #expect(found[0].contains("x.y.Foo (opset 3)") && found[0].contains("node 'n1'"))
    #expect(found[1].contains("ai.onnx.Bar (opset 17)") && found[1].contains("node 'n2'"))
  }

  @Test func reduceAxesAttributeBecomesAnInputBeforeOpset18() throws {
    let m = model([node("ReduceMean", ["x"], ["y"], [ONNXAttribute(name: "axes", value: .ints([-1]))])],
                  inputs: [input("x", [.value(2), .value(3)])], outputs: ["y"], opset: 13)
    let printed = try text(m)
    #expect(printed.contains("= const i64[1] [-1]"))
    #expect(printed.contains("ReduceMean(%x, %"))
    #expect(!printed.contains("{axes"))
  }

  @Test func splitWithoutSizesGetsItsOutputCountBeforeOpset18() throws {
    let m = model([node("Split", ["x"], ["a", "b"], [ONNXAttribute(name: "axis", value: .int(0))])],
                  inputs: [input("x", [.value(4)])], outputs: ["a", "b"], opset: 13)
    #expect(try text(m).contains("{axis = 0, num_outputs = 2}"))
  }

  @Test func opsetsOutsideTheSupportedRangeAreRejected() {
    let old = model([node("Add", ["x", "x"], ["y"])], inputs: [input("x", [.value(1)])], outputs: ["y"], opset: 6)
    #expect(diagnostics(old).first?.contains("Add version 6 (selected by opset 6) is not supported") == true)
    let zero = model([node("Relu", ["x"], ["y"])], inputs: [input("x", [.value(1)])], outputs: ["y"], opset: 0)
    #expect(diagnostics(zero).first?.contains("default-domain opset 0 is not supported") == true)
    let newer = model([node("Relu", ["x"], ["y"])], inputs: [input("x", [.value(1)])], outputs: ["y"], opset: 99)
    #expect(diagnostics(newer).first?.contains("opset 99") == true)
  }

  @Test func olderOpVersionsAreAdaptedOrRejected() throws {
    let squeeze = model([node("Squeeze", ["x"], ["y"], [ONNXAttribute(name: "axes", value: .ints([0]))])],
                        inputs: [input("x", [.value(1), .value(3)])], outputs: ["y"], opset: 11)
    #expect(try text(squeeze).contains("Squeeze(%x, %"))
    let clip = model([node("Clip", ["x"], ["y"], [ONNXAttribute(name: "max", value: .float(6))])],
                     inputs: [input("x", [.value(3)])], outputs: ["y"], opset: 9)
    let printed = try text(clip)
    #expect(printed.contains("= const f32[] [6.0]") && printed.contains("Clip(%x, none, %"))
    let softmax = model([node("Softmax", ["x"], ["y"], name: "s")], inputs: [input("x", [.value(3)])], outputs: ["y"], opset: 11)
    #expect(diagnostics(softmax).first?.contains("Softmax version 11 (selected by opset 11) is not supported") == true)
  }

  @Test func opsNewerThanTheModelsOpsetAreRejected() {
    let m = model([node("Gelu", ["x"], ["y"], name: "g")], inputs: [input("x", [.value(1)])], outputs: ["y"], opset: 17)
    #expect(diagnostics(m).first?.contains("Gelu is not defined in opset 17") == true)
  }

  @Test func inputShapesFixSymbolicDims() throws {
    let m = model([node("Relu", ["x"], ["y"])], inputs: [input("x", [.param("batch"), .value(3)])], outputs: ["y"])
    #expect(try text(m).contains("%x: f32[batch,3]"))
    let fixed = try Importer.importModel(m, options: ImportOptions(inputShapes: ["x": [5, 3]]))
    #expect(fixed.type(of: fixed.inputs[0]) == TensorType(.f32, shape: [5, 3]))
    #expect(diagnostics(m, ImportOptions(inputShapes: ["x": [5, 4]])).first?.contains("does not fit") == true)
    #expect(diagnostics(m, ImportOptions(inputShapes: ["nope": [1]])).first?.contains("not a graph input") == true)
    // nil keeps the model's dim, symbolic or not.
    let kept = try Importer.importModel(m, options: ImportOptions(inputShapes: ["x": [nil, 3]]))
    #expect(kept.type(of: kept.inputs[0]) == TensorType(.f32, [.symbol("batch"), .fixed(3)]))
    #expect(diagnostics(m, ImportOptions(inputShapes: ["x": [nil, 4]])).first?.contains("x=?x4 does not fit") == true)
  }

  @Test func constantNodesAndInitializersBecomeConstants() throws {
    let value = ONNXTensor(name: "", elementType: 7, dims: [2], data: TensorData.pack([Int64(3), -1]))
    let m = model([node("Constant", [], ["shape"], [ONNXAttribute(name: "value", value: .tensor(value))]), node("Reshape", ["x", "shape"], ["y"])],
                  inputs: [input("x", [.value(2), .value(3)])], outputs: ["y"],
                  initializers: [ONNXTensor(name: "unused", elementType: 1, dims: [1], data: TensorData.pack([Float(1)]))])
    let graph = try Importer.importModel(m)
    #expect(graph.constants.count == 2)
    #expect(graph.nodes.map(\.op) == ["Reshape"])
  }

  @Test func undefinedInputsAreReported() {
    let m = model([node("Relu", ["nowhere"], ["y"], name: "r")], inputs: [], outputs: ["y"])
    #expect(diagnostics(m).contains { $0.contains("'nowhere' is not produced") && $0.contains("node 'r'") })
  }
}

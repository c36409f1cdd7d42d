import Testing
import SSMCFrontend
#if canImport(Glibc)
import Glibc
#endif

/// Graph structure, attributes, value infos and functions, checked against what the fixture script wrote.
@Suite struct ModelStructureTests {
  @Test func modelHeaderAndIdentityNodes() throws {
    let model = try ONNXModel.load(contentsOf: fixture("initializers.onnx"))
    #expect(model.producerName == "ssmc-fixtures")
    #expect(model.irVersion > 0)
    #expect(model.opsetImports == ["": 18])
    #expect(model.path == fixture("initializers.onnx"))
    #expect(model.graph.name == "initializers")
    let first = try #require(model.graph.nodes.first)
    #expect(first.name == "id0" && first.opType == "Identity" && first.domain == "")
    #expect(first.inputs == ["raw_f32"] && first.outputs == ["out_raw_f32"])
    #expect(model.graph.nodes.count == model.graph.initializers.count)
    #expect(model.graph.outputs.first?.dims == [.value(2), .value(3)])
  }

  @Test func longDefaultDomainIsNormalized() throws {
    let model = try ONNXModel.load(contentsOf: fixture("ai_onnx_domain.onnx"))
    #expect(model.opsetImports == ["": 17, "com.example": 2])
    #expect(model.graph.nodes.map(\.domain) == [""])
  }

  @Test func symbolicDimsAndValueInfo() throws {
    let graph = try ONNXModel.load(contentsOf: fixture("symbolic.onnx")).graph
    #expect(graph.inputs.map(\.name) == ["x", "w"])
    #expect(graph.inputs[0].elementType == 1)
    #expect(graph.inputs[0].dims == [.param("batch"), .value(3), .unknown, .value(4)])
    #expect(graph.inputs[1].elementType == 7 && graph.inputs[1].dims == [.value(2)])
    #expect(graph.outputs.map(\.name) == ["y", "w_out"])
    #expect(graph.valueInfo.map(\.name) == ["t", "w_mid"])
    #expect(graph.valueInfo[0].dims == [.param("batch"), .value(3), .param("height"), .value(4)])
    #expect(graph.valueInfo[1].elementType == 7)
    #expect(graph.valueInfo[1].dims == nil)  // rank unknown
    #expect(graph.nodes.map(\.opType) == ["Relu", "Identity", "Identity", "Identity"])
  }

  @Test func constantNodesAndAttributeKinds() throws {
    let graph = try ONNXModel.load(contentsOf: fixture("constant.onnx")).graph
    func node(_ name: String) throws -> ONNXNode { try #require(graph.nodes.first { $0.name == name }) }

    guard case .ints(let ints)? = try node("const_ints").attribute("value_ints")?.value else {
      Issue.record("value_ints"); return
    }
    #expect(ints == [1, -2, 3])
    guard case .float(let f)? = try node("const_float").attribute("value_float")?.value else {
      Issue.record("value_float"); return
    }
    #expect(f == 0.5)
    guard case .string(let s)? = try node("const_string").attribute("value_string")?.value else {
      Issue.record("value_string"); return
    }
    #expect(s == "hello")
    guard case .int(let to)? = try node("cast").attribute("to")?.value else { Issue.record("to"); return }
    #expect(to == 1)
    guard case .ints(let perm)? = try node("transpose").attribute("perm")?.value else { Issue.record("perm"); return }
    #expect(perm == [1, 0])
    guard case .float(let alpha)? = try node("leaky").attribute("alpha")?.value else { Issue.record("alpha"); return }
    #expect(alpha == 0.25)
    #expect(try node("clip").inputs == ["c0", "", "c2"])
    #expect(graph.nodes.allSatisfy { node in node.attributes.allSatisfy { $0.refAttrName == nil } })

    let branch = try node("branch")
    guard case .graph(let thenGraph)? = branch.attribute("then_branch")?.value,
      case .graph(let elseGraph)? = branch.attribute("else_branch")?.value
    else { Issue.record("If branches are not graphs"); return }
    #expect(thenGraph.name == "then" && thenGraph.nodes.map(\.opType) == ["Identity"])
    #expect(elseGraph.name == "else" && elseGraph.nodes.map(\.name) == ["else_neg"])
    #expect(elseGraph.outputs.map(\.name) == ["r_else"] && elseGraph.outputs[0].dims == [.value(2), .value(2)])
    #expect(graph.inputs.first?.elementType == 9 && graph.inputs.first?.dims == [])
  }

  @Test func modelLocalFunction() throws {
    let model = try ONNXModel.load(contentsOf: fixture("function.onnx"))
    #expect(model.opsetImports == ["": 18, "ai.ssmc.test": 1])
    let call = try #require(model.graph.nodes.first)
    #expect(call.opType == "ScaleAdd" && call.domain == "ai.ssmc.test" && call.inputs == ["x", "y"])
    guard case .float(let alpha)? = call.attribute("alpha")?.value else { Issue.record("alpha"); return }
    #expect(alpha == 3.0)

    #expect(model.functions.count == 1)
    let function = try #require(model.functions.first)
    #expect(function.name == "ScaleAdd" && function.domain == "ai.ssmc.test")
    #expect(function.inputs == ["X", "Y"] && function.outputs == ["Z"])
    #expect(function.attributes == [])
    #expect(function.opsetImports == ["": 18])
    #expect(function.attributeDefaults.map(\.name) == ["alpha"])
    guard case .float(let defaultAlpha)? = function.attributeDefaults.first?.value else {
      Issue.record("default"); return
    }
    #expect(defaultAlpha == 2.0)
    #expect(function.nodes.map(\.opType) == ["Constant", "Mul", "Add"])
    let reference = try #require(function.nodes.first?.attributes.first)
    #expect(reference.name == "value_float" && reference.refAttrName == "alpha")
    #expect(function.nodes[1].inputs == ["X", "alpha"])
  }

  @Test func parseFromMemoryWithoutExternalData() throws {
    let bytes = try #require(FixtureBytes.read(fixture("symbolic.onnx")))
    let model = try ONNXModel.parse(bytes: bytes, path: "in-memory", baseDirectory: nil)
    #expect(model.path == "in-memory" && model.graph.inputs.count == 2)
  }
}

enum FixtureBytes {
  static func read(_ path: String) -> [UInt8]? {
    guard let handle = fopen(path, "rb") else { return nil }
    defer { fclose(handle) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = fread(&buffer, 1, buffer.count, handle)
      if n == 0 { break }
      bytes += buffer[..<n]
    }
    return bytes
  }
}

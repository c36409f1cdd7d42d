import Testing
@testable import SSMCFrontend

/// Tensors decoded from raw_data, typed fields and external files must equal numpy's bytes.
@Suite struct TensorDecodingTests {
  @Test(arguments: ["initializers.onnx", "external.onnx"])
  func initializersMatchNumpy(file: String) throws {
    let expected = try #require(try expectedTensors()[file])
    let model = try ONNXModel.load(contentsOf: fixture(file))
    #expect(model.graph.initializers.map(\.name) == expected.map(\.name))
    for (tensor, want) in zip(model.graph.initializers, expected) {
      #expect(tensor.elementType == want.elementType, "\(want.name)")
      #expect(tensor.dims == want.dims, "\(want.name)")
      #expect(tensor.data == want.bytes, "\(want.name)")
    }
  }

  @Test func constantTensorAttributeMatchesNumpy() throws {
    let want = try #require(try expectedTensors()["constant.onnx"]?.first)
    let model = try ONNXModel.load(contentsOf: fixture("constant.onnx"))
    let node = try #require(model.graph.nodes.first { $0.name == "const_tensor" })
    guard case .tensor(let tensor)? = node.attribute("value")?.value else {
      Issue.record("value is not a tensor attribute")
      return
    }
    #expect(tensor.name == want.name)
    #expect(tensor.dims == want.dims)
    #expect(tensor.data == want.bytes)
  }

  /// A few values written out literally, so a shared mistake in the JSON path cannot hide.
  @Test func literalValues() throws {
    let model = try ONNXModel.load(contentsOf: fixture("initializers.onnx"))
    func tensor(_ name: String) throws -> ONNXTensor {
      try #require(model.graph.initializers.first { $0.name == name })
    }
    #expect(try tensor("raw_f32").elements(as: Float.self) == [1.5, -2.25, 3.0, 0.0, 1e-3, -7.0])
    #expect(try tensor("typed_f32").elements(as: Float.self) == [0.1, -0.2, 3.4028235e38])
    #expect(try tensor("typed_i64").elements(as: Int64.self) == [-(1 << 62), 5, (1 << 40) + 7, -1])
    #expect(try tensor("typed_i32").elements(as: Int32.self) == [Int32.min, 0, Int32.max])
    #expect(try tensor("typed_bool").data == [1, 0, 0, 1])
    #expect(try tensor("typed_f64").elements(as: Double.self) == [Double.pi, -1e300])
    #expect(try tensor("typed_u8").data == [0, 200, 255])
    #expect(try tensor("typed_i8").elements(as: Int8.self) == [-128, -1, 127])
    #expect(try tensor("typed_i16").elements(as: Int16.self) == [-32768, 12345])
    #expect(try tensor("typed_u16").elements(as: UInt16.self) == [65535, 1])
    #expect(try tensor("typed_f16").elements(as: UInt16.self) == [0x3C00, 0xB800, 0x7BFF])
    #expect(try tensor("typed_u64").elements(as: UInt64.self) == [UInt64.max, 3])
    #expect(try tensor("typed_u32").elements(as: UInt32.self) == [UInt32.max, 17])
    let scalar = try tensor("raw_scalar")
    #expect(scalar.dims == [] && scalar.elementCount == 1 && scalar.elements(as: Float.self) == [2.5])
    let empty = try tensor("raw_empty")
    #expect(empty.dims == [0, 3] && empty.data.isEmpty)
  }

  @Test func externalDataWithoutLengthReadsToEndOfFile() throws {
    let model = try ONNXModel.load(contentsOf: fixture("external.onnx"))
    let c = try #require(model.graph.initializers.first { $0.name == "ext_c" })
    #expect(c.elements(as: Float.self) == [1.25, -3.5])
  }

  @Test func elementWidths() {
    #expect(ONNXElementType.byteCount(ONNXElementType.float, elements: 6) == 24)
    #expect(ONNXElementType.byteCount(ONNXElementType.bool, elements: 3) == 3)
    #expect(ONNXElementType.byteCount(ONNXElementType.int4, elements: 3) == 2)
    #expect(ONNXElementType.byteCount(ONNXElementType.complex128, elements: 2) == 32)
    #expect(ONNXElementType.byteCount(ONNXElementType.string, elements: 1) == nil)
    #expect(ONNXElementType.byteCount(ONNXElementType.float, elements: Int.max / 2) == nil)
  }
}

import Testing
@testable import SSMCCodegen

/// A library of several shape variants: they must share one interface, and the metadata reports -1 where
/// their shapes differ.
@Suite struct LibrarySignatureTests {
  func variant(_ index: Int, x: [Int64], y: [Int64], batch: Int? = nil, name: String = "m", type: Int32 = 1) -> ModelSignature {
    ModelSignature(
      name: name, inputs: [.init(name: "x", elementType: type, dims: x, sampleAxis: batch)],
      outputs: [.init(name: "y", elementType: 1, dims: y, sampleAxis: batch)], scratchBytes: 64 * (index + 1),
      kernelSymbol: "m_kernel_v\(index)")
  }

  func failure(_ variants: [ModelSignature]) -> String? {
    do {
      _ = try LibrarySignature(variants)
      return nil
    } catch {
      return error.message
    }
  }

  @Test func differingDimsAreReportedAsRunTimeDims() throws {
    let library = try LibrarySignature([
      variant(0, x: [1, 3, 16, 16], y: [1, 4, 8], batch: 0), variant(1, x: [1, 3, 24, 16], y: [1, 4, 12], batch: 0),
    ])
    #expect(library.inputs[0].reportedDims == [-1, 3, -1, 16])
    #expect(library.outputs[0].reportedDims == [-1, 4, -1])
    #expect(library.scratchBytes == 128)
    #expect(library.hasShapeVariants && library.hasRuntimeBatch)
    let header = HeaderGenerator.header(for: library)
    #expect(header.contains("x float32[-1, 3, -1, 16]") && header.contains("x [?, 3, 24, 16]"))
  }

  @Test func oneSignatureIsALibraryOfOneShape() throws {
    let library = try LibrarySignature([variant(0, x: [2, 3], y: [2])])
    #expect(library.inputs[0].reportedDims == [2, 3])
    #expect(!library.hasShapeVariants && !HeaderGenerator.header(for: library).contains("Compiled for"))
  }

  @Test func variantsMustShareTheInterface() {
    #expect(failure([]) != nil)
    #expect(failure([variant(0, x: [2, 3], y: [2]), variant(1, x: [2, 3, 1], y: [2])])?.contains("rank") == true)
    #expect(failure([variant(0, x: [2, 3], y: [2]), variant(1, x: [4, 3], y: [4], type: 11)])?.contains("type 11") == true)
    #expect(failure([variant(0, x: [2, 3], y: [2]), variant(1, x: [4, 3], y: [4], name: "other")])?.contains("model name") == true)
    #expect(failure([variant(0, x: [1, 3], y: [1], batch: 0), variant(1, x: [4, 3], y: [4])])?.contains("run-time batch") == true)
    #expect(failure([variant(0, x: [2, 3], y: [2]), variant(1, x: [2, 3], y: [2])])?.contains("those of variant 0") == true)
  }
}

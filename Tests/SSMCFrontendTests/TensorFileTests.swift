import Foundation
import SSMCFrontend
import Testing

/// TensorProto files written by onnx.numpy_helper through tools/make-tensor-fixtures.py.
let tensorFixtures = fixturesDirectory + "/tensors"

/// One entry of tensors/expected.json: a tensor as numpy holds it, or the word a rejection must mention.
struct ExpectedTensorFile: Decodable {
  var name: String?
  var elementType: Int32?
  var dims: [Int64]?
  var hex: String?
  var error: String?
}

func expectedTensorFiles() throws -> [String: ExpectedTensorFile] {
  let data = try Data(contentsOf: URL(fileURLWithPath: tensorFixtures + "/expected.json"))
  return try JSONDecoder().decode([String: ExpectedTensorFile].self, from: data)
}

@Suite struct TensorFileTests {
  static let files = (try? expectedTensorFiles()) ?? [:]
  static let goodFiles = files.filter { $0.value.error == nil }.keys.sorted()
  static let badFiles = files.filter { $0.value.error != nil }.keys.sorted()

  @Test func fixturesArePresent() {
    #expect(Self.goodFiles.count >= 8 && Self.badFiles.count >= 4)
  }

  @Test(arguments: goodFiles) func readsNumpyHelperFile(_ file: String) throws {
    let expected = try #require(Self.files[file])
    let tensor = try ONNXTensor.load(contentsOf: "\(tensorFixtures)/\(file)")
    let bytes = ExpectedTensor(name: "", elementType: 0, dims: [], hex: try #require(expected.hex)).bytes
    #expect(tensor.name == expected.name)
    #expect(tensor.elementType == expected.elementType)
    #expect(tensor.dims == expected.dims)
    #expect(tensor.data == bytes)
  }

  @Test(arguments: badFiles) func rejectsWithReason(_ file: String) throws {
    let word = try #require(Self.files[file]?.error)
    do {
      let tensor = try ONNXTensor.load(contentsOf: "\(tensorFixtures)/\(file)")
      Issue.record("\(file) must be rejected, read \(tensor)")
    } catch {
      #expect(error.description.contains(file) && error.description.contains(word), "\(error)")
    }
  }

  /// Every prefix of a valid file is either rejected or, where protobuf allows, decodes without crashing.
  @Test func truncationsNeverCrash() throws {
    let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: "\(tensorFixtures)/f4_2x3.pb")))
    var rejected = 0
    for length in 0..<bytes.count {
      do {
        _ = try ONNXTensor.parse(protobufBytes: Array(bytes[..<length]), path: "cut.pb")
      } catch {
        rejected += 1
      }
    }
    // The data is the last field, so every cut loses data or breaks the encoding.
    #expect(rejected == bytes.count)
  }

  @Test func missingFileIsCannotRead() {
    #expect(throws: ONNXLoadError.self) { _ = try ONNXTensor.load(contentsOf: "\(tensorFixtures)/absent.pb") }
    do {
      _ = try ONNXTensor.load(contentsOf: tensorFixtures)
    } catch {
      guard case .cannotRead = error else { Issue.record("a directory must be unreadable, got \(error)"); return }
    }
  }
}

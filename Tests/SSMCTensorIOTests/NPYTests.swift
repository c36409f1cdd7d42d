import Foundation
import SSMCFrontend
import Testing

@testable import SSMCTensorIO

/// Fixtures written by numpy through tools/make-tensor-fixtures.py.
let npyDirectory: String = {
  let thisFile = "\(#filePath)"
  return String(thisFile[..<thisFile.lastIndex(of: "/")!]) + "/Fixtures/npy"
}()

/// One entry of expected.json: a tensor numpy wrote, or the word a rejection must mention.
struct ExpectedFile: Decodable {
  var elementType: Int32?
  var dims: [Int64]?
  var hex: String?
  var error: String?

  var bytes: [UInt8] {
    let hex = Array((hex ?? "").utf8)
    return stride(from: 0, to: hex.count, by: 2).map { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
  }
}

func expectedFiles() throws -> [String: ExpectedFile] {
  let data = try Data(contentsOf: URL(fileURLWithPath: npyDirectory + "/expected.json"))
  return try JSONDecoder().decode([String: ExpectedFile].self, from: data)
}

func fileBytes(_ path: String) throws -> [UInt8] {
  Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

@Suite struct NPYTests {
  static let goodFiles = ((try? expectedFiles()) ?? [:]).filter { $0.value.error == nil }.keys.sorted()
  static let badFiles = ((try? expectedFiles()) ?? [:]).filter { $0.value.error != nil }.keys.sorted()

  @Test func fixturesArePresent() {
    #expect(Self.goodFiles.count >= 11 && Self.badFiles.count >= 6)
  }

  /// Every numpy-written file reads as the type, shape and bytes numpy holds.
  @Test(arguments: goodFiles) func readsNumpyFile(_ name: String) throws {
    let expected = try #require(try expectedFiles()[name])
    let tensor = try NPY.load(contentsOf: "\(npyDirectory)/\(name)")
    #expect(tensor.elementType == expected.elementType)
    #expect(tensor.dims == expected.dims)
    #expect(tensor.data == expected.bytes)
  }

  /// Encoding what was read gives numpy's own file byte for byte (header text, padding, data); version 2
  /// and 3 files come back as version 1, which numpy also writes for short headers.
  @Test(arguments: goodFiles) func writesWhatNumpyWrites(_ name: String) throws {
    let original = try fileBytes("\(npyDirectory)/\(name)")
    let encoded = try NPY.encode(try NPY.parse(original, path: name))
    if original[6] == 1 {
      #expect(encoded == original)
    } else {
      let reread = try NPY.parse(encoded, path: "encoded")
      #expect(reread == (try NPY.parse(original, path: name)))
      #expect(encoded[6] == 1)
    }
  }

  @Test(arguments: badFiles) func rejectsWithReason(_ name: String) throws {
    let word = try #require(try expectedFiles()[name]?.error)
    do {
      let tensor = try NPY.load(contentsOf: "\(npyDirectory)/\(name)")
      Issue.record("\(name) must be rejected, read \(tensor.dims)")
    } catch {
      #expect(error.path.hasSuffix(name))
      #expect(error.reason.contains(word), "\(error.reason)")
    }
  }

  @Test func rejectsEveryTruncation() throws {
    let original = try fileBytes("\(npyDirectory)/f4_2x3.npy")
    for length in 0..<original.count {
      #expect(throws: NPYError.self) { _ = try NPY.parse(Array(original[..<length]), path: "cut") }
    }
  }

  @Test func missingFileAndDirectoryAreErrors() {
    #expect(throws: NPYError.self) { _ = try NPY.load(contentsOf: "\(npyDirectory)/no-such-file.npy") }
    #expect(throws: NPYError.self) { _ = try NPY.load(contentsOf: npyDirectory) }
  }

  @Test func headerParser() throws {
    let header = try NPYHeader.parse("{'descr': '<i8', 'fortran_order': False, 'shape': (3L, 4L), }  \n")
    #expect(header == NPYHeader(descr: "<i8", fortranOrder: false, shape: [3, 4]))
    #expect(try NPYHeader.parse("{\"shape\":(),\"descr\":\"|b1\",\"fortran_order\":True}").shape == [])
    for bad in [
      "", "{", "{'descr': '<f4', 'fortran_order': False}", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
      "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}",
      "{'descr': '<f4', 'fortran_order': 0, 'shape': ()}", "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x",
    ] {
      #expect(throws: NPYHeader.ParseError.self, "\(bad)") { _ = try NPYHeader.parse(bad) }
    }
  }

  @Test func encodeRejectsUnsupportedTypeAndWrongSize() {
    #expect(throws: NPYError.self) { _ = try NPY.encode(ONNXTensor(name: "h", elementType: ONNXElementType.float16, dims: [1], data: [0, 0])) }
    #expect(throws: NPYError.self) { _ = try NPY.encode(ONNXTensor(name: "f", elementType: ONNXElementType.float, dims: [2], data: [0, 0, 0, 0])) }
  }
}

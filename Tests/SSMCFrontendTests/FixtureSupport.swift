import Foundation
import SSMCFrontend

/// The folder of .onnx files written by tools/make-frontend-fixtures.py.
let fixturesDirectory: String = {
  let thisFile = "\(#filePath)"
  return String(thisFile[..<thisFile.lastIndex(of: "/")!]) + "/Fixtures"
}()

func fixture(_ name: String) -> String {
  fixturesDirectory + "/" + name
}

/// Loads a fixture and returns the error it raises, or nil when it loads.
func loadError(_ name: String) -> ONNXLoadError? {
  do {
    _ = try ONNXModel.load(contentsOf: fixture(name))
    return nil
  } catch {
    return error
  }
}

/// One tensor as numpy wrote it into expected.json.
struct ExpectedTensor: Decodable {
  var name: String
  var elementType: Int32
  var dims: [Int64]
  var hex: String

  var bytes: [UInt8] {
    var result: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
      let next = hex.index(index, offsetBy: 2)
      result.append(UInt8(hex[index..<next], radix: 16)!)
      index = next
    }
    return result
  }
}

/// expected.json: fixture file name -> its tensors.
func expectedTensors() throws -> [String: [ExpectedTensor]] {
  let data = try Data(contentsOf: URL(fileURLWithPath: fixture("expected.json")))
  return try JSONDecoder().decode([String: [ExpectedTensor]].self, from: data)
}

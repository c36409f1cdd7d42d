import Foundation
import SSMCFrontend
import SSMCTensorIO
import Testing

/// End-to-end tests of `ssmc run` and `ssmc check` on a hand-written C library with the generic ssmc_* ABI
/// (Fixtures/affine.c: y = 2x + 1, positives = count of x > 0). Data sets and .npy inputs come from numpy
/// through tools/make-tensor-fixtures.py; test_data_set_1 has one wrong element in y.
let fixtures: String = {
  let thisFile = "\(#filePath)"
  return String(thisFile[..<thisFile.lastIndex(of: "/")!]) + "/Fixtures"
}()

/// The ssmc executable, built beside this test bundle.
let ssmcExecutable: String = {
  let bundle = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
  return URL(fileURLWithPath: bundle).deletingLastPathComponent().appendingPathComponent("ssmc").path
}()

struct Outcome {
  var status: Int32
  var standardOutput: String
  var standardError: String
}

func execute(_ executable: String, _ arguments: [String]) throws -> Outcome {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  let out = Pipe(), err = Pipe()
  process.standardOutput = out
  process.standardError = err
  try process.run()
  let outData = out.fileHandleForReading.readDataToEndOfFile()
  let errData = err.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return Outcome(
    status: process.terminationStatus, standardOutput: String(decoding: outData, as: UTF8.self),
    standardError: String(decoding: errData, as: UTF8.self))
}

func ssmc(_ arguments: String...) throws -> Outcome { try execute(ssmcExecutable, arguments) }

/// A fresh directory holding libaffine.so, removed when the value is released.
final class Workspace {
  let path: String
  let library: String

  init() throws {
    path = NSTemporaryDirectory() + "ssmc-runcheck-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    library = path + "/libaffine.so"
    let cc = try execute("/usr/bin/cc", ["-shared", "-fPIC", "-O1", "-o", library, fixtures + "/affine.c"])
    guard cc.status == 0 else { throw ToolFailure(message: cc.standardError) }
  }

  deinit { try? FileManager.default.removeItem(atPath: path) }

  func files(in directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
  }
}

struct ToolFailure: Error { var message: String }

@Suite struct RunCheckTests {
  @Test func checkPassesOnMatchingDataSet() throws {
    let w = try Workspace()
    let result = try ssmc("check", w.library, fixtures + "/affine/test_data_set_0")
    #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
    #expect(result.standardOutput.contains("output 0 'y' float32 [2, 3]: max-abs"))
    #expect(result.standardOutput.contains("output 1 'positives' int64 [1]: max-abs 0.000e+00"))
    #expect(result.standardOutput.hasSuffix("PASS: 2 outputs within tolerance\n"), "\(result.standardOutput)")
  }

  @Test func checkFailsOnWrongElement() throws {
    let w = try Workspace()
    let result = try ssmc("check", w.library, fixtures + "/affine/test_data_set_1", "--threads", "1")
    #expect(result.status == 1, "\(result.standardOutput)\(result.standardError)")
    // The fixture moved y[4] (index [1, 1]) by 0.5.
    #expect(result.standardOutput.contains("max-abs 5.000e-01"), "\(result.standardOutput)")
    #expect(result.standardOutput.contains("mismatches 1/6  worst [1, 1]  FAIL"), "\(result.standardOutput)")
    #expect(result.standardOutput.contains("FAIL: 1 of 2 outputs"))
    // A criterion loose enough for a 0.5 error against max|y| passes.
    let loose = try ssmc("check", w.library, fixtures + "/affine/test_data_set_1", "--rel-to-max", "1")
    #expect(loose.status == 0, "\(loose.standardOutput)")
  }

  @Test func checkUsageAndIOErrorsExit2() throws {
    let w = try Workspace()
    let missing = try ssmc("check", w.library, w.path + "/nothing")
    #expect(missing.status == 2 && missing.standardError.contains("output_0.pb"), "\(missing.standardError)")
    let noLibrary = try ssmc("check", w.path + "/absent.so", fixtures + "/affine/test_data_set_0")
    #expect(noLibrary.status == 2 && noLibrary.standardError.contains("absent.so"), "\(noLibrary.standardError)")
    let badTolerance = try ssmc("check", w.library, fixtures + "/affine/test_data_set_0", "--rtol=-1")
    #expect(badTolerance.status == 2 && badTolerance.standardError.contains("--rtol"))
    // Errors found by the argument parser exit 2 as well.
    let missingArgument = try ssmc("check", w.library)
    #expect(missingArgument.status == 2 && missingArgument.standardError.contains("DATASET_DIR"), "\(missingArgument.standardError)")
  }

  /// `run` writes output_K.npy files equal to the numpy-computed expected outputs, from .npy or .pb inputs.
  @Test(arguments: ["input_0.npy", "test_data_set_0/input_0.pb"])
  func runWritesOutputs(_ input: String) throws {
    let w = try Workspace()
    let outDir = w.path + "/out/nested"
    let result = try ssmc("run", w.library, "-i", "\(fixtures)/affine/\(input)", "-o", outDir)
    #expect(result.status == 0, "\(result.standardError)")
    #expect(result.standardOutput.contains("output 0 'y': float32 [2, 3] -> \(outDir)/output_0.npy"))
    #expect(result.standardOutput.contains("output 1 'positives': int64 [1] -> \(outDir)/output_1.npy"))
    #expect(w.files(in: outDir) == ["output_0.npy", "output_1.npy"])
    for k in 0..<2 {
      let written = try NPY.load(contentsOf: "\(outDir)/output_\(k).npy")
      let expected = try ONNXTensor.load(contentsOf: "\(fixtures)/affine/test_data_set_0/output_\(k).pb")
      let comparison = TensorComparison(actual: written, expected: ONNXTensor(name: "", elementType: expected.elementType, dims: expected.dims, data: expected.data))
      #expect(comparison.passed && comparison.maxAbsError <= 1e-6, "\(comparison)")
    }
  }

  @Test func runRejectsBadInputsAndWritesNothing() throws {
    let w = try Workspace()
    let outDir = w.path + "/out"
    let cases: [([String], String)] = [
      (["-i", "\(fixtures)/affine/bad_shape.npy"], "shape [2, 3]"),
      (["-i", "\(fixtures)/affine/input_0.npy", "-i", "\(fixtures)/affine/input_0.npy"], "takes 1 inputs"),
      ([], "takes 1 inputs"),
      (["-i", "\(fixtures)/affine/test_data_set_0/output_1.pb"], "must be float32"),
      (["-i", "\(fixtures)/affine.c"], "unknown tensor file type"),
      (["-i", "\(w.path)/missing.npy"], "missing.npy"),
    ]
    for (arguments, message) in cases {
      let result = try execute(ssmcExecutable, ["run", w.library, "-o", outDir] + arguments)
      #expect(result.status == 1, "\(arguments)")
      #expect(result.standardError.contains(message), "\(arguments): \(result.standardError)")
      #expect(w.files(in: outDir).isEmpty, "\(arguments)")
    }
  }
}

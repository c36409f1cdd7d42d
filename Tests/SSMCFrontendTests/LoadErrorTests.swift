import Testing
@testable import SSMCFrontend

/// Every kind of bad input gives its own error naming the file and tensor, and nothing crashes.
@Suite struct LoadErrorTests {
  @Test func missingFile() {
    let path = fixture("no_such_model.onnx")
    guard case .cannotRead(let p, let reason)? = loadError("no_such_model.onnx") else {
      Issue.record("expected cannotRead"); return
    }
    #expect(p == path && reason.contains("No such file"))
  }

  @Test func directoryIsNotAModel() {
    guard case .cannotRead(_, "not a regular file")? = loadErrorAt(fixturesDirectory) else {
      Issue.record("expected cannotRead for a directory"); return
    }
  }

  @Test(arguments: ["truncated.onnx", "garbage.onnx"])
  func notProtobuf(file: String) {
    let error = loadError(file)
    guard case .invalidProtobuf(let p, let count)? = error else {
      Issue.record("expected invalidProtobuf, got \(String(describing: error))"); return
    }
    #expect(p == fixture(file) && count > 0)
    #expect(error!.description.contains(file))
  }

  @Test func emptyAndGraphlessInputs() {
    #expect(throws: ONNXLoadError.invalidProtobuf(path: "empty", byteCount: 0)) {
      try ONNXModel.parse(bytes: [], path: "empty", baseDirectory: nil)
    }
    #expect(loadError("no_graph.onnx") == .missingGraph(path: fixture("no_graph.onnx")))
  }

  @Test func externalDataErrors() {
    #expect(
      loadError("external_missing.onnx")
        == .externalDataMissing(
          path: fixture("external_missing.onnx"), tensor: "ext_missing", file: "does_not_exist.bin",
          reason: "No such file or directory"))
    // The escaping path names a file that exists, so only the containment check can stop it.
    #expect(
      loadError("external_escape.onnx")
        == .externalDataEscapes(
          path: fixture("external_escape.onnx"), tensor: "ext_escape", location: "../Fixtures/external.bin"))
    guard case .externalDataOutOfRange(_, "ext_far", "external.bin", let reason)? = loadError("external_out_of_range.onnx")
    else { Issue.record("expected externalDataOutOfRange"); return }
    #expect(reason.contains("128") && reason.contains("136"))
    #expect(
      loadError("external_wrong_length.onnx")
        == .tensorSizeMismatch(
          path: fixture("external_wrong_length.onnx"), tensor: "ext_short",
          field: "external data in 'external.bin' (bytes)", expected: 16, actual: 12))
  }

  @Test func externalDataNeedsABaseDirectory() throws {
    let bytes = try #require(FixtureBytes.read(fixture("external.onnx")))
    guard case .externalDataMissing(_, "ext_a", "external.bin", _)? = parseError(bytes, baseDirectory: nil) else {
      Issue.record("expected externalDataMissing"); return
    }
  }

  @Test func locationContainment() {
    for inside in ["w.bin", "./w.bin", "sub/w.bin", "sub/../w.bin", "a//b"] {
      #expect(ProtoConverter.isInsideModelDirectory(inside), "\(inside)")
    }
    for outside in ["/etc/passwd", "../w.bin", "sub/../../w.bin", "..", ".", "", "sub/.."] {
      #expect(!ProtoConverter.isInsideModelDirectory(outside), "\(outside)")
    }
  }

  @Test func badTensors() {
    #expect(
      loadError("bad_raw_size.onnx")
        == .tensorSizeMismatch(
          path: fixture("bad_raw_size.onnx"), tensor: "short_raw", field: "raw_data (bytes)", expected: 24,
          actual: 20))
    #expect(loadError("negative_dims.onnx") == .invalidDims(path: fixture("negative_dims.onnx"), tensor: "neg_dims", dims: [-1, 2]))
    #expect(
      loadError("huge_dims.onnx")
        == .invalidDims(path: fixture("huge_dims.onnx"), tensor: "huge_dims", dims: [1 << 40, 1 << 40]))
    for (file, tensor) in [
      ("wrong_typed_field.onnx", "wrong_field"), ("string_initializer.onnx", "names"),
      ("sparse_initializer.onnx", "sparse_w"),
    ] {
      guard case .unsupportedTensorEncoding(let p, let t, _)? = loadError(file) else {
        Issue.record("\(file): expected unsupportedTensorEncoding"); continue
      }
      #expect(p == fixture(file) && t == tensor, "\(file)")
    }
  }

  @Test func descriptionsNameFileAndTensor() {
    let error = ONNXLoadError.externalDataEscapes(path: "m.onnx", tensor: "W", location: "../x")
    #expect(error.description.contains("m.onnx") && error.description.contains("'W'"))
    let mismatch = loadError("bad_raw_size.onnx")!.description
    #expect(mismatch.contains("bad_raw_size.onnx") && mismatch.contains("short_raw"))
  }

  /// Every prefix of a valid model is rejected or decoded, never a crash.
  @Test func everyTruncationIsHandled() throws {
    let bytes = try #require(FixtureBytes.read(fixture("constant.onnx")))
    var rejected = 0
    for length in 0..<bytes.count where parseError(Array(bytes[..<length]), baseDirectory: nil) != nil {
      rejected += 1
    }
    // Cutting inside the graph field (most prefixes) must fail; cutting between fields may parse.
    #expect(rejected > bytes.count / 2)
  }

  /// Deterministic byte corruption of a valid model: decoding may fail but must not crash.
  @Test func corruptedBytesAreHandled() throws {
    let original = try #require(FixtureBytes.read(fixture("initializers.onnx")))
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    for _ in 0..<400 {
      var bytes = original
      for _ in 0..<3 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        bytes[Int(state >> 33) % bytes.count] = UInt8(truncatingIfNeeded: state >> 17)
      }
      _ = parseError(bytes, baseDirectory: fixturesDirectory)
    }
  }
}

func parseError(_ bytes: [UInt8], baseDirectory: String?) -> ONNXLoadError? {
  do {
    _ = try ONNXModel.parse(bytes: bytes, path: "memory", baseDirectory: baseDirectory)
    return nil
  } catch {
    return error
  }
}

func loadErrorAt(_ path: String) -> ONNXLoadError? {
  do {
    _ = try ONNXModel.load(contentsOf: path)
    return nil
  } catch {
    return error
  }
}

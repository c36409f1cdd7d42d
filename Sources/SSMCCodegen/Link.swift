/// Links objects and generated C into a shared library with the system C compiler.
///
/// The library depends on libc, libm and libpthread only. `-Bsymbolic` binds the library's references to
/// its own definitions, so the generic `ssmc_*` names of two models loaded into one process never cross;
/// `-z defs` turns an unresolved symbol into a link error instead of a failure at load time.
public struct SharedLibraryLinker: Sendable {
  /// The C compiler driver that also links (`cc` from PATH unless set).
  public var compiler: String

  public init(compiler: String = "cc") { self.compiler = compiler }

  /// A C translation unit compiled into the library.
  public struct CSource: Sendable {
    public var fileName: String
    public var text: String
    public init(fileName: String, text: String) {
      self.fileName = fileName
      self.text = text
    }
  }

  /// Links object files (as bytes) and C sources into `output`, written atomically: a failed link leaves
  /// no file behind and an existing `output` untouched. Errors carry the compiler's standard error.
  public func link(objects: [[UInt8]], cSources: [CSource], headers: [CSource] = [], to output: String) throws(CodegenError) {
    let scratch = try TemporaryDirectory()
    var inputs: [String] = []
    for (index, object) in objects.enumerated() {
      let path = "\(scratch.path)/object\(index).o"
      try AtomicFile.write(object, to: path)
      inputs.append(path)
    }
    for file in headers + cSources {
      try AtomicFile.write(Array(file.text.utf8), to: "\(scratch.path)/\(file.fileName)")
    }
    inputs += cSources.map { "\(scratch.path)/\($0.fileName)" }
    let temporary = try AtomicFile.makeTemporary(near: output)
    _ = Glibc.close(temporary.fd)
    let arguments = [
      compiler, "-shared", "-fPIC", "-O2", "-std=c11", "-Wl,-Bsymbolic", "-Wl,-z,defs", "-I", scratch.path,
      "-o", temporary.path,
    ] + inputs + ["-lm", "-lpthread"]
    let result: Subprocess.Result
    do {
      result = try Subprocess.run(arguments)
    } catch {
      _ = Glibc.unlink(temporary.path)
      throw error
    }
    guard result.status == 0 else {
      _ = Glibc.unlink(temporary.path)
      throw CodegenError(.link, "\(compiler) failed (exit \(result.status)) linking \(output):\n\(result.standardError)")
    }
    try AtomicFile.commit(temporary.path, to: output)
  }
}

import Glibc

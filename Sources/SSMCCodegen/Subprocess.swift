import Glibc

/// Runs a program to completion without a shell, capturing its standard error.
enum Subprocess {
  struct Result {
    var status: Int32
    var standardError: String
  }

  /// Runs `arguments[0]` (looked up in PATH) with `arguments`; standard output is discarded.
  static func run(_ arguments: [String]) throws(CodegenError) -> Result {
    let scratch = try TemporaryDirectory()
    let errorPath = scratch.path + "/stderr"
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let spawned = posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ)
    guard spawned == 0 else {
      throw CodegenError(.link, "cannot run \(arguments[0]): \(String(cString: strerror(spawned)))")
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
      if errno != EINTR { throw CodegenError(.link, "waiting for \(arguments[0]) failed") }
    }
    // WIFEXITED/WEXITSTATUS are macros Swift cannot import.
    let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return Result(status: exitCode, standardError: (try? readFile(errorPath)) ?? "")
  }
}

/// A fresh directory under TMPDIR, removed with its files when this value is released.
final class TemporaryDirectory {
  let path: String

  init() throws(CodegenError) {
    let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
    var template = Array("\(base)/ssmc-XXXXXX".utf8CString)
    guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
      throw CodegenError(.io, "cannot create a temporary directory in \(base)")
    }
    path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  deinit {
    if let dir = opendir(path) {
      while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { unlink(path + "/" + name) }
      }
      closedir(dir)
    }
    rmdir(path)
  }
}

/// The contents of a text file.
func readFile(_ path: String) throws(CodegenError) -> String {
  guard let file = fopen(path, "rb") else { throw CodegenError(.io, "cannot read \(path)") }
  defer { fclose(file) }
  var bytes: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 65536)
  while true {
    let n = fread(&chunk, 1, chunk.count, file)
    if n <= 0 { break }
    bytes += chunk[0..<n]
  }
  return String(decoding: bytes, as: UTF8.self)
}

import CLLVM

/// An LLVM target machine for one triple, CPU and feature set; optimizes and emits modules.
///
/// CPU names are validated against `KnownCPUs` (a snapshot of LLVM 19's CPU tables made by
/// `tools/gen-cpu-list.sh`): the C API offers no CPU list, and for an unknown name LLVM only prints a
/// warning and silently generates generic code. Architectures without a snapshot accept any name.
public final class TargetMachine {
  public let machine: LLVMTargetMachineRef
  public let triple: String
  public let cpu: String
  /// The `+feat,-feat` string given to LLVM; empty for a named CPU (its own defaults).
  public let features: String
  public let optLevel: Int

  /// Registers every target LLVM was built with, once per process.
  private static let initialized: Bool = {
    LLVMInitializeAllTargetInfos()
    LLVMInitializeAllTargets()
    LLVMInitializeAllTargetMCs()
    LLVMInitializeAllAsmPrinters()
    return true
  }()

  /// The host's default triple, e.g. `x86_64-pc-linux-gnu`.
  public static var hostTriple: String { takeMessage(LLVMGetDefaultTargetTriple()) }

  /// The host CPU as LLVM names it, e.g. `znver4`.
  public static var hostCPU: String { takeMessage(LLVMGetHostCPUName()) }

  public init(_ options: TargetOptions) throws(CodegenError) {
    _ = Self.initialized
    guard (0...3).contains(options.optLevel) else {
      throw CodegenError(.targetMachine, "optimization level must be 0...3, got \(options.optLevel)")
    }
    let triple = options.triple.map { takeMessage(LLVMNormalizeTargetTriple($0)) } ?? Self.hostTriple
    var target: LLVMTargetRef?
    var error: UnsafeMutablePointer<CChar>?
    if LLVMGetTargetFromTriple(triple, &target, &error) != 0 || target == nil {
      let message = error.map { String(cString: $0) } ?? "no such target"
      LLVMDisposeMessage(error)
      throw CodegenError(.unknownTriple, "unknown target triple '\(triple)': \(message)")
    }
    let isHost = options.triple == nil || triple == Self.hostTriple
    var cpu = options.cpu
    var features = ""
    if cpu == "native" {
      guard isHost else {
        throw CodegenError(.unknownCPU, "--target-cpu native needs the host triple; name a CPU for '\(triple)'")
      }
      cpu = Self.hostCPU
      features = takeMessage(LLVMGetHostCPUFeatures())
    } else {
      try Self.validate(cpu: cpu, triple: triple)
    }
    let level: LLVMCodeGenOptLevel =
      switch options.optLevel {
      case 0: LLVMCodeGenLevelNone
      case 1: LLVMCodeGenLevelLess
      case 2: LLVMCodeGenLevelDefault
      default: LLVMCodeGenLevelAggressive
      }
    // PIC: the objects go into a shared library.
    guard let machine = LLVMCreateTargetMachine(target, triple, cpu, features, level, LLVMRelocPIC, LLVMCodeModelDefault)
    else { throw CodegenError(.targetMachine, "LLVM could not create a target machine for \(triple) / \(cpu)") }
    self.machine = machine
    self.triple = triple
    self.cpu = cpu
    self.features = features
    self.optLevel = options.optLevel
  }

  deinit { LLVMDisposeTargetMachine(machine) }

  /// The architecture component of the triple (`x86_64`, `aarch64` ...).
  public var architecture: String { String(triple.prefix { $0 != "-" }) }

  public var isX86: Bool { ["x86_64", "i386", "i686", "x86"].contains(architecture) }

  /// Throws `unknownCPU`, listing close names, when LLVM does not know `cpu` for `triple`'s architecture.
  static func validate(cpu: String, triple: String) throws(CodegenError) {
    var arch = String(triple.prefix { $0 != "-" })
    if arch == "arm64" { arch = "aarch64" }
    guard let known = KnownCPUs.byArchitecture[arch] else { return }
    guard !known.contains(cpu) else { return }
    let stem = cpu.prefix(3).lowercased()
    let similar = known.filter { $0.hasPrefix(stem) }.sorted().prefix(12)
    let hint = similar.isEmpty ? "" : " (similar: \(similar.joined(separator: ", ")))"
    throw CodegenError(
      .unknownCPU,
      "unknown CPU '\(cpu)' for \(arch)\(hint); use 'native' or a name from `llc-19 -mtriple=\(triple) -mcpu=help`")
  }
}

/// Copies an LLVM-allocated string and frees it.
func takeMessage(_ raw: UnsafeMutablePointer<CChar>?) -> String {
  guard let raw else { return "" }
  defer { LLVMDisposeMessage(raw) }
  return String(cString: raw)
}

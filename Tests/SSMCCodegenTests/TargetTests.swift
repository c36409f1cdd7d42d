import Testing
@testable import SSMCCodegen

/// `void saxpy(float *noalias y, const float *noalias x, float a, int64_t n)`: y += a * x, a loop the
/// vectorizer must widen to the CPU's preferred vector width.
private func saxpyModule() -> LLVMModule {
  let module = LLVMModule(name: "saxpy")
  let k = KernelBuilder(module: module)
  k.defineFunction(
    "saxpy", returns: module.void,
    params: [.init("y", module.ptr, noalias: true), .init("x", module.ptr, noalias: true),
             .init("a", module.f32), .init("n", module.i64)]
  ) { p in
    k.forLoop(from: k.i64(0), to: p[3]) { i in
      let y = k.load(.f32, from: p[0], at: i)
      k.store(k.mulAdd(p[2], k.load(.f32, from: p[1], at: i), y), .f32, to: p[0], at: i)
    }
  }
  return module
}

private func assembly(_ module: LLVMModule, cpu: String, triple: String? = nil) throws -> String {
  let target = try TargetMachine(TargetOptions(cpu: cpu, triple: triple ?? "x86_64-unknown-linux-gnu", optLevel: 3))
  try target.compile(module)
  return String(decoding: try target.emit(module, as: .assembly), as: UTF8.self)
}

@Suite struct TargetTests {
  @Test func znver4UsesZmm() throws {
    let asm = try assembly(saxpyModule(), cpu: "znver4")
    #expect(asm.contains("zmm"), "no 512-bit registers in:\n\(asm)")
  }

  /// skylake-avx512 prefers 256-bit vectors in LLVM 19; the prefer-vector-width attribute must override that.
  @Test func skylakeAVX512UsesZmm() throws {
    let asm = try assembly(saxpyModule(), cpu: "skylake-avx512")
    #expect(asm.contains("zmm"))
  }

  @Test func x8664v3UsesYmmOnly() throws {
    let asm = try assembly(saxpyModule(), cpu: "x86-64-v3")
    #expect(asm.contains("ymm"))
    #expect(!asm.contains("zmm"))
  }

  @Test func unknownCPUIsAClearError() {
    do {
      _ = try TargetMachine(TargetOptions(cpu: "znver99", triple: "x86_64-unknown-linux-gnu"))
      Issue.record("znver99 must be rejected")
    } catch {
      #expect(error.code == .unknownCPU)
      #expect(error.message.contains("znver99") && error.message.contains("znver4"), "\(error.message)")
    }
  }

  @Test func unknownTripleIsAClearError() {
    #expect(throws: CodegenError.self) { _ = try TargetMachine(TargetOptions(cpu: "generic", triple: "nonsense-cpu-none")) }
  }

  @Test func nativeNeedsHostTriple() {
    #expect(throws: CodegenError.self) { _ = try TargetMachine(TargetOptions(cpu: "native", triple: "aarch64-unknown-linux-gnu")) }
  }

  /// Cross compilation: an AArch64 object from an x86 host, with NEON vector code.
  @Test func crossCompilesForAArch64() throws {
    let asm = try assembly(saxpyModule(), cpu: "neoverse-v1", triple: "aarch64-unknown-linux-gnu")
    #expect(asm.contains("fmla") || asm.contains("fmad"), "\(asm)")
    let target = try TargetMachine(TargetOptions(cpu: "neoverse-v1", triple: "aarch64-unknown-linux-gnu"))
    let module = saxpyModule()
    try target.compile(module)
    let object = try target.emit(module, as: .object)
    #expect(object.starts(with: [0x7f, 0x45, 0x4c, 0x46]))  // ELF
    #expect(object[18] == 183)  // e_machine EM_AARCH64
  }

  @Test func nativeTargetDescribesTheHost() throws {
    let target = try TargetMachine(TargetOptions())
    #expect(target.cpu == TargetMachine.hostCPU && !target.features.isEmpty)
  }

  @Test func verifierErrorsAreReported() {
    let module = LLVMModule(name: "broken")
    // A function with an empty entry block has no terminator.
    let function = module.addFunction("f", returns: module.void, params: [])
    _ = module.appendBlock("entry", to: function)
    #expect(throws: CodegenError.self) { try module.verify() }
  }

  @Test func emitsTextFormatsToFiles() throws {
    let dir = try TemporaryDirectory()
    let target = try TargetMachine(TargetOptions())
    let module = saxpyModule()
    try target.compile(module)
    try target.emit(module, as: .llvmIR, to: "\(dir.path)/m.ll")
    try target.emit(module, as: .assembly, to: "\(dir.path)/m.s")
    #expect(try readFile("\(dir.path)/m.ll").contains("define void @saxpy"))
    #expect(try readFile("\(dir.path)/m.s").contains("saxpy:"))
  }

  /// A failed link reports the compiler's message and leaves no output (and no temporary) behind.
  @Test func failedLinkLeavesNothing() throws {
    let dir = try TemporaryDirectory()
    let output = "\(dir.path)/libbad.so"
    do {
      try SharedLibraryLinker().link(
        objects: [], cSources: [.init(fileName: "bad.c", text: "int f(void) { return missing_symbol(); }\n")], to: output)
      Issue.record("the link must fail")
    } catch {
      #expect(error.code == .link)
      #expect(error.message.contains("missing_symbol"), "\(error.message)")
    }
    #expect(!fileExists(output))
    #expect(try run(["sh", "-c", "ls \(dir.path) | grep -q tmp"]).status != 0, "temporary left behind")
  }

  @Test func knownCPUListMatchesLLC() throws {
    // The committed snapshot must match the installed LLVM (regenerate with tools/gen-cpu-list.sh).
    guard try run(["sh", "-c", "command -v llc-19"]).status == 0 else { return }
    let dir = try TemporaryDirectory()
    #expect(try run(["sh", "-c", "llc-19 -mtriple=x86_64-unknown-linux-gnu -mcpu=help 2>&1 | grep -q '^  znver4 '"]).status == 0)
    let listed = try run(["sh", "-c", "llc-19 -mtriple=x86_64-unknown-linux-gnu -mcpu=help 2>&1 | awk '/Available CPUs/{f=1;next} /Available features/{f=0} f && NF {print $1}' > \(dir.path)/cpus"])
    #expect(listed.status == 0)
    let names = Set(try readFile("\(dir.path)/cpus").split(separator: "\n").map(String.init))
    #expect(names == KnownCPUs.byArchitecture["x86_64"])
  }
}

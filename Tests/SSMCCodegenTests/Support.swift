import Glibc
@testable import SSMCCodegen

/// A kernel computing `y[i] = exp(x[i]) * 2 + x[i]` over `count` floats, split with `parallelFor`.
func defineExpKernel(_ k: KernelBuilder, symbol: String, count: Int64) {
  k.defineKernel(symbol) { p in
    k.parallelFor(count: k.i64(count), pool: p.pool, captures: [p.input(0), p.output(0)]) { begin, end, c in
      k.forLoop(from: begin, to: end) { i in
        let x = k.load(.f32, from: c[0], at: i)
        k.store(k.exp(x) * 2 + x, .f32, to: c[1], at: i)
      }
    }
  }
}

/// A kernel over a 4x5 float input: `y = max(x, 0) * 3` and `positives[0]` = count of x > 0 (an int64),
/// exercising 2-D indexing, selects, conversions and a loop-carried reduction.
func defineReluCountKernel(_ k: KernelBuilder, symbol: String) {
  k.defineKernel(symbol) { p in
    let x = p.input(0), y = p.output(0), positives = p.output(1)
    let total = k.forLoop(from: k.i64(0), to: k.i64(4), carrying: [k.i64(0)]) { row, outer in
      k.forLoop(from: k.i64(0), to: k.i64(5), carrying: outer) { column, inner in
        let index = row * 5 + column
        let value = k.load(.f32, from: x, at: index)
        let isPositive = k.compare(.gt, value, 0)
        k.store(k.select(isPositive, value, k.f32(0)) * 3, .f32, to: y, at: index)
        return [inner[0] + k.convert(isPositive, to: .i64)]
      }
    }
    k.store(total[0], .i64, to: positives, at: k.i64(0))
  }
}

func expSignature(_ name: String, _ count: Int64) -> ModelSignature {
  ModelSignature(
    name: name, inputs: [.init(name: "x", elementType: 1, dims: [count])],
    outputs: [.init(name: "y", elementType: 1, dims: [count])], scratchBytes: 100, kernelSymbol: "\(name)_kernel")
}

func reluCountSignature(_ name: String) -> ModelSignature {
  ModelSignature(
    name: name, inputs: [.init(name: "x", elementType: 1, dims: [4, 5])],
    outputs: [.init(name: "y", elementType: 1, dims: [4, 5]), .init(name: "positives", elementType: 7, dims: [1])],
    scratchBytes: 0, kernelSymbol: "\(name)_kernel")
}

/// Builds `lib<NAME>.so` and `<NAME>.h` in `directory` for a kernel defined by `define`.
@discardableResult
func buildModel(
  _ signature: ModelSignature, in directory: String, target: TargetOptions = TargetOptions(),
  define: (KernelBuilder) -> Void
) throws -> String {
  let module = LLVMModule(name: signature.name)
  define(KernelBuilder(module: module))
  let library = "\(directory)/lib\(signature.name).so"
  let header = try SharedLibraryBuilder.build(
    module: module, signature: signature, target: try TargetMachine(target), to: library)
  try AtomicFile.write(Array(header.utf8), to: "\(directory)/\(signature.name).h")
  return library
}

/// Runs a command; returns its exit status and standard error.
func run(_ arguments: [String]) throws -> (status: Int32, standardError: String) {
  let result = try Subprocess.run(arguments)
  return (result.status, result.standardError)
}

func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

/// The text of a file under `Tests/SSMCCodegenTests/Inputs`.
func testInput(_ name: String, filePath: String = #filePath) throws -> String {
  let directory = String(filePath[..<filePath.lastIndex(of: "/")!])
  return try readFile("\(directory)/Inputs/\(name)")
}

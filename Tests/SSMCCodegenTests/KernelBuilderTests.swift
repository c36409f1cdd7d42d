import Glibc
import Testing
@testable import SSMCCodegen

@Suite struct KernelBuilderTests {
  /// Vector DSL: 16-lane loads with a masked tail, a lane-wise FMA, and a horizontal sum per row,
  /// checked against a float64 sum computed here.
  @Test func maskedVectorRowSums() throws {
    let module = LLVMModule(name: "rows")
    let k = KernelBuilder(module: module)
    let lanes = 16
    // void rowsum(const float *x, float *sums, int64_t rows, int64_t columns)
    k.defineFunction(
      "rowsum", returns: module.void,
      params: [.init("x", module.ptr, noalias: true), .init("sums", module.ptr, noalias: true),
               .init("rows", module.i64), .init("columns", module.i64)]
    ) { p in
      let (x, sums, rows, columns) = (p[0], p[1], p[2], p[3])
      k.forLoop(from: k.i64(0), to: rows, hints: LoopHints(vectorize: false)) { row in
        let zero = k.constant(0, k.type(.f32, lanes: lanes))
        let acc = k.forLoop(from: k.i64(0), to: columns, step: Int64(lanes), carrying: [zero]) { column, acc in
          let mask = k.prefixMask(count: columns - column, lanes: lanes)
          let v = k.loadVector(.f32, lanes: lanes, from: x, at: row * columns + column, mask: mask)
          return [k.mulAdd(v, k.splat(k.f32(1), lanes: lanes), acc[0])]
        }
        k.store(k.reduceAdd(acc[0]), .f32, to: sums, at: row)
      }
    }
    let target = try TargetMachine(TargetOptions(optLevel: 2))
    try target.compile(module)
    #expect(module.irText.contains("llvm.loop.vectorize.enable"))
    let dir = try TemporaryDirectory()
    try SharedLibraryLinker().link(objects: [try target.emit(module, as: .object)], cSources: [], to: "\(dir.path)/librows.so")
    let handle = try #require(dlopen("\(dir.path)/librows.so", RTLD_NOW | RTLD_LOCAL))
    defer { dlclose(handle) }
    typealias RowSum = @convention(c) (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int64, Int64) -> Void
    let rowsum = unsafeBitCast(try #require(dlsym(handle, "rowsum")), to: RowSum.self)
    for columns in [1, 15, 16, 17, 37] {
      let rows = 3
      let x = (0..<(rows * columns)).map { Float(Glibc.sin(Double($0))) }
      var sums = [Float](repeating: .nan, count: rows)
      rowsum(x, &sums, Int64(rows), Int64(columns))
      for row in 0..<rows {
        let reference = x[(row * columns)..<((row + 1) * columns)].reduce(0.0) { $0 + Double($1) }
        #expect(Swift.abs(Double(sums[row]) - reference) < 1e-5, "columns \(columns) row \(row)")
      }
    }
  }

  /// Typed memory: every scalar type round-trips through load/store, booleans as 0/1 bytes,
  /// with conversions between them.
  @Test func typedLoadsStoresAndConversions() throws {
    let module = LLVMModule(name: "types")
    let k = KernelBuilder(module: module)
    // void conv(const double *a, int32_t *b, int8_t *c, uint8_t *isNegative, int64_t *d, int64_t n)
    k.defineFunction(
      "conv", returns: module.void,
      params: (0..<5).map { LLVMModule.Parameter("p\($0)", module.ptr, noalias: true) } + [.init("n", module.i64)]
    ) { p in
      k.forLoop(from: k.i64(0), to: p[5]) { i in
        let a = k.load(.f64, from: p[0], at: i)
        k.store(k.convert(a, to: .i32), .i32, to: p[1], at: i)
        k.store(k.convert(k.convert(a, to: .i32), to: .i8), .i8, to: p[2], at: i)
        k.store(k.compare(.lt, a, 0), .i1, to: p[3], at: i)
        let flag = k.load(.i1, from: p[3], at: i)
        k.store(k.select(flag, k.i64(-1), k.i64(1)) * k.convert(k.abs(a), to: .i64), .i64, to: p[4], at: i)
      }
    }
    let target = try TargetMachine(TargetOptions(optLevel: 1))
    try target.compile(module)
    let dir = try TemporaryDirectory()
    try SharedLibraryLinker().link(objects: [try target.emit(module, as: .object)], cSources: [], to: "\(dir.path)/libconv.so")
    let handle = try #require(dlopen("\(dir.path)/libconv.so", RTLD_NOW | RTLD_LOCAL))
    defer { dlclose(handle) }
    typealias Conv = @convention(c) (UnsafePointer<Double>, UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int8>,
                                     UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<Int64>, Int64) -> Void
    let conv = unsafeBitCast(try #require(dlsym(handle, "conv")), to: Conv.self)
    let a: [Double] = [-3.7, -1, 0, 2.5, 100.9, -120.2]
    var b = [Int32](repeating: 0, count: a.count), c = [Int8](repeating: 0, count: a.count)
    var flags = [UInt8](repeating: 7, count: a.count), d = [Int64](repeating: 0, count: a.count)
    conv(a, &b, &c, &flags, &d, Int64(a.count))
    #expect(b == a.map { Int32($0) })
    #expect(c == a.map { Int8(truncatingIfNeeded: Int32($0)) })
    #expect(flags == a.map { $0 < 0 ? 1 : 0 })
    #expect(d == a.map { ($0 < 0 ? -1 : 1) * Int64(Swift.abs($0)) })
  }
}

extension KernelBuilderTests {
  private struct LoweringFailure: Error { var op: String }

  /// A lowering's typed error thrown inside nested builders reaches the caller unchanged.
  @Test func typedErrorsPassThroughBuilders() {
    let module = LLVMModule(name: "throws")
    let k = KernelBuilder(module: module)
    #expect(throws: LoweringFailure.self) {
      try k.defineKernel("kernel") { (p) throws(LoweringFailure) in
        try k.parallelFor(count: k.i64(4), pool: p.pool, captures: []) { (begin, end, _) throws(LoweringFailure) in
          try k.forLoop(from: begin, to: end) { (_) throws(LoweringFailure) in throw LoweringFailure(op: "Conv") }
        }
      }
    }
  }
}

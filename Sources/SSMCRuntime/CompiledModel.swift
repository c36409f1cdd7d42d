import Glibc

/// A model library made by `ssmc compile`, loaded with dlopen and run through its generic `ssmc_*` symbols.
///
/// Each instance owns one context (scratch memory and worker threads) of the library, so it runs one
/// inference at a time: use it from one thread at a time, or one instance per thread.
public final class CompiledModel {
  public let path: String
  /// The model name the library was compiled with.
  public let name: String
  public let inputs: [TensorInfo]
  public let outputs: [TensorInfo]
  /// The input shapes `run` takes, one list of input shapes per shape variant the library was compiled for
  /// (-1 on a run-time batch dim). One variant, the inputs' shapes, for a library without variants.
  public let inputShapeVariants: [[[Int]]]

  private let handle: UnsafeMutableRawPointer
  private let context: OpaquePointer
  private let api: API

  private typealias RunFn = @convention(c) (OpaquePointer?, UnsafeRawPointer?, Int32, UnsafeMutableRawPointer?, Int32) -> Int32
  private typealias InfoFn = @convention(c) (Int32) -> UnsafeRawPointer?
  private struct API {
    let run: RunFn
    let destroy: @convention(c) (OpaquePointer?) -> Void
    let lastError: @convention(c) (OpaquePointer?) -> UnsafePointer<CChar>?
    let setNumThreads: @convention(c) (OpaquePointer?, Int32) -> Int32
    /// Present in libraries that can take a run-time batch.
    let outputShape: OutputShapeFn?
  }
  private typealias OutputShapeFn = @convention(c) (OpaquePointer?, UnsafeRawPointer?, Int32, Int32, UnsafeMutablePointer<Int64>?) -> Int32

  /// Loads the library at `path` (a path with a slash, so the loader never searches for it).
  public init(path: String) throws(RuntimeError) {
    let loadPath = path.contains("/") ? path : "./" + path
    // RTLD_LOCAL keeps this library's ssmc_* names from resolving another model's.
    guard let handle = dlopen(loadPath, RTLD_NOW | RTLD_LOCAL) else {
      throw RuntimeError(.loadFailed, "cannot load \(path): \(dlerror().map { String(cString: $0) } ?? "unknown error")")
    }
    func symbol<T>(_ name: String, as type: T.Type) throws(RuntimeError) -> T {
      guard let raw = dlsym(handle, name) else {
        dlclose(handle)
        throw RuntimeError(.loadFailed, "\(path) is not an ssmc model library: it lacks \(name)")
      }
      return unsafeBitCast(raw, to: type)
    }
    let nameFn = try symbol("ssmc_name", as: (@convention(c) () -> UnsafePointer<CChar>?).self)
    let numInputs = try symbol("ssmc_num_inputs", as: (@convention(c) () -> Int32).self)
    let numOutputs = try symbol("ssmc_num_outputs", as: (@convention(c) () -> Int32).self)
    let inputInfo = try symbol("ssmc_input_info", as: InfoFn.self)
    let outputInfo = try symbol("ssmc_output_info", as: InfoFn.self)
    let create = try symbol("ssmc_create", as: (@convention(c) () -> OpaquePointer?).self)
    api = API(
      run: try symbol("ssmc_run", as: RunFn.self),
      destroy: try symbol("ssmc_destroy", as: (@convention(c) (OpaquePointer?) -> Void).self),
      lastError: try symbol("ssmc_last_error", as: (@convention(c) (OpaquePointer?) -> UnsafePointer<CChar>?).self),
      setNumThreads: try symbol("ssmc_set_num_threads", as: (@convention(c) (OpaquePointer?, Int32) -> Int32).self),
      outputShape: dlsym(handle, "ssmc_output_shape").map { unsafeBitCast($0, to: OutputShapeFn.self) })
    guard let context = create() else {
      dlclose(handle)
      throw RuntimeError(.outOfMemory, "cannot create a context for \(path)")
    }
    do {
      inputs = try (0..<numInputs()).map { i throws(RuntimeError) in try Self.readInfo(inputInfo(i), path: path) }
      outputs = try (0..<numOutputs()).map { i throws(RuntimeError) in try Self.readInfo(outputInfo(i), path: path) }
    } catch {
      api.destroy(context)
      dlclose(handle)
      throw error
    }
    inputShapeVariants = Self.readShapeVariants(handle, inputs: inputs)
    self.path = path
    self.name = nameFn().map { String(cString: $0) } ?? ""
    self.handle = handle
    self.context = context
  }

  deinit {
    api.destroy(context)
    dlclose(handle)
  }

  private typealias VariantDimsFn = @convention(c) (Int32, Int32, UnsafeMutablePointer<Int64>?) -> Int32

  /// The library's shape variants (`ssmc_num_shape_variants`; libraries made before variants have one).
  private static func readShapeVariants(_ handle: UnsafeMutableRawPointer, inputs: [TensorInfo]) -> [[[Int]]] {
    guard let countSymbol = dlsym(handle, "ssmc_num_shape_variants"), let dimsSymbol = dlsym(handle, "ssmc_shape_variant_input_dims")
    else { return [inputs.map(\.shape)] }
    let count = unsafeBitCast(countSymbol, to: (@convention(c) () -> Int32).self)()
    let dimsOf = unsafeBitCast(dimsSymbol, to: VariantDimsFn.self)
    return (0..<count).map { variant in
      inputs.enumerated().map { index, info in
        var dims = [Int64](repeating: 0, count: Swift.max(info.shape.count, 1))
        _ = dimsOf(variant, Int32(index), &dims)
        return dims.prefix(info.shape.count).map { Int($0) }
      }
    }
  }

  /// Reads an `ssmc_tensor_info` (name, elem_type, rank, dims at offsets 0, 8, 12, 16).
  private static func readInfo(_ raw: UnsafeRawPointer?, path: String) throws(RuntimeError) -> TensorInfo {
    guard let raw else { throw RuntimeError(.loadFailed, "\(path): tensor info missing") }
    let name = raw.load(as: UnsafePointer<CChar>?.self).map { String(cString: $0) } ?? ""
    let code = raw.load(fromByteOffset: 8, as: Int32.self)
    let rank = Int(raw.load(fromByteOffset: 12, as: Int32.self))
    let dims = raw.load(fromByteOffset: 16, as: UnsafePointer<Int64>?.self)
    guard let type = ElementType(rawValue: code) else {
      throw RuntimeError(.loadFailed, "\(path): tensor '\(name)' has unknown element type \(code)")
    }
    return TensorInfo(name: name, elementType: type, shape: (0..<rank).map { Int(dims![$0]) })
  }

  /// Threads used by `run`, the calling thread included; 0 means one per online CPU.
  public func setNumThreads(_ count: Int) throws(RuntimeError) {
    let status = api.setNumThreads(context, Int32(clamping: count))
    if status != 0 { throw RuntimeError(status: status, message: lastError) }
  }

  private var lastError: String { api.lastError(context).map { String(cString: $0) } ?? "" }

  /// Runs the model on `inputs` (in the model's input order) and returns its outputs.
  /// Element types, shapes and byte counts are checked here first, and again by the library.
  public func run(_ inputs: [HostTensor]) throws(RuntimeError) -> [HostTensor] {
    guard inputs.count == self.inputs.count else {
      throw RuntimeError(.invalidArgument, "\(name) takes \(self.inputs.count) inputs, given \(inputs.count)")
    }
    for (index, (tensor, info)) in zip(inputs, self.inputs).enumerated() {
      guard tensor.elementType == info.elementType else {
        throw RuntimeError(.invalidArgument, "input \(index) '\(info.name)': expected \(info.elementType), given \(tensor.elementType)")
      }
      guard info.accepts(shape: tensor.shape) else {
        throw RuntimeError(.shapeMismatch, "input \(index) '\(info.name)': expected shape \(info.shape), given \(tensor.shape)")
      }
      guard tensor.bytes.count == tensor.elementCount * tensor.elementType.byteSize else {
        throw RuntimeError(
          .invalidArgument,
          "input \(index) '\(info.name)': \(tensor.bytes.count) bytes for \(tensor.elementCount) \(tensor.elementType) elements")
      }
    }
    let inputArray = TensorArray(inputs)
    var results: [HostTensor] = []
    for (index, info) in outputs.enumerated() {
      var shape = info.shape
      if shape.contains(where: { $0 < 0 }) {
        guard let outputShape = api.outputShape else {
          throw RuntimeError(.loadFailed, "\(path): output '\(info.name)' has a run-time dim but the library lacks ssmc_output_shape")
        }
        var dims = [Int64](repeating: 0, count: max(shape.count, 1))
        let status = outputShape(context, inputArray.pointer, Int32(inputs.count), Int32(index), &dims)
        if status != 0 { throw RuntimeError(status: status, message: lastError) }
        shape = dims.prefix(shape.count).map { Int($0) }
      }
      results.append(HostTensor(zeros: info.elementType, shape: shape))
    }
    let outputArray = TensorArray(results)
    let status = api.run(context, inputArray.pointer, Int32(inputs.count), outputArray.pointer, Int32(results.count))
    if status != 0 { throw RuntimeError(status: status, message: lastError) }
    for index in results.indices { results[index].bytes = outputArray.bytes(index, count: results[index].bytes.count) }
    return results
  }
}

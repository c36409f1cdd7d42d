// Builds C arrays of `ssmc_tensor { void *data; int32_t elem_type; int32_t rank; const int64_t *dims; }`
// (24 bytes: offsets 0, 8, 12, 16). Tensor bytes live in buffers owned here for the duration of a call
// (one copy each way), which keeps Swift's exclusivity rules simple to honour.

/// `ssmc_tensor` descriptors over private copies of tensors' bytes.
final class TensorArray {
  private static let stride = 24
  let pointer: UnsafeMutableRawPointer
  private var buffers: [UnsafeMutableRawBufferPointer] = []
  private var dims: [UnsafeMutablePointer<Int64>] = []

  init(_ tensors: [HostTensor]) {
    pointer = .allocate(byteCount: Swift.max(1, tensors.count) * Self.stride, alignment: 8)
    for (index, tensor) in tensors.enumerated() {
      let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(1, tensor.bytes.count), alignment: 64)
      buffer.copyBytes(from: tensor.bytes)
      let shape = UnsafeMutablePointer<Int64>.allocate(capacity: Swift.max(1, tensor.shape.count))
      shape.initialize(from: tensor.shape.map(Int64.init), count: tensor.shape.count)
      buffers.append(buffer)
      dims.append(shape)
      let entry = pointer + index * Self.stride
      entry.storeBytes(of: buffer.baseAddress, as: UnsafeMutableRawPointer?.self)
      entry.storeBytes(of: tensor.elementType.rawValue, toByteOffset: 8, as: Int32.self)
      entry.storeBytes(of: Int32(tensor.shape.count), toByteOffset: 12, as: Int32.self)
      entry.storeBytes(of: UnsafePointer(shape), toByteOffset: 16, as: UnsafePointer<Int64>?.self)
    }
  }

  /// The current bytes of tensor `index`.
  func bytes(_ index: Int, count: Int) -> [UInt8] { Array(buffers[index].prefix(count)) }

  deinit {
    buffers.forEach { $0.deallocate() }
    dims.forEach { $0.deallocate() }
    pointer.deallocate()
  }
}

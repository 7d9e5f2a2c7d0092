/// One contiguous, 64-byte-aligned block of floats, zeroed, that tensors view in windows: a model's
/// parameters, their gradients, an optimizer's moments. A kernel can then sweep every tensor of the
/// block in one call, and an all-reduce can send it in one message.
public final class Arena: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    /// Floats a window's start is rounded up to, so that each window is 64-byte aligned like a tensor.
    public static let windowAlignment = TensorStorage.alignment / MemoryLayout<Float>.stride

    public init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: Swift.max(count, 1) * MemoryLayout<Float>.stride, alignment: TensorStorage.alignment)
        pointer = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
        pointer.initialize(repeating: 0, count: Swift.max(count, 1))
    }

    deinit { pointer.deallocate() }

    /// Where windows of these shapes start when packed in order, each aligned, and the floats they span.
    public static func layout(_ shapes: [Shape]) -> (offsets: [Int], count: Int) {
        var offsets: [Int] = []
        var end = 0
        for shape in shapes {
            let start = (end + windowAlignment - 1) / windowAlignment * windowAlignment
            offsets.append(start)
            end = start + shape.count
        }
        return (offsets, end)
    }

    /// The whole block as a buffer.
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }
}

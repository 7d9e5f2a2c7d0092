import Dendrite

/// A 64-byte-aligned float buffer filled with reproducible random values, freed with its owner.
/// Kernels take raw pointers; one class keeps the allocation and its lifetime in one place.
final class FloatBuffer {
    let count: Int
    let pointer: UnsafeMutablePointer<Float>

    init(count: Int, in range: ClosedRange<Float> = -1...1, seed: UInt64 = 1) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1) * MemoryLayout<Float>.stride,
                                                   alignment: 64).bindMemory(to: Float.self, capacity: Swift.max(count, 1))
        var generator = SeededGenerator(seed: seed)
        let width = Double(range.upperBound - range.lowerBound)
        for i in 0..<count { pointer[i] = range.lowerBound + Float(generator.nextUnit() * width) }
    }

    deinit { pointer.deallocate() }

    var readOnly: UnsafePointer<Float> { UnsafePointer(pointer) }
}

/// Reproducible random class labels in 0..<classes.
func randomLabels(count: Int, classes: Int, seed: UInt64 = 2) -> [Int32] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in Int32(generator.next() % UInt64(classes)) }
}

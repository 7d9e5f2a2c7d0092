/// 64-byte-aligned float storage: owned, or a window of an ``Arena``. Tensors share owned storage until
/// one of them is written (copy on write); a window always writes through to its arena.
public final class TensorStorage: @unchecked Sendable {
    public static let alignment = 64
    public let pointer: UnsafeMutablePointer<Float>
    public let capacity: Int
    /// The arena this storage is a window of; nil when the storage owns its memory.
    let arena: Arena?

    init(capacity: Int) {
        self.capacity = capacity
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: Swift.max(capacity, 1) * MemoryLayout<Float>.stride, alignment: TensorStorage.alignment)
        pointer = raw.bindMemory(to: Float.self, capacity: Swift.max(capacity, 1))
        arena = nil
    }

    /// `capacity` floats of `arena` from `offset`.
    init(window arena: Arena, offset: Int, capacity: Int) {
        precondition(offset >= 0 && offset + capacity <= arena.count,
                     "a window [\(offset), \(offset + capacity)) does not fit an arena of \(arena.count) floats")
        self.arena = arena
        self.capacity = capacity
        pointer = arena.pointer + offset
    }

    deinit { if arena == nil { pointer.deallocate() } }
}

/// A shape plus owned, aligned float storage, with value semantics: copies are cheap and a write
/// to a shared tensor copies its storage first.
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    public private(set) var shape: Shape
    public private(set) var storage: TensorStorage

    /// A placeholder with no elements; assigning it releases a tensor's storage without allocating.
    static let empty = Tensor(zeros: Shape([0]))

    /// A tensor of zeros.
    public init(zeros shape: Shape) {
        self.shape = shape
        storage = TensorStorage(capacity: shape.count)
        storage.pointer.initialize(repeating: 0, count: Swift.max(shape.count, 1))
    }

    /// A tensor holding `values` in row-major order.
    public init(shape: Shape, values: [Float]) {
        precondition(values.count == shape.count,
                     "a tensor of shape \(shape) needs \(shape.count) values, got \(values.count)")
        self.init(zeros: shape)
        values.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    /// A tensor of `shape` over `arena`'s floats from `offset` (values as the arena holds them).
    public init(window arena: Arena, offset: Int, shape: Shape) {
        self.shape = shape
        storage = TensorStorage(window: arena, offset: offset, capacity: shape.count)
    }

    /// Whether this tensor is a window of an arena (writes go to the arena's memory).
    public var isArenaWindow: Bool { storage.arena != nil }

    /// Copies `source`'s values into this tensor's own memory (an arena window stays one).
    public mutating func assign(_ source: Tensor) {
        precondition(source.shape == shape, "assign: shape \(source.shape) into a tensor of shape \(shape)")
        mutablePointer.update(from: source.pointer, count: count)
    }

    /// A tensor with the same values and a new shape of the same element count (shares storage).
    public func reshaped(to newShape: Shape) -> Tensor {
        precondition(newShape.count == shape.count,
                     "cannot reshape \(shape) (\(shape.count) elements) to \(newShape) (\(newShape.count))")
        var t = self
        t.shape = newShape
        return t
    }

    /// Gives this tensor a new shape, keeping its storage when it is unshared and large enough, so
    /// buffers reused step after step (a smaller last batch, say) never reallocate.
    mutating func reuse(as newShape: Shape) {
        if newShape.count <= storage.capacity && (storage.arena != nil || isKnownUniquelyReferenced(&storage)) {
            shape = newShape
        } else {
            self = Tensor(zeros: newShape)
        }
    }

    public var count: Int { shape.count }
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    /// The first value, for scalar results such as a loss.
    public var scalar: Float { storage.pointer[0] }

    /// Read-only access to the elements.
    public var pointer: UnsafePointer<Float> { UnsafePointer(storage.pointer) }

    /// Write access: copies owned storage first if another tensor shares it; writes to an arena's
    /// window go to the arena.
    public var mutablePointer: UnsafeMutablePointer<Float> {
        mutating get {
            if storage.arena == nil && !isKnownUniquelyReferenced(&storage) {
                let copy = TensorStorage(capacity: count)
                copy.pointer.update(from: storage.pointer, count: count)
                storage = copy
            }
            return storage.pointer
        }
    }

    public subscript(index: Int) -> Float {
        get {
            precondition(index >= 0 && index < count, "index \(index) out of range for shape \(shape)")
            return storage.pointer[index]
        }
        set {
            precondition(index >= 0 && index < count, "index \(index) out of range for shape \(shape)")
            mutablePointer[index] = newValue
        }
    }

    public var description: String {
        let shown = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor\(shape) [\(shown)\(count > 8 ? ", …" : "")]"
    }
}

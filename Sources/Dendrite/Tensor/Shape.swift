/// The dimensions of a tensor, rank 0 to 4, stored inline so that making or comparing shapes on the
/// training step's hot path never allocates.
public struct Shape: Equatable, Hashable, Sendable, CustomStringConvertible {
    public static let maxRank = 4
    /// The shape of a single number (a loss, say).
    public static let scalar = Shape([])
    public let rank: Int
    private var storage: (Int, Int, Int, Int)

    public init(_ dims: [Int]) {
        precondition(dims.count <= Shape.maxRank, "shapes have at most \(Shape.maxRank) dimensions, got \(dims)")
        precondition(dims.allSatisfy { $0 >= 0 }, "dimensions must be >= 0, got \(dims)")
        rank = dims.count
        storage = (0, 0, 0, 0)
        for (i, d) in dims.enumerated() { self[dimension: i] = d }
    }

    /// A matrix shape: the common case, built without an array.
    public init(_ rows: Int, _ cols: Int) {
        precondition(rows >= 0 && cols >= 0, "dimensions must be >= 0, got [\(rows), \(cols)]")
        rank = 2
        storage = (rows, cols, 0, 0)
    }

    /// A batch of images (batch, height, width, channels), built without an array.
    public init(_ batch: Int, _ height: Int, _ width: Int, _ channels: Int) {
        precondition(batch >= 0 && height >= 0 && width >= 0 && channels >= 0,
                     "dimensions must be >= 0, got [\(batch), \(height), \(width), \(channels)]")
        rank = 4
        storage = (batch, height, width, channels)
    }

    /// A batch of examples with the shape of `example` (rank 0 to 3): built without an array, so a
    /// batch's shape costs no allocation on the hot path.
    public init(batch: Int, example: Shape) {
        precondition(example.rank < Shape.maxRank, "a batch of \(example) would have more than \(Shape.maxRank) dimensions")
        precondition(batch >= 0, "dimensions must be >= 0, got batch \(batch)")
        rank = example.rank + 1
        storage = (batch, example.storage.0, example.storage.1, example.storage.2)
    }

    public subscript(dimension i: Int) -> Int {
        get {
            precondition(i >= 0 && i < rank, "dimension \(i) out of range for rank \(rank)")
            switch i {
            case 0: return storage.0
            case 1: return storage.1
            case 2: return storage.2
            default: return storage.3
            }
        }
        set {
            switch i {
            case 0: storage.0 = newValue
            case 1: storage.1 = newValue
            case 2: storage.2 = newValue
            default: storage.3 = newValue
            }
        }
    }

    public subscript(i: Int) -> Int { self[dimension: i] }

    public var dims: [Int] { (0..<rank).map { self[dimension: $0] } }

    /// The number of elements (1 for a scalar).
    public var count: Int {
        var n = 1
        for i in 0..<rank { n *= self[dimension: i] }
        return n
    }

    /// Rows of the matrix view: the first dimension (1 for a scalar).
    public var rows: Int { rank == 0 ? 1 : self[dimension: 0] }
    /// Columns of the matrix view: the product of all dimensions after the first (1 for rank 0 and 1).
    public var cols: Int {
        var n = 1
        for i in Swift.min(1, rank)..<rank where i > 0 { n *= self[dimension: i] }
        return n
    }

    public static func == (l: Shape, r: Shape) -> Bool {
        guard l.rank == r.rank else { return false }
        for i in 0..<l.rank where l[dimension: i] != r[dimension: i] { return false }
        return true
    }

    public func hash(into h: inout Hasher) {
        h.combine(rank)
        for i in 0..<rank { h.combine(self[dimension: i]) }
    }

    public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }
}

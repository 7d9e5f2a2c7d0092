/// Shuffled mini-batches of a dataset: one permutation per epoch from a seeded generator, the last partial
/// batch kept. Images become floats in [0, 1]; batch buffers are allocated once and reused. In
/// data-parallel training every rank draws the same order and loads only its share of each batch.
public final class Batcher {
    public let dataset: Dataset
    public let batchSize: Int
    /// The input batch, (rows, height, width, channels): rows is `batchSize` (this rank's share of it), or
    /// less for the last batch.
    public let images: Variable
    public private(set) var labels: [Int32]
    private var order: [Int32]
    private let exampleShape: Shape
    /// Which share of every batch this process loads.
    public let group: ProcessGroup

    /// - Parameters:
    ///   - dataset: the examples to batch.
    ///   - batchSize: examples per batch, over all the processes of `group` (> 0).
    ///   - group: the processes sharing each batch.
    public init(dataset: Dataset, batchSize: Int, group: ProcessGroup = .single) {
        precondition(batchSize > 0, "batch size must be > 0, got \(batchSize)")
        self.dataset = dataset
        self.batchSize = batchSize
        self.group = group
        exampleShape = Shape(dataset.exampleShape)
        images = Variable(Tensor(zeros: Shape(batch: batchSize, example: exampleShape)), name: "images")
        labels = [Int32](repeating: 0, count: batchSize)
        order = (0..<Int32(dataset.count)).map { $0 }
    }

    /// Batches per epoch, counting a last partial one.
    public var batchesPerEpoch: Int { (dataset.count + batchSize - 1) / batchSize }

    /// Sets the visiting order of an epoch: shuffled by `generator` (Fisher–Yates), or in file order.
    public func startEpoch(shuffle generator: inout SeededGenerator) {
        for i in 0..<order.count { order[i] = Int32(i) }
        var i = order.count - 1
        while i > 0 {
            let j = Int(generator.next() % UInt64(i + 1))
            order.swapAt(i, j)
            i -= 1
        }
    }

    /// Visits the dataset in file order (evaluation).
    public func startInOrder() {
        for i in 0..<order.count { order[i] = Int32(i) }
    }

    /// Rows of batch `index` over all processes (`batchSize`, or fewer for the last batch).
    public func rows(inBatch index: Int) -> Int { Swift.min(batchSize, dataset.count - index * batchSize) }

    /// Fills `images` and `labels` with this process's share of batch `index` of the current order; returns
    /// its row count (all of the batch's rows for a single process).
    @discardableResult
    public func load(batch index: Int, on backend: Backend, profiler: Profiler? = nil) -> Int {
        precondition(index >= 0 && index < batchesPerEpoch, "batch \(index) is outside 0..<\(batchesPerEpoch)")
        let share = group.share(of: rows(inBatch: index))
        let start = index * batchSize + share.lowerBound
        let rows = share.count
        let cols = dataset.featureCount
        images.value.reuse(as: Shape(batch: rows, example: exampleShape))
        let out = images.value.mutablePointer
        profiled(profiler, "data.batch", .data, m: rows, n: cols, bytes: 5 * Double(rows * cols)) {
            order.withUnsafeBufferPointer { order in
                dataset.images.pixels.withUnsafeBufferPointer { pixels in
                    backend.data.gatherRows(out: out, images: pixels.baseAddress!, indices: order.baseAddress! + start,
                                       rows: rows, cols: cols, scale: 1 / 255)
                    // The next batch's rows are scattered over a dataset larger than the caches: they are
                    // fetched during this step's compute instead of at the next load.
                    if index + 1 < batchesPerEpoch {
                        let next = group.share(of: self.rows(inBatch: index + 1))
                        backend.data.prefetchRows(images: pixels.baseAddress!,
                                                  indices: order.baseAddress! + (index + 1) * batchSize + next.lowerBound,
                                                  rows: next.count, cols: cols)
                    }
                }
                for r in 0..<rows { labels[r] = dataset.labels[Int(order[start + r])] }
            }
        }
        return rows
    }

    /// The labels of the current batch (valid until the next `load`).
    public func withLabels<T>(rows: Int, _ body: (UnsafeBufferPointer<Int32>) throws -> T) rethrows -> T {
        try labels.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[0..<rows])) }
    }
}

/// Sums the gradient arena over the ranks of a ``ProcessGroup`` while the backward pass runs, as PyTorch
/// DDP does, and shares the optimizer's work as ZeRO stage 1 does (Rajbhandari et al., 2020):
///  - The arena is cut into one contiguous shard per rank, and each rank's optimizer updates its own shard
///    only (``ParameterArena/shard``), so the ranks split the optimizer's time and state traffic.
///  - Parameters are grouped into buckets in backward order (last layer first), and each bucket's exchange
///    starts as soon as every gradient in it is final: every rank sends each other rank the part of the bucket
///    in that rank's shard (a reduce-scatter), and the optimizer waits for all of them.
///  - After the update, the ranks all-gather their shards of the weights; before a checkpoint, their shards
///    of the optimizer's state. A reduce-scatter plus an all-gather moves the bytes of one all-reduce.
///
/// The sum is taken in a fixed order so that runs with the same number of ranks give the same bits: each rank
/// receives every rank's copy of its shard and adds them up locally, rank 0 first; the update is elementwise,
/// so the shards change nothing in the result.
public final class GradientSync {
    public let group: ProcessGroup
    private let arena: ParameterArena
    private let mpi: OpenMPI
    /// Adds the ranks' copies (elementwise, so the order of the ranks alone fixes the bits).
    private let elementwise: any ElementwiseKernels
    /// Parameter indices and arena float range of each bucket, in the order backward finishes them.
    private let buckets: [(parameters: [Int], range: Range<Int>)]
    /// Every rank's copy of this rank's part of every bucket: bucket b's copies are contiguous, rank r's at
    /// `gatheredOffset[b] + r·(its part's count)`.
    private let gathered: Arena
    private let gatheredOffsets: [Int]
    /// Per bucket, four lists of one Int32 per rank (send counts and offsets, receive counts and offsets), which
    /// MPI reads until the bucket's exchange completes; then the shards' counts and offsets.
    private let exchangeLists: UnsafeMutablePointer<Int32>
    private let requests: UnsafeMutablePointer<OpenMPI.Handle?>
    private var started: [Bool]
    /// The step's scalars (loss·rows, rows, correct) from every rank, exchanged with the last bucket.
    private let scalars: UnsafeMutablePointer<Float>
    private let gatheredScalars: UnsafeMutablePointer<Float>
    public var profiler: Profiler?
    /// Off: every bucket waits until backward is over (to measure what the overlap hides).
    public var overlapsBackward = true

    /// Floats per bucket, about 256 KB: a few buckets for the lab's MLP, so the exchange of the last layers
    /// runs while the first layer's gradients are computed.
    public static let bucketFloats = 1 << 16

    public init(group: ProcessGroup, arena: ParameterArena, elementwise: any ElementwiseKernels,
                bucketFloats: Int = GradientSync.bucketFloats) throws {
        guard let mpi = group.mpi else { throw DendriteError.unavailable("gradient sync needs an MPI process group") }
        self.group = group
        self.elementwise = elementwise
        self.arena = arena
        self.mpi = mpi
        var buckets: [(parameters: [Int], range: Range<Int>)] = []
        var current: [Int] = []
        var floats = 0
        for index in arena.parameters.indices.reversed() {
            current.append(index)
            floats += arena.parameters[index].value.count
            if floats >= bucketFloats || index == 0 {
                let lower = arena.offsets[current.last!]
                let upper = arena.offsets[current.first!] + arena.parameters[current.first!].value.count
                buckets.append((current, lower..<upper))
                current = []
                floats = 0
            }
        }
        self.buckets = buckets
        let shards = GradientSync.shards(count: arena.count, ranks: group.size)
        arena.shard = shards[group.rank]
        let ranks = group.size
        exchangeLists = .allocate(capacity: 4 * ranks * buckets.count + 2 * ranks)
        var offsets: [Int] = [], total = 0
        for (b, bucket) in buckets.enumerated() {
            let lists = exchangeLists + 4 * ranks * b
            let own = bucket.range.clamped(to: arena.shard)
            for r in 0..<ranks {
                let theirs = bucket.range.clamped(to: shards[r])
                lists[r] = Int32(theirs.count)
                lists[ranks + r] = Int32(theirs.isEmpty ? 0 : theirs.lowerBound - bucket.range.lowerBound)
                lists[2 * ranks + r] = Int32(own.count)
                lists[3 * ranks + r] = Int32(r * own.count)
            }
            offsets.append(total)
            total += own.count * ranks
        }
        let shardLists = exchangeLists + 4 * ranks * buckets.count
        for r in 0..<ranks {
            shardLists[r] = Int32(shards[r].count)
            shardLists[ranks + r] = Int32(shards[r].lowerBound)
        }
        gatheredOffsets = offsets
        gathered = Arena(count: total)
        requests = .allocate(capacity: buckets.count + 1)
        requests.initialize(repeating: nil, count: buckets.count + 1)
        started = [Bool](repeating: false, count: buckets.count)
        scalars = .allocate(capacity: 4)
        scalars.initialize(repeating: 0, count: 4)
        gatheredScalars = .allocate(capacity: 4 * group.size)
        gatheredScalars.initialize(repeating: 0, count: 4 * group.size)
    }

    /// Floats a shard's start is rounded down to: a 64-byte line, so no two ranks' optimizers write one line.
    static let shardAlignment = 16

    /// `count` floats cut into `ranks` contiguous shards of nearly equal size.
    static func shards(count: Int, ranks: Int) -> [Range<Int>] {
        let bounds = (0...ranks).map { r in r == ranks ? count : count * r / ranks / shardAlignment * shardAlignment }
        return (0..<ranks).map { bounds[$0]..<bounds[$0 + 1] }
    }

    deinit {
        exchangeLists.deallocate()
        requests.deallocate()
        scalars.deallocate()
        gatheredScalars.deallocate()
    }

    /// Before a step's backward pass.
    public func beginStep() {
        for b in started.indices { started[b] = false }
    }

    /// After each op's backward rule: starts the buckets whose gradients are all final, and lets the
    /// exchanges already under way progress.
    public func gradientsMayBeReady() {
        guard overlapsBackward else { return }
        var pending = 0
        for b in buckets.indices {
            if !started[b] {
                guard isFinal(buckets[b].parameters) else { break }  // buckets finish in order
                start(bucket: b)
            }
            pending = b + 1
        }
        if pending > 0 { _ = mpi.testAll(requests, count: pending) }
    }

    /// A parameter's gradient is final once its only reader's backward rule has run.
    private func isFinal(_ parameters: [Int]) -> Bool {
        for index in parameters {
            let parameter = arena.parameters[index]
            guard parameter.hasGradient, parameter.readers <= 1 else { return false }
        }
        return true
    }

    private func start(bucket b: Int) {
        for index in buckets[b].parameters where !arena.parameters[index].hasGradient {
            // No gradient on this rank this step (no rows, or unused): it contributes zeros.
            var gradient = arena.parameters[index].grad!
            gradient.mutablePointer.update(repeating: 0, count: gradient.count)
            arena.parameters[index].hasGradient = true
        }
        let range = buckets[b].range, ranks = group.size
        let lists = UnsafePointer(exchangeLists + 4 * ranks * b)
        mpi.startAllToAll(arena.gradients.pointer + range.lowerBound, sendCounts: lists, sendOffsets: lists + ranks,
                          into: gathered.pointer + gatheredOffsets[b], receiveCounts: lists + 2 * ranks,
                          receiveOffsets: lists + 3 * ranks, request: requests + b)
        started[b] = true
    }

    /// Completes the exchange: the gradients in this rank's shard become the sums over the ranks (rank 0's copy
    /// first; the rest of the arena keeps this rank's own), and `loss·rows`, `rows` and `correct` of this rank
    /// become the sums over every rank.
    public func finish(lossSum: inout Double, rows: inout Int, correct: inout Int) {
        scalars[0] = Float(lossSum)
        scalars[1] = Float(rows)
        scalars[2] = Float(correct)
        let shard = arena.shard
        profiled(profiler, "allreduce", .communication, m: arena.count,
                 bytes: 4 * Double(shard.count) * Double(group.size - 1)) {
            for b in buckets.indices where !started[b] { start(bucket: b) }
            mpi.startAllGather(UnsafePointer(scalars), count: 4, into: gatheredScalars, request: requests + buckets.count)
            mpi.waitAll(requests, count: buckets.count + 1)
        }
        for (b, bucket) in buckets.enumerated() {
            let own = bucket.range.clamped(to: shard)
            guard !own.isEmpty else { continue }
            let destination = arena.gradients.pointer + own.lowerBound
            let copies = gathered.pointer + gatheredOffsets[b], count = own.count
            if group.size == 2 {
                // The arena still holds this rank's own copy, and a + b == b + a bit for bit: one pass adds the
                // other rank's, and both ranks get rank 0's copy + rank 1's.
                elementwise.addInPlace(destination, copies + (1 - group.rank) * count, count: count)
                continue
            }
            destination.update(from: copies, count: count)
            for r in 1..<group.size { elementwise.addInPlace(destination, copies + r * count, count: count) }
        }
        var sums = (0.0, 0.0, 0.0)
        for r in 0..<group.size {
            sums.0 += Double(gatheredScalars[4 * r])
            sums.1 += Double(gatheredScalars[4 * r + 1])
            sums.2 += Double(gatheredScalars[4 * r + 2])
        }
        (lossSum, rows, correct) = (sums.0, Int(sums.1), Int(sums.2))
    }

    /// After the optimizer updated this rank's shard: every rank's shard of the weights to every rank.
    public func shareUpdatedWeights() {
        let shared = arena.count - arena.shard.count
        profiled(profiler, "allgather.weights", .communication, m: arena.count, bytes: 4 * Double(shared)) {
            gatherShards(of: arena.values)
        }
    }

    /// Before a checkpoint: every rank's shard of the optimizer's state (arenas laid out like the parameters').
    public func gatherOptimizerState(_ arenas: [Arena]) {
        for state in arenas { gatherShards(of: state) }
    }

    private func gatherShards(of buffer: Arena) {
        let lists = UnsafePointer(exchangeLists + 4 * group.size * buckets.count)
        mpi.allGatherInPlace(buffer.pointer, counts: lists, offsets: lists + group.size)
    }
}

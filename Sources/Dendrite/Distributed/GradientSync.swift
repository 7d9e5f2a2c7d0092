/// Sums the gradient arena over the ranks of a ``ProcessGroup`` while the backward pass runs, as PyTorch
/// DDP does: parameters are grouped into buckets in backward order (last layer first), and each bucket's
/// exchange starts as soon as every gradient in it is final; the optimizer waits for all of them.
///
/// The sum is taken in a fixed order so that runs with the same number of ranks give the same bits: each
/// bucket is all-gathered (every rank receives every rank's copy) and added up locally, rank 0 first. For the
/// few ranks of a CPU job this moves as many bytes as a ring all-reduce.
public final class GradientSync {
    public let group: ProcessGroup
    private let arena: ParameterArena
    private let mpi: OpenMPI
    /// Adds the ranks' copies (elementwise, so the order of the ranks alone fixes the bits).
    private let elementwise: any ElementwiseKernels
    /// Parameter indices and arena float range of each bucket, in the order backward finishes them.
    private let buckets: [(parameters: [Int], range: Range<Int>)]
    /// Every rank's copy of every bucket: bucket b's copies are contiguous, rank r's at `gatheredOffset[b] + r·count`.
    private let gathered: Arena
    private let gatheredOffsets: [Int]
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
        var offsets: [Int] = [], total = 0
        for bucket in buckets { offsets.append(total); total += bucket.range.count * group.size }
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

    deinit {
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
        let range = buckets[b].range
        mpi.startAllGather(arena.gradients.pointer + range.lowerBound, count: range.count,
                           into: gathered.pointer + gatheredOffsets[b], request: requests + b)
        started[b] = true
    }

    /// Completes the exchange: every parameter's gradient becomes the sum over the ranks (rank 0's copy first),
    /// and `loss·rows`, `rows` and `correct` of this rank become the sums over every rank.
    public func finish(lossSum: inout Double, rows: inout Int, correct: inout Int) {
        scalars[0] = Float(lossSum)
        scalars[1] = Float(rows)
        scalars[2] = Float(correct)
        let count = arena.count
        profiled(profiler, "allreduce", .communication, m: count,
                 bytes: 4 * Double(count) * Double(group.size - 1)) {
            for b in buckets.indices where !started[b] { start(bucket: b) }
            mpi.startAllGather(UnsafePointer(scalars), count: 4, into: gatheredScalars, request: requests + buckets.count)
            mpi.waitAll(requests, count: buckets.count + 1)
        }
        for (b, bucket) in buckets.enumerated() {
            let destination = arena.gradients.pointer + bucket.range.lowerBound
            let copies = gathered.pointer + gatheredOffsets[b], count = bucket.range.count
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
}

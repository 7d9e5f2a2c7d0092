// Threading: the kernel-wide thread count, the fork-join helpers every parallel kernel uses, and the
// worker pool behind them.
//
// Determinism contract: kernels hand `parallelRanges` a number of independent tasks (row blocks,
// column blocks, fixed-size chunks) whose boundaries depend on the problem size only. A task is run
// start to finish by one worker, so the thread count changes who computes a value, never how.

import Synchronization
#if canImport(Darwin)
import Darwin
import Dispatch
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Pure-Swift SIMD CPU kernels with the contracts of `CKernels/include/CKernels.h`:
/// row-major float32 buffers, outputs first, sizes explicit, results bitwise identical for any
/// thread count.
public enum SwiftKernels {
    // Written rarely (configuration) and read at each kernel entry; a torn read is impossible for
    // a machine word, and a stale value only changes the split of work, never a result.
    nonisolated(unsafe) private static var threadCount = defaultThreadCount()

    /// Threads every kernel uses (values below 1 mean 1). Defaults to the active processor count.
    public static var threads: Int {
        get { threadCount }
        set { threadCount = max(1, newValue) }
    }

    private static func defaultThreadCount() -> Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

/// One parallel call's work: the values its tasks share, as stored properties, and how to run one
/// task. The pool's threads get it as a pointer and a type. A closure would reach them only through
/// withoutActuallyEscaping, which boxes it on the heap at every call.
protocol ParallelWork {
    /// Runs task `task`; `task` also identifies per-task scratch space.
    func run(task: Int)
    /// Runs task `task` of the work at `work` (how the pool, which knows only the type, calls it).
    static func run(task: Int, of work: UnsafeRawPointer)
}

extension ParallelWork {
    static func run(task: Int, of work: UnsafeRawPointer) {
        work.assumingMemoryBound(to: Self.self).pointee.run(task: task)
    }
}

/// Work on a contiguous range of elements, for `parallelRanges`.
protocol RangeWork {
    func run(_ range: Range<Int>)
}

/// Work on one row, for `parallelRows`.
protocol RowWork {
    func run(row: Int)
}

/// Runs `work.run(task:)` for every task in `0..<workers`, in parallel when `workers > 1`, and returns
/// when all have finished. Callers keep `workers` at most `SwiftKernels.threads`.
@inline(__always)
func parallelFor<Work: ParallelWork>(workers: Int, _ work: Work) {
    if workers <= 1 {
        work.run(task: 0)
        return
    }
    #if canImport(Darwin)
    if #available(macOS 15, iOS 18, tvOS 18, watchOS 11, visionOS 2, *) {
        withUnsafePointer(to: work) { WorkerPool.shared.run(tasks: workers, work: $0, type: Work.self) }
    } else {
        // Synchronization's atomics need these OS versions; before them, Dispatch (native on Darwin).
        let shared = UncheckedSendable(value: work)
        DispatchQueue.concurrentPerform(iterations: workers) { shared.value.run(task: $0) }
    }
    #else
    withUnsafePointer(to: work) { WorkerPool.shared.run(tasks: workers, work: $0, type: Work.self) }
    #endif
}

#if canImport(Darwin)
/// Lets the work cross into Dispatch's `@Sendable` worker closure: every task writes a disjoint part
/// of the outputs and the call joins before returning.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}
#endif

/// Persistent worker threads for `parallelFor`. Dispatch's `concurrentPerform` on Linux allocates on
/// every call and wakes its second thread later than a small matmul takes to finish; here a call
/// allocates nothing, the caller runs tasks itself, and workers that ran recently are still spinning.
///
/// A call publishes its tasks in `job`; the caller and the workers claim them one at a time with a
/// compare-exchange, so a late worker simply finds nothing left, and the caller waits for
/// `unfinished` to reach 0 before returning. Workers spin for `spinNanoseconds` after their last task,
/// then park on a condition variable, so an idle pool costs no CPU. One call uses the pool at a time;
/// a concurrent or nested call runs its tasks on its own thread (same tasks, same results).
@available(macOS 15, iOS 18, tvOS 18, watchOS 11, visionOS 2, *)
private final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    /// Long enough to bridge the serial kernels between two parallel ones in a training step, short
    /// enough that stopping costs little.
    private static let spinNanoseconds: Int64 = 50_000

    /// Epoch (high 32 bits) | task count (16 bits) | next unclaimed task (low 16 bits), in one word
    /// so a snapshot is consistent and a claim based on a finished call's word fails (its epoch is old).
    private let job = Atomic<UInt64>(0)
    private static let maxTasks = 0xFFFF
    /// Tasks of the current call not yet finished.
    private let unfinished = Atomic<Int>(0)
    /// The current call's work, in the caller's frame, and its type. Written before the call
    /// publishes `job`; read by a worker only after claiming one of its tasks, which keeps the call
    /// (and the frame) alive.
    private var work: UnsafeRawPointer?
    private var workType: (any ParallelWork.Type)?
    private let inUse = Atomic<Bool>(false)
    /// Workers parked or about to park on `workAvailable`; the caller parked on `allDone`.
    private let parkedWorkers = Atomic<Int>(0)
    private let callerParked = Atomic<Bool>(false)
    /// Owned by the thread holding `inUse`.
    private var startedWorkers = 0
    /// The CPU the current call's caller ran on when it published the call (-1 where unknown), so that
    /// a worker sharing it moves (CPUPlacement.swift).
    private let callerCPU = Atomic<Int>(-1)

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let workAvailable = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let allDone = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    private init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(workAvailable, nil)
        pthread_cond_init(allDone, nil)
    }

    func run<Work: ParallelWork>(tasks: Int, work: UnsafePointer<Work>, type: Work.Type) {
        guard tasks <= Self.maxTasks,
              inUse.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for task in 0..<tasks { work.pointee.run(task: task) }
            return
        }
        startWorkers(tasks - 1)
        self.work = UnsafeRawPointer(work)
        workType = type
        unfinished.store(tasks, ordering: .relaxed)
        callerCPU.store(CPUPlacement.current(), ordering: .relaxed)
        let epoch = (job.load(ordering: .relaxed) >> 32) &+ 1
        // Sequentially consistent, paired with the parking worker's: either it sees this job or this
        // call sees it parked and wakes it.
        job.store(epoch << 32 | UInt64(tasks) << 16, ordering: .sequentiallyConsistent)
        let parked = parkedWorkers.load(ordering: .sequentiallyConsistent)
        if parked > 0 {
            pthread_mutex_lock(mutex)
            for _ in 0..<min(parked, tasks - 1) { pthread_cond_signal(workAvailable) }
            pthread_mutex_unlock(mutex)
        }
        while let task = claim() {
            work.pointee.run(task: task)
            finish()
        }
        waitForUnfinishedTasks()
        inUse.store(false, ordering: .releasing)
    }

    /// Starts workers until there are `count` (never stops them: parked, they cost nothing).
    private func startWorkers(_ count: Int) {
        while startedWorkers < count {
            // On failure the pool runs with fewer workers: the caller claims what they leave.
            #if canImport(Darwin)
            var thread: pthread_t?
            guard pthread_create(&thread, nil, { _ in WorkerPool.shared.workerLoop() }, nil) == 0 else { return }
            pthread_detach(thread!)
            #else
            var thread = pthread_t()
            guard pthread_create(&thread, nil, { _ in WorkerPool.shared.workerLoop() }, nil) == 0 else { return }
            pthread_detach(thread)
            #endif
            startedWorkers += 1
        }
    }

    /// Claims the next task of the current call, nil when none is left.
    private func claim() -> Int? {
        var word = job.load(ordering: .acquiring)
        while word & 0xFFFF < (word >> 16) & 0xFFFF {
            let (claimed, current) = job.compareExchange(expected: word, desired: word + 1, ordering: .acquiring)
            if claimed { return Int(word & 0xFFFF) }
            word = current
        }
        return nil
    }

    private func finish() {
        let (_, left) = unfinished.subtract(1, ordering: .sequentiallyConsistent)
        if left == 0 && callerParked.load(ordering: .sequentiallyConsistent) {
            pthread_mutex_lock(mutex)
            pthread_cond_signal(allDone)
            pthread_mutex_unlock(mutex)
        }
    }

    private func waitForUnfinishedTasks() {
        if spin(until: { unfinished.load(ordering: .acquiring) == 0 }) { return }
        callerParked.store(true, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex)
        while unfinished.load(ordering: .sequentiallyConsistent) != 0 { pthread_cond_wait(allDone, mutex) }
        pthread_mutex_unlock(mutex)
        callerParked.store(false, ordering: .relaxed)
    }

    /// A worker thread's life: run claimed tasks, spin a while for more, park until a call wakes it.
    private func workerLoop() -> Never {
        let hasTasks = { (word: UInt64) in word & 0xFFFF < (word >> 16) & 0xFFFF }
        while true {
            if let task = claim() {
                leaveCallerCPU()
                workType!.run(task: task, of: work!)
                finish()
            } else if !spin(until: { hasTasks(job.load(ordering: .relaxed)) }) {
                pthread_mutex_lock(mutex)
                parkedWorkers.add(1, ordering: .sequentiallyConsistent)
                while !hasTasks(job.load(ordering: .sequentiallyConsistent)) {
                    pthread_cond_wait(workAvailable, mutex)
                }
                parkedWorkers.subtract(1, ordering: .relaxed)
                pthread_mutex_unlock(mutex)
                // Woken onto the caller's CPU, a worker may never claim a task (the caller takes them all
                // first) and only spin there, slowing the caller.
                leaveCallerCPU()
            }
        }
    }

    /// Moves the calling worker off the CPU the current call's caller runs on (CPUPlacement.swift).
    private func leaveCallerCPU() {
        let cpu = callerCPU.load(ordering: .relaxed)
        if cpu >= 0 && CPUPlacement.current() == cpu { CPUPlacement.leave(cpu) }
    }

    /// Polls `condition` for up to `spinNanoseconds`; false if it never held.
    @inline(__always)
    private func spin(until condition: () -> Bool) -> Bool {
        var start = timespec(), now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        while true {
            // The clock is read only every 64 polls; a poll is a load from a shared cache line.
            for _ in 0..<64 where condition() { return true }
            clock_gettime(CLOCK_MONOTONIC, &now)
            let elapsed = Int64(now.tv_sec - start.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec - start.tv_nsec)
            if elapsed > Self.spinNanoseconds { return false }
        }
    }
}

/// Workers worth using for `count` items when each should get at least `grain` of them.
@inline(__always)
func workerCount(count: Int, grain: Int) -> Int {
    min(SwiftKernels.threads, max(1, count / max(1, grain)))
}

/// Splits `0..<count` into one contiguous range per worker (bounds multiples of 16 so SIMD loops
/// start aligned to their vectors) and runs `work` on each range. For elementwise kernels, whose
/// per-element result never depends on where a range starts.
@inline(__always)
func parallelRanges(count: Int, grain: Int, _ work: some RangeWork) {
    guard count > 0 else { return }
    let workers = workerCount(count: count, grain: grain)
    if workers == 1 {
        work.run(0..<count)
        return
    }
    parallelFor(workers: workers, RangeSplit(work: work, count: count, workers: workers))
}

private struct RangeSplit<Work: RangeWork>: ParallelWork {
    let work: Work, count: Int, workers: Int

    func run(task w: Int) {
        let blocks = (count + 15) / 16
        let lo = min(count, blocks * w / workers * 16)
        let hi = min(count, blocks * (w + 1) / workers * 16)
        if lo < hi { work.run(lo..<hi) }
    }
}

/// Runs `work.run(row:)` for every row in `0..<rows`, rows split into contiguous blocks across
/// workers (each at least `grain` elements of rows·cols). Rows never share outputs, so the split
/// cannot change a result.
@inline(__always)
func parallelRows(rows: Int, cols: Int, grain: Int, _ work: some RowWork) {
    guard rows > 0 else { return }
    let workers = min(rows, workerCount(count: rows * max(cols, 1), grain: grain))
    parallelFor(workers: workers, RowSplit(work: work, rows: rows, workers: workers))
}

private struct RowSplit<Work: RowWork>: ParallelWork {
    let work: Work, rows: Int, workers: Int

    func run(task w: Int) {
        for r in (rows * w / workers)..<(rows * (w + 1) / workers) { work.run(row: r) }
    }
}

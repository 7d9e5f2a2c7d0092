// Threading: the kernel-wide thread count and the one fork-join helper every parallel kernel uses.
//
// Determinism contract: kernels hand `parallelRanges` a number of independent tasks (row blocks,
// column blocks, fixed-size chunks) whose boundaries depend on the problem size only. A task is run
// start to finish by one worker, so the thread count changes who computes a value, never how.

import Dispatch
#if canImport(Darwin)
import Darwin
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

#if swift(>=6)
/// Lets a closure that only captures raw buffers cross into Dispatch's `@Sendable` worker closure.
/// Safe here because every task writes a disjoint part of the outputs and the call joins before
/// returning.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}
#endif

/// Runs `body(worker)` for every worker in `0..<workers`, in parallel when `workers > 1`, and
/// returns when all have finished. `worker` identifies per-worker scratch space.
@inline(__always)
func parallelFor(workers: Int, _ body: (_ worker: Int) -> Void) {
    if workers <= 1 {
        body(0)
        return
    }
    #if swift(>=6)
    // Swift 6 rejects capturing the non-Sendable body in Dispatch's @Sendable closure, so it
    // crosses in a box (withoutActuallyEscaping costs two small heap allocations per call).
    withoutActuallyEscaping(body) { body in
        let task = UncheckedSendable(value: body)
        DispatchQueue.concurrentPerform(iterations: workers) { task.value($0) }
    }
    #else
    // Swift 5 mode accepts the direct capture, which allocates nothing beyond Dispatch's own.
    DispatchQueue.concurrentPerform(iterations: workers) { body($0) }
    #endif
}

/// Workers worth using for `count` items when each should get at least `grain` of them.
@inline(__always)
func workerCount(count: Int, grain: Int) -> Int {
    min(SwiftKernels.threads, max(1, count / max(1, grain)))
}

/// Splits `0..<count` into one contiguous range per worker (bounds multiples of 16 so SIMD loops
/// start aligned to their vectors) and runs `body` on each range. For elementwise kernels, whose
/// per-element result never depends on where a range starts.
@inline(__always)
func parallelRanges(count: Int, grain: Int, _ body: (_ range: Range<Int>) -> Void) {
    guard count > 0 else { return }
    let workers = workerCount(count: count, grain: grain)
    if workers == 1 {
        body(0..<count)
        return
    }
    let blocks = (count + 15) / 16
    parallelFor(workers: workers) { w in
        let lo = min(count, blocks * w / workers * 16)
        let hi = min(count, blocks * (w + 1) / workers * 16)
        if lo < hi { body(lo..<hi) }
    }
}

/// Runs `body(row)` for every row in `0..<rows`, rows split into contiguous blocks across workers
/// (each at least `grain` elements of rows·cols). Rows never share outputs, so the split cannot
/// change a result.
@inline(__always)
func parallelRows(rows: Int, cols: Int, grain: Int, _ body: (_ row: Int) -> Void) {
    guard rows > 0 else { return }
    let workers = min(rows, workerCount(count: rows * max(cols, 1), grain: grain))
    parallelFor(workers: workers) { w in
        for r in (rows * w / workers)..<(rows * (w + 1) / workers) { body(r) }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-op timings: calls, self and total time, work done, and a Chrome trace.
///
/// Recording costs two clock reads and one dictionary lookup per op, and never allocates after an op's
/// first call (keys are static names plus sizes; trace events go to a buffer reserved up front).
/// Ops may nest (a training step holds its kernels): self time excludes the time of nested ops.
public final class Profiler: @unchecked Sendable {
    /// The row of the Chrome trace an op is drawn on.
    public enum Phase: Int, CaseIterable, Sendable {
        case step, data, forward, backward, optimizer, evaluation, communication
        var label: String { String(describing: self) }
    }

    /// What one op is: its name and the sizes it ran at (rows, columns, inner dimension; 0 where none).
    public struct Key: Hashable, Sendable {
        let name: Int  // the address of the op's static name
        let m: Int, n: Int, k: Int
    }

    /// Accumulated figures for one op at one shape.
    public struct Stats: Sendable {
        public let name: String
        public let shape: String
        public let phase: Phase
        public var calls = 0
        public var totalNanoseconds: UInt64 = 0
        public var selfNanoseconds: UInt64 = 0
        /// Floating-point operations and bytes moved per call (0 when unknown).
        public var flopsPerCall: Double
        public var bytesPerCall: Double
    }

    struct Event { let stats: Int; let start: UInt64; let duration: UInt64 }

    public private(set) var stats: [Stats] = []
    private var index: [Key: Int] = [:]
    private var events: [Event] = []
    private let eventCapacity: Int
    public private(set) var droppedEvents = 0
    /// Time spent in ops nested inside each open op, to compute self time.
    private var childTime: [UInt64] = []
    public let origin: UInt64

    /// - Parameter traceCapacity: trace events kept (later ones are counted, not stored); 0 keeps none.
    public init(traceCapacity: Int = 1 << 20) {
        eventCapacity = traceCapacity
        events.reserveCapacity(traceCapacity)
        childTime.reserveCapacity(16)
        origin = Profiler.now()
    }

    /// Monotonic nanoseconds.
    @inline(__always) public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Times `body` as op `name` (a static string: the profiler keys on its address).
    @inline(__always)
    public func measure<T>(_ name: StaticString, _ phase: Phase, m: Int = 0, n: Int = 0, k: Int = 0,
                           flops: Double = 0, bytes: Double = 0, _ body: () throws -> T) rethrows -> T {
        childTime.append(0)
        let start = Profiler.now()
        let result = try body()
        let duration = Profiler.now() &- start
        let nested = childTime.removeLast()
        if !childTime.isEmpty { childTime[childTime.count - 1] &+= duration }
        record(Key(name: Int(bitPattern: name.utf8Start), m: m, n: n, k: k), name: name, phase: phase,
               flops: flops, bytes: bytes, start: start, duration: duration, nested: nested)
        return result
    }

    private func record(_ key: Key, name: StaticString, phase: Phase, flops: Double, bytes: Double,
                        start: UInt64, duration: UInt64, nested: UInt64) {
        let slot: Int
        if let existing = index[key] {
            slot = existing
        } else {
            slot = stats.count
            let shape = [key.m, key.n, key.k].filter { $0 > 0 }.map(String.init).joined(separator: "×")
            stats.append(Stats(name: name.description, shape: shape, phase: phase,
                               flopsPerCall: flops, bytesPerCall: bytes))
            index[key] = slot
        }
        stats[slot].calls += 1
        stats[slot].totalNanoseconds &+= duration
        stats[slot].selfNanoseconds &+= duration &- Swift.min(nested, duration)
        if events.count < eventCapacity {
            events.append(Event(stats: slot, start: start, duration: duration))
        } else {
            droppedEvents += 1
        }
    }

    /// Forgets everything recorded so far (keeps buffers).
    public func reset() {
        stats.removeAll(keepingCapacity: true)
        index.removeAll(keepingCapacity: true)
        events.removeAll(keepingCapacity: true)
        droppedEvents = 0
    }

    /// Trace events in start order, for the Chrome trace writer.
    var traceEvents: [(stats: Stats, start: UInt64, duration: UInt64)] {
        events.map { (stats[$0.stats], $0.start, $0.duration) }
    }
}

/// Runs `body`, timed as op `name` when a profiler is given.
@inline(__always)
func profiled<T>(_ profiler: Profiler?, _ name: StaticString, _ phase: Profiler.Phase,
                 m: Int = 0, n: Int = 0, k: Int = 0, flops: Double = 0, bytes: Double = 0,
                 _ body: () throws -> T) rethrows -> T {
    guard let profiler else { return try body() }
    return try profiler.measure(name, phase, m: m, n: n, k: k, flops: flops, bytes: bytes, body)
}

import CKernels
import Dendrite

/// What the machine can do at a thread count, measured in the same run as the kernels so clocks,
/// neighbours and thermal state are the same: every rate is shown as a share of these.
struct Ceiling: Codable {
    var threads: Int
    /// Independent FMA chains on the C kernels' code path in use (16-wide on AVX-512, 8 on AVX2).
    var peakGFLOPs: Double
    /// memcpy of a buffer far larger than the caches, bytes read plus bytes written.
    var copyGBs: Double
    /// The FMA peak of every code path the CPU supports, by path name.
    var pathPeakGFLOPs: [String: Double] = [:]
    /// With two threads or more: the best time the kernels' threads took to pass a cache line there and back.
    var roundTripNs: Double?
}

enum Ceilings {
    static let copyBytes = 256 << 20

    /// Each figure is the best of many short tries: other work on the machine can only lower a try,
    /// never raise it, and a try of a few milliseconds often fits between time slices of that work.
    static func measure(threadCounts: [Int], quick: Bool) -> [Ceiling] {
        threadCounts.map { threads in
            var peaks: [String: Double] = [:]
            for path in CodePath.supported {
                peaks[path.rawValue] = (0..<(quick ? 20 : 60)).map { _ in path.probePeakGFLOPs(threads: threads, seconds: 0.005) }.max()!
            }
            let roundTrips = threads > 1 ? (0..<20).map { _ in dk_probe_core_round_trip_ns(1000) }.filter { $0 > 0 } : []
            return Ceiling(threads: threads, peakGFLOPs: peaks[CodePath.inUse.rawValue]!,
                           copyGBs: dk_probe_copy_gbps(Int32(threads), copyBytes, quick ? 4 : 10), pathPeakGFLOPs: peaks,
                           roundTripNs: roundTrips.min())
        }
    }

    /// One core-to-core round trip sample, taken between a 2-thread case's rounds. A virtual machine's
    /// CPUs can be moved by its host, within minutes, from cores sharing an L3 to cores on different
    /// chips, where every line the two threads share costs several times as much.
    static func sampleRoundTrip() -> Double { dk_probe_core_round_trip_ns(200) }

    /// A case's threads count as far apart when its median round trip exceeds the best one before the
    /// run by this factor (tens of ns against hundreds on the machines measured).
    static let apartFactor = 2.0

    /// A case's threads count as sharing cores when the median FMA peak probed in its rounds is below
    /// this share of the best before the run: less than threads − ½ cores' worth. A virtual machine's two
    /// CPUs were seen to run, for minutes, at one core's peak (on one core's two hardware threads, or with
    /// one held by the host): 2-thread samples then took the 1-thread time (BENCHMARKS.md).
    static func sharedCoresFraction(threads: Int) -> Double { (Double(threads) - 0.5) / Double(threads) }

    /// One FMA-peak sample on the code path in use, taken between a case's samples. The machine's clock
    /// moves with what its neighbours do, within minutes, so a FLOP-counted case is compared
    /// with the median of the peaks sampled in its own rounds, not with the best peak seen before the run.
    static func samplePeak(threads: Int, seconds: Double) -> Double {
        CodePath.inUse.probePeakGFLOPs(threads: threads, seconds: seconds)
    }

    /// The middle value (the mean of the two middle ones for an even count).
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted(), mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}

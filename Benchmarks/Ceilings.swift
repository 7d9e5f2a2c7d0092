import CKernels

/// What the machine can do at a thread count, measured in the same run as the kernels so clocks,
/// neighbours and thermal state are the same: every rate is shown as a share of these.
struct Ceiling: Codable {
    var threads: Int
    /// Independent FMA chains (AVX2+FMA where available, the instruction set the C kernels use).
    var peakGFLOPs: Double
    /// memcpy of a buffer far larger than the caches, bytes read plus bytes written.
    var copyGBs: Double
}

enum Ceilings {
    static let copyBytes = 256 << 20

    /// Each figure is the best of many short tries: other work on the machine can only lower a try,
    /// never raise it, and a try of a few milliseconds often fits between time slices of that work.
    static func measure(threadCounts: [Int], quick: Bool) -> [Ceiling] {
        threadCounts.map { threads in
            let peak = (0..<(quick ? 20 : 60)).map { _ in dk_probe_fma_gflops(Int32(threads), 0.005) }.max()!
            return Ceiling(threads: threads, peakGFLOPs: peak,
                           copyGBs: dk_probe_copy_gbps(Int32(threads), copyBytes, quick ? 4 : 10))
        }
    }

    /// One FMA-peak sample, taken between a case's samples. The machine's clock moves with what its
    /// neighbours do, within minutes, so a FLOP-counted case is compared with the median
    /// of the peaks sampled in its own rounds, not with the best peak seen before the run.
    static func samplePeak(threads: Int, seconds: Double) -> Double {
        dk_probe_fma_gflops(Int32(threads), seconds)
    }

    /// The middle value (the mean of the two middle ones for an even count).
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted(), mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}

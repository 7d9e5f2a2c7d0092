/// One row of the results: a case on a backend at a thread count, its time, rate and comparisons.
struct BenchResult: Codable {
    var caseName: String
    var group: String
    var backend: String
    var threads: Int
    var seconds: Summary
    var gflops: Double?
    var gbs: Double?
    var samplesPerSecond: Double?
    /// Rate ÷ ceiling at this thread count: GFLOP/s ÷ FMA peak, or GB/s ÷ copy bandwidth.
    var shareOfCeiling: Double
    /// The FMA peak a GFLOP/s rate was divided by: the median of the probes taken with this case.
    var peakGFLOPs: Double?
    /// C backend's median time ÷ this one: above 1 is faster than C.
    var speedVsC: Double?
    /// OpenBLAS's median time ÷ this one (matmul and training only).
    var speedVsOpenBLAS: Double?
    var allocations: AllocationReport?
    /// With two threads or more: the median core-to-core round trip probed in this case's rounds, and
    /// whether it exceeded the best one before the run by `Ceilings.apartFactor` (the threads ran far apart).
    var roundTripNs: Double?
    var threadsApart: Bool?
    /// With two threads or more on a FLOP-counted case: whether the FMA peak probed in its rounds (the
    /// one its Ceil divides by) fell below `Ceilings.sharedCoresFraction` of the best before the run. Its
    /// threads then had fewer cores' FMA units than threads, and a Ceil near the 1-thread row's hides that.
    var coresShared: Bool?

    init(benchCase: BenchCase, backend: String, threads: Int, seconds: Summary, ceiling: Ceiling) {
        caseName = benchCase.name
        group = benchCase.group
        self.backend = backend
        self.threads = threads
        self.seconds = seconds
        switch benchCase.work {
        case .flops(let flops):
            gflops = flops / seconds.median / 1e9
            shareOfCeiling = gflops! / ceiling.peakGFLOPs
            peakGFLOPs = ceiling.peakGFLOPs
        case .bytes(let bytes):
            gbs = bytes / seconds.median / 1e9
            shareOfCeiling = gbs! / ceiling.copyGBs
        case .training(let samples, let flops):
            samplesPerSecond = Double(samples) / seconds.median
            gflops = flops / seconds.median / 1e9
            shareOfCeiling = gflops! / ceiling.peakGFLOPs
            peakGFLOPs = ceiling.peakGFLOPs
        }
    }
}

extension [BenchResult] {
    /// Fills in each row's speed relative to the C and OpenBLAS rows of the same case and threads.
    mutating func compare() {
        let c = first { $0.backend == "c" }?.seconds.median
        let openBLAS = first { $0.backend == "openblas" }?.seconds.median
        for i in indices {
            if let c { self[i].speedVsC = c / self[i].seconds.median }
            if let openBLAS { self[i].speedVsOpenBLAS = openBLAS / self[i].seconds.median }
        }
    }
}

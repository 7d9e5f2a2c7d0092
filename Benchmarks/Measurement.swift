import Dendrite

/// How hard to measure. Every sample times enough back-to-back calls to last `sampleSeconds`, so the
/// clock's resolution and call overhead vanish; several samples give a median and a spread.
struct MeasurementPlan {
    var sampleSeconds: Double
    var samples: Int
    /// Caps calls per sample, so a kernel too fast to time still finishes.
    var maxCallsPerSample: Int
    /// Length of the FMA-peak probe taken with each round of a FLOP-counted case.
    var peakProbeSeconds: Double

    static let full = MeasurementPlan(sampleSeconds: 0.05, samples: 7, maxCallsPerSample: 1_000_000,
                                      peakProbeSeconds: 0.01)
    static let quick = MeasurementPlan(sampleSeconds: 0.005, samples: 3, maxCallsPerSample: 100_000,
                                       peakProbeSeconds: 0.002)
}

/// Seconds per call of one (case, backend, threads): the median and the spread of the samples.
struct Summary: Codable {
    var median: Double
    var min: Double
    var max: Double
    /// First and third quartiles: the spread that one outlier cannot blow up.
    var q1: Double
    var q3: Double
    var samples: Int
    var callsPerSample: Int

    init(secondsPerCall samples: [Double], callsPerSample: Int) {
        precondition(!samples.isEmpty, "a summary needs at least one sample")
        let sorted = samples.sorted()
        func quantile(_ q: Double) -> Double {
            let position = q * Double(sorted.count - 1)
            let low = Int(position), high = Swift.min(low + 1, sorted.count - 1)
            return sorted[low] + (sorted[high] - sorted[low]) * (position - Double(low))
        }
        median = quantile(0.5)
        min = sorted.first!
        max = sorted.last!
        q1 = quantile(0.25)
        q3 = quantile(0.75)
        self.samples = sorted.count
        self.callsPerSample = callsPerSample
    }

    /// The interquartile range as a percentage of the median.
    var spreadPercent: Double { median > 0 ? 100 * (q3 - q1) / median : 0 }
}

/// Times `calls` back-to-back calls of `body`; returns seconds per call.
func secondsPerCall(_ calls: Int, _ body: () -> Void) -> Double {
    let start = Profiler.now()
    for _ in 0..<calls { body() }
    return Double(Profiler.now() - start) / 1e9 / Double(calls)
}

/// Warms `body` up (caches, page faults, lazily allocated scratch, CPU clocks) for about one sample's
/// length, and returns how many calls make a sample.
func calibrate(_ body: () -> Void, plan: MeasurementPlan) -> Int {
    var calls = 1
    var elapsed = secondsPerCall(calls, body)
    while elapsed * Double(calls) < plan.sampleSeconds && calls < plan.maxCallsPerSample {
        calls = Swift.min(plan.maxCallsPerSample, calls * 4)
        elapsed = secondsPerCall(calls, body)
    }
    let needed = (plan.sampleSeconds / Swift.max(elapsed, 1e-9)).rounded(.up)
    return Swift.max(1, Swift.min(plan.maxCallsPerSample, Int(needed)))
}

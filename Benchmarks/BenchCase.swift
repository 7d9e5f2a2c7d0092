import Dendrite

/// What one call of a case does, so a time becomes a rate and a share of a ceiling.
enum Work {
    /// Floating-point operations: GFLOP/s against the FMA peak.
    case flops(Double)
    /// Bytes read plus bytes written: GB/s against the copy bandwidth.
    case bytes(Double)
    /// Training: samples/s, and GFLOP/s of its matmuls against the FMA peak.
    case training(samples: Int, flops: Double)

    /// Whether the rate is GFLOP/s, compared with the FMA peak.
    var countsFLOPs: Bool {
        if case .bytes = self { return false }
        return true
    }
}

/// One call of a case on the backend it was made for.
typealias Runner = () -> Void

/// One thing to time: a kernel at one shape and layout, or a training step or epoch.
struct BenchCase {
    var name: String
    /// Section of the table and the chart: matmul, activation, softmax, optimizer, other, training.
    var group: String
    var work: Work
    /// OpenBLAS only replaces matmul, so other kernels on it would time the C kernels twice.
    var includesOpenBLAS = false
    /// Caps samples for cases whose one call lasts seconds (an epoch).
    var maxSamples: Int? = nil
    /// Whether the harness checks that repeating a call leaves the heap alone (the training step).
    var checksAllocations = false
    /// Allocates the case's inputs once, shared by every backend so all of them see the same data,
    /// and returns what makes a runner for a given backend. Inputs are freed when the case is done.
    var prepare: () throws -> (Backend) throws -> Runner
}

/// "128×256", the notation of every case name.
func dims(_ values: Int...) -> String { values.map(String.init).joined(separator: "×") }

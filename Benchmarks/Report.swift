import Dendrite
import Foundation

/// The stdout table: one row per case, backend and thread count, printed as each case finishes so a
/// long run shows progress.
enum Report {
    private static let columns: [(title: String, width: Int, leftAligned: Bool)] = [
        ("Case", 50, true), ("Backend", 10, true), ("Thr", 3, false), ("Median", 11, false), ("±IQR", 6, false),
        ("Rate", 17, false), ("Ceil", 5, false), ("vs C", 7, false), ("vs BLAS", 7, false),
    ]

    static func line(_ cells: [String]) -> String {
        zip(columns, cells).map { column, cell in
            let pad = String(repeating: " ", count: Swift.max(0, column.width - cell.count))
            return column.leftAligned ? cell + pad : pad + cell
        }.joined(separator: "  ").replacingOccurrences(of: " +$", with: "", options: .regularExpression)
    }

    static var header: String {
        let rule = String(repeating: "-", count: columns.reduce(0) { $0 + $1.width + 2 } - 2)
        return [rule, line(columns.map(\.title)), rule].joined(separator: "\n")
    }

    static let legend = """
        Median: time per call (median of the samples), ±IQR: interquartile range in % of the median.
        Ceil: share of this machine's ceiling at that thread count: GFLOP/s ÷ FMA peak for matmul and training
        (matmul FLOPs only; the peak is probed once per round between that case's samples, and its median used),
        GB/s ÷ DRAM copy bandwidth above for the other kernels (cases that fit in cache can exceed 100%).
        vs C: C backend time ÷ this time (>1 is faster than C); vs BLAS: the same against OpenBLAS.
        c is the C backend on the code path in use; c-avx2, c-portable the same kernels forced onto another path.
        OpenBLAS (and blas, the CBLAS library DENDRITE_BLAS names; blas1, blas2, … when it lists several, separated by ':')
        only replace matmul: matmul and training rows only.
        ‡ threads apart: in this case's rounds the two threads took over \(String(format: "%g", Ceilings.apartFactor))× the best round trip above to
        pass a cache line back and forth (a VM's CPUs moved to different L3s): its multi-thread times are not comparable.
        † cores shared: the FMA peak probed in this case's rounds (its Ceil's divisor) was under threads − ½ cores' worth
        of the best above (a VM's CPUs on one core, or one held by its host): its multi-thread times are not comparable.
        """

    /// The rows of one case at one thread count; the case name is printed once.
    static func rows(_ results: [BenchResult]) -> [String] {
        results.enumerated().map { i, result in
            line([i == 0 ? result.caseName : "", result.backend, String(result.threads),
                  ProfileTable.formatTime(nanoseconds: result.seconds.median * 1e9),
                  String(format: "%.1f%%", result.seconds.spreadPercent), rate(result),
                  String(format: "%.0f%%", 100 * result.shareOfCeiling),
                  speed(result.speedVsC), speed(result.speedVsOpenBLAS)])
                + (i == 0 && result.threadsApart == true
                    ? String(format: "  ‡ threads apart (round trip %.0f ns)", result.roundTripNs ?? 0) : "")
                + (i == 0 && result.coresShared == true
                    ? String(format: "  † cores shared (FMA peak %.1f GFLOP/s)", result.peakGFLOPs ?? 0) : "")
        }
    }

    /// How many multi-thread cases ran with their threads far apart, or nil when none did.
    static func threadsApartSummary(_ results: [BenchResult]) -> String? {
        flaggedCases(results, \.threadsApart).map { apart, measured in
            "!! THREADS APART in \(apart) of \(measured) multi-thread cases (‡): compare those cases' "
                + "multi-thread figures only within the same run and case, or measure them again."
        }
    }

    /// How many multi-thread cases ran with fewer cores' FMA units than threads, or nil when none did.
    static func coresSharedSummary(_ results: [BenchResult]) -> String? {
        flaggedCases(results, \.coresShared).map { shared, measured in
            "!! CORES SHARED in \(shared) of \(measured) FLOP-counted multi-thread cases (†): their "
                + "threads got fewer cores' worth of FMA throughput than there were threads; measure them again."
        }
    }

    /// Cases (at a thread count) with `flag` set, and those where it was measured; nil when none has it set.
    private static func flaggedCases(_ results: [BenchResult], _ flag: KeyPath<BenchResult, Bool?>) -> (Int, Int)? {
        let measured = Set(results.filter { $0[keyPath: flag] != nil }.map { "\($0.caseName) \($0.threads)" })
        let flagged = Set(results.filter { $0[keyPath: flag] == true }.map { "\($0.caseName) \($0.threads)" })
        return flagged.isEmpty ? nil : (flagged.count, measured.count)
    }

    static func rate(_ result: BenchResult) -> String {
        if let samples = result.samplesPerSecond { return String(format: "%.0f samples/s", samples) }
        if let gflops = result.gflops { return String(format: "%.1f GFLOP/s", gflops) }
        return String(format: "%.1f GB/s", result.gbs ?? 0)
    }

    static func speed(_ ratio: Double?) -> String {
        guard let ratio else { return "—" }
        return String(format: ratio < 10 ? "%.2f×" : "%.1f×", ratio)
    }

    static func ceilings(_ ceilings: [Ceiling]) -> String {
        ceilings.map { ceiling in
            "ceiling at \(plural(ceiling.threads, "thread")): "
                + String(format: "FMA peak %.1f GFLOP/s (best probe before the run, ", ceiling.peakGFLOPs) + "\(CodePath.inUse) path; "
                + CodePath.supported.compactMap { path in
                    ceiling.pathPeakGFLOPs[path.rawValue].map { "\(path) " + String(format: "%.1f", $0) } }.joined(separator: ", ")
                + String(format: "), copy bandwidth %.1f GB/s", ceiling.copyGBs)
                + " (\(Ceilings.copyBytes >> 20) MiB buffer, read+write)"
                + (ceiling.roundTripNs.map { String(format: ", core-to-core round trip %.0f ns", $0) } ?? "")
        }.joined(separator: "\n")
    }

    static func allocations(_ results: [BenchResult]) -> [String] {
        results.compactMap { result in
            guard let report = result.allocations else { return nil }
            return "  \(result.caseName), \(result.backend), \(plural(result.threads, "thread")), \(report.calls) calls: "
                + "\(report.swiftObjects) Swift heap objects, malloc in-use \(signed(report.inUseBytesGrowth)) B, "
                + "arena \(signed(report.arenaBytesGrowth)) B, mmapped \(signed(report.mmappedBytesGrowth)) B  "
                + (report.isClean ? "OK" : "ALLOCATES")
        }
    }

    static func plural(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }
    static func signed(_ value: Int) -> String { value > 0 ? "+\(value)" : "\(value)" }
}

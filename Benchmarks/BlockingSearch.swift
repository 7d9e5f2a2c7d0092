import Dendrite
import Foundation

/// `dendrite tune`: searches the C GEMM's blocking for the code path in use on this machine. One
/// coordinate at a time (KC, then MC, then NC, each from the best so far), every candidate is timed on
/// a few products interleaved sample by sample with OpenBLAS (or, without OpenBLAS, with the starting
/// blocking), so a machine that speeds up or slows down mid-search shifts every candidate alike. A
/// candidate's score is the geometric mean over the products of its median time ÷ the yardstick's.
public enum BlockingSearch {
    public struct Options {
        /// Samples per candidate and product.
        public var rounds = 7
        public init() {}
    }

    /// The products timed: squares, the MLP's largest layer and the `cnn` preset's conv 2 forward.
    static let products: [(name: String, m: Int, k: Int, n: Int)] = [
        ("NN 512×512×512", 512, 512, 512), ("NN 1024×1024×1024", 1024, 1024, 1024),
        ("NN 128×784×256", 128, 784, 256), ("NN 73728×288×64", 128 * 24 * 24, 3 * 3 * 32, 64),
    ]

    /// Runs the search and returns the best blocking found; `print` gets the progress.
    public static func run(_ options: Options, print: (String) -> Void) throws -> GEMMBlocking {
        let path = CodePath.inUse
        let c = try Backends.named("c")
        let yardstick = try? Backends.named("openblas")
        let start = GEMMBlocking.current(for: path)
        print("tuning the \(path) path's GEMM blocking at \(Threads.count) thread\(Threads.count == 1 ? "" : "s"), from "
            + "MC,KC,NC = \(start.blocking) (\(start.source.rawValue)), against \(yardstick == nil ? "that starting blocking (no OpenBLAS)" : "OpenBLAS")")
        let tile = path.gemmTile
        func multiple(_ value: Int, of step: Int) -> Int { Swift.max(step, value / step * step) }
        var best = start.blocking
        let coordinates: [(name: String, field: WritableKeyPath<GEMMBlocking, Int>, values: [Int])] = [
            ("KC", \.kc, [128, 192, 256, 320, 384, 512, 768]),
            ("MC", \.mc, [48, 96, 144, 192, 288, 384, 576, 768].map { multiple($0, of: tile.rows) }),
            ("NC", \.nc, [256, 512, 1024, 2048, 4096, 8192].map { multiple($0, of: tile.columns) }),
        ]
        defer { try? GEMMBlocking.set(best, for: path) }
        for (name, field, values) in coordinates {
            let candidates = Set(values + [best[keyPath: field]]).sorted().map { value in
                var candidate = best
                candidate[keyPath: field] = value
                return candidate
            }
            let scores = try measure(candidates, on: path, c: c, yardstick: yardstick ?? c, yardstickBlocking: start.blocking,
                                     rounds: options.rounds)
            for (candidate, score) in zip(candidates, scores) {
                print("  \(name) \(candidate[keyPath: field]): time ÷ \(yardstick == nil ? "start" : "OpenBLAS") "
                    + String(format: "%.3f", score))
            }
            best = candidates[scores.indices.min { scores[$0] < scores[$1] }!]
            print("  best \(name) so far: MC,KC,NC = \(best)")
        }
        return best
    }

    /// Each candidate's geometric-mean ratio to the yardstick over `products`.
    static func measure(_ candidates: [GEMMBlocking], on path: CodePath, c: Backend, yardstick: Backend,
                        yardstickBlocking: GEMMBlocking, rounds: Int) throws -> [Double] {
        let plan = MeasurementPlan(sampleSeconds: 0.03, samples: rounds, maxCallsPerSample: 10_000, peakProbeSeconds: 0)
        var logRatios = [Double](repeating: 0, count: candidates.count)
        for product in products {
            let a = FloatBuffer(count: product.m * product.k, seed: 1), b = FloatBuffer(count: product.k * product.n, seed: 2)
            let out = FloatBuffer(count: product.m * product.n, seed: 3)
            func runner(_ backend: Backend) -> () -> Void {
                {
                    backend.gemm.sgemm(transA: false, transB: false, m: product.m, n: product.n, k: product.k, alpha: 1,
                                  a: a.readOnly, lda: product.k, b: b.readOnly, ldb: product.n, beta: 0, c: out.pointer, ldc: product.n)
                }
            }
            // Entry 0 is the yardstick (with the starting blocking, in case it is the C backend itself).
            let settings = [yardstickBlocking] + candidates, runners = [runner(yardstick)] + candidates.map { _ in runner(c) }
            var samples = [[Double]](repeating: [], count: settings.count)
            try GEMMBlocking.set(yardstickBlocking, for: path)
            let calls = calibrate(runners[0], plan: plan)
            for round in 0..<rounds {
                for offset in settings.indices {
                    let i = (round + offset) % settings.count
                    try GEMMBlocking.set(settings[i], for: path)
                    runners[i]()
                    samples[i].append(secondsPerCall(calls, runners[i]))
                }
            }
            let medians = samples.map { Summary(secondsPerCall: $0, callsPerSample: calls).median }
            for i in candidates.indices { logRatios[i] += log(medians[i + 1] / medians[0]) }
        }
        return logRatios.map { exp($0 / Double(products.count)) }
    }
}

// The C kernels' code paths side by side: AVX2 and AVX-512 give the same bits (both fuse
// multiply-adds; every GEMM element is summed in the same order whatever the tile, and within one K
// block whatever the blocking), and the blocking API refuses what the GEMM cannot use. (Every other
// kernel test runs on each supported path through TestBackends.c.)

import CKernels
import Dendrite
import Foundation
import Testing

@Suite struct CodePathTests {
    /// Runs body on each path, on this thread only (other tests keep theirs).
    func onEachPath<T>(_ paths: [CodePath], _ body: () -> T) throws -> [T] {
        defer { try? CodePath.selectForThisThread(nil) }
        return try paths.map { path in
            try CodePath.selectForThisThread(path)
            return body()
        }
    }

    @Test("AVX2 and AVX-512 give the same bits: GEMM within one K block, epilogues, activations, softmax, Adam")
    func vectorPathsAgree() throws {
        let paths = [CodePath.avx2, .avx512].filter(\.isSupported)
        guard paths.count == 2 else {
            print("CodePathTests: skipped, this CPU lacks \(CodePath.allCases.filter { !$0.isSupported }.map(\.rawValue))")
            return
        }
        let (m, k, n) = (77, 60, 131) // K below every KC: one block on both paths
        let a = randomFloats(m * k, seed: 201), b = randomFloats(k * n, seed: 202), bias = randomFloats(n, seed: 203)
        let results = try onEachPath(paths) { () -> [Float] in
            let backend = Backends.c
            var c = [Float](repeating: .nan, count: m * n), forward = c, probabilities = c
            backend.gemm.sgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n,
                          beta: 0, c: &c, ldc: n)
            backend.gemm.denseForward(out: &forward, x: a, weight: b, bias: bias, m: m, n: n, k: k, activation: .elu(alpha: 1),
                                      epilogue: backend.elementwise)
            backend.losses.softmaxForward(out: &probabilities, input: c, rows: m, cols: n)
            var activations = [Float](repeating: .nan, count: m * n)
            for activation in [Activation.sigmoid, .tanh, .selu, .leakyReLU(alpha: 0.01)] {
                backend.elementwise.activationForward(out: &activations, input: c, count: m * n, activation: activation)
                forward += activations
            }
            var p = a, mo = [Float](repeating: 0, count: a.count), v = mo
            backend.optimizers.adamStep(param: &p, m: &mo, v: &v, grad: b.prefix(a.count).map { $0 }, count: a.count,
                             lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1)
            return c + forward + probabilities + p + mo + v
        }
        expectBitwiseEqual(results[1], results[0], "avx512 vs avx2", shape: "\(m)×\(k)×\(n)")
    }

    @Test("a blocking the GEMM cannot use is refused with the rule it breaks")
    func blockingIsChecked() throws {
        for path in CodePath.supported {
            let tile = path.gemmTile
            let current = GEMMBlocking.current(for: path).blocking
            for (bad, rule) in [(GEMMBlocking(mc: tile.rows + 1, kc: 256, nc: tile.columns), "MC=\(tile.rows + 1)"),
                                (GEMMBlocking(mc: tile.rows, kc: 0, nc: tile.columns), "KC=0"),
                                (GEMMBlocking(mc: tile.rows, kc: 256, nc: tile.columns * 3 / 2), "NC="),
                                (GEMMBlocking(mc: tile.rows * 1000, kc: 256, nc: tile.columns), "MC=")] {
                #expect(throws: DendriteError.self, "\(path): \(bad)") { try GEMMBlocking.set(bad, for: path) }
                do { try GEMMBlocking.set(bad, for: path) } catch {
                    #expect("\(error)".contains(rule), "\(path): \(bad): \(error)")
                }
            }
            #expect(GEMMBlocking.current(for: path).blocking == current, "\(path): a refused blocking changed it")
        }
    }

    @Test("MC,KC,NC parses strictly")
    func blockingParses() {
        #expect(GEMMBlocking(parsing: "144,512,256") == GEMMBlocking(mc: 144, kc: 512, nc: 256))
        for bad in ["", "144,512", "144,512,256,1", "144,,256", "a,b,c", "144, 512,256", "-1,512,256", "0,512,256", "144,512,256x"] {
            #expect(GEMMBlocking(parsing: bad) == nil, "'\(bad)' parsed")
        }
    }

    @Test("tuning results round-trip through the file, per CPU and path; a damaged line is an error naming it")
    func wisdomRoundTrips() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("dendrite-wisdom-\(UUID().uuidString)/blocking").path
        defer { try? FileManager.default.removeItem(atPath: (file as NSString).deletingLastPathComponent) }
        var wisdom = try BlockingWisdom(file: file)
        #expect(wisdom.entries.isEmpty)
        wisdom.record(GEMMBlocking(mc: 288, kc: 256, nc: 4096), for: .avx512, cpu: "CPU A [x]")
        wisdom.record(GEMMBlocking(mc: 144, kc: 512, nc: 256), for: .avx2, cpu: "CPU A [x]")
        wisdom.record(GEMMBlocking(mc: 96, kc: 320, nc: 512), for: .avx512, cpu: "CPU A [x]")
        try wisdom.save()
        let read = try BlockingWisdom(file: file)
        #expect(read.blocking(for: .avx512, cpu: "CPU A [x]") == GEMMBlocking(mc: 96, kc: 320, nc: 512))
        #expect(read.blocking(for: .avx2, cpu: "CPU A [x]") == GEMMBlocking(mc: 144, kc: 512, nc: 256))
        #expect(read.blocking(for: .avx512, cpu: "CPU B") == nil)
        try "avx512 96,320 CPU A\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect { try BlockingWisdom(file: file) } throws: { "\($0)".contains("line 1") && "\($0)".contains(file) }
    }

    @Test("a tall product runs each row block's K blocks back to back: same bits as its row blocks apart, close to the reference")
    func kBlocksInsideRowBlocks() throws {
        for path in CodePath.supported {
            let blocking = GEMMBlocking.current(for: path).blocking, tile = path.gemmTile
            // Over three row blocks (over one for each of two threads), two K blocks, and a ragged
            // second column panel: B's whole K then fits beside A's block, so dk_sgemm takes that order.
            let (m, k, n) = (3 * blocking.mc + 7, blocking.kc + blocking.kc / 2 + 3, tile.columns + 5)
            guard k * 2 * tile.columns <= blocking.mc * blocking.kc, 2 * tile.columns <= blocking.kc else {
                print("CodePathTests: \(path) with \(blocking) would not take that order; skipped")
                continue
            }
            let a = randomFloats(m * k, seed: 211), b = randomFloats(k * n, seed: 212), bias = randomFloats(n, seed: 213)
            let start = randomFloats(m * n, seed: 214)
            for transB in [false, true] {
                let ldb = transB ? k : n
                func product(rows: Range<Int>) throws -> (sum: [Float], dense: [Float]) {
                    let x = Array(a[rows.lowerBound * k..<rows.upperBound * k])
                    return try onEachPath([path]) { () -> ([Float], [Float]) in
                        var c = Array(start[rows.lowerBound * n..<rows.upperBound * n])
                        Backends.c.gemm.sgemm(transA: false, transB: transB, m: rows.count, n: n, k: k, alpha: 0.5, a: x,
                                              lda: k, b: b, ldb: ldb, beta: 1, c: &c, ldc: n)
                        var dense = [Float](repeating: .nan, count: rows.count * n)
                        if !transB {
                            Backends.c.gemm.denseForward(out: &dense, x: x, weight: b, bias: bias, m: rows.count, n: n, k: k,
                                                         activation: .relu, epilogue: Backends.c.elementwise)
                        }
                        return (c, dense)
                    }[0]
                }
                let whole = try product(rows: 0..<m)
                var apart: (sum: [Float], dense: [Float]) = ([], [])
                for r0 in stride(from: 0, to: m, by: blocking.mc) {
                    let part = try product(rows: r0..<min(m, r0 + blocking.mc))
                    apart.sum += part.sum
                    apart.dense += part.dense
                }
                let shape = "\(m)×\(k)×\(n)\(transB ? " NT" : "") on \(path), \(blocking)"
                expectBitwiseEqual(whole.sum, apart.sum, "sgemm whole vs row blocks apart", shape: shape)
                expectBitwiseEqual(whole.dense, apart.dense, "dense forward whole vs row blocks apart", shape: shape)
                let expected = Reference.sgemm(transA: false, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: k,
                                               b: b, ldb: ldb, beta: 1, c: start, ldc: n)
                expectClose(whole.sum, expected.values, tolerance: { expected.tolerance[$0] }, "sgemm", shape: shape)
            }
        }
    }

    @Test("the blocking derived from the caches keeps the tile's multiples")
    func derivedBlockingIsUsable() {
        for path in CodePath.supported {
            let (blocking, source) = GEMMBlocking.current(for: path)
            let tile = path.gemmTile
            #expect(blocking.mc % tile.rows == 0 && blocking.nc % tile.columns == 0 && blocking.kc > 0,
                    "\(path): \(blocking) (\(source.rawValue)) for a \(tile.rows)×\(tile.columns) tile")
            if source == .caches {
                let cpu = CPUInfo.current
                #expect(blocking == GEMMBlocking.derived(for: path, l1d: cpu.l1d, l2: cpu.l2, l3: cpu.l3, l3Sharing: cpu.l3Sharing,
                                                         splits512BitFMA: cpu.splits512BitFMA), "\(path)")
            }
        }
    }

    /// A CPU's data caches (L3 shared by 2 CPUs) and whether it splits its 512-bit FMAs, with the blocking
    /// BLIS's model gives one path there.
    struct CacheModelCase: Sendable, CustomTestStringConvertible {
        let cpu: String, path: CodePath, l1d: Int, l2: Int, l3: Int, splits: Bool
        let expected: GEMMBlocking
        var testDescription: String { "\(cpu), \(path)" }
    }

    /// The CPUs BENCHMARKS.md measured (and the README's classes of lab-run bits): KC from L1d (doubled where
    /// 512-bit FMAs run in halves, for the AVX-512 tile only), MC from L2, NC from a core's share of L3.
    static let cacheModelCases: [CacheModelCase] = [
        CacheModelCase(cpu: "Ice Lake server", path: .avx512, l1d: 48 << 10, l2: 1280 << 10, l3: 48 << 20, splits: false,
                       expected: GEMMBlocking(mc: 636, kc: 256, nc: 8192)),
        CacheModelCase(cpu: "Ice Lake server", path: .avx2, l1d: 48 << 10, l2: 1280 << 10, l3: 48 << 20, splits: false,
                       expected: GEMMBlocking(mc: 318, kc: 512, nc: 6144)),
        // A 2 MB L2 would give MC 1024; it stops at its limit.
        CacheModelCase(cpu: "Emerald Rapids", path: .avx512, l1d: 48 << 10, l2: 2 << 20, l3: 300 << 20, splits: false,
                       expected: GEMMBlocking(mc: 1020, kc: 256, nc: 8192)),
        CacheModelCase(cpu: "Zen 4", path: .avx512, l1d: 32 << 10, l2: 1 << 20, l3: 32 << 20, splits: true,
                       expected: GEMMBlocking(mc: 408, kc: 320, nc: 6528)),
        CacheModelCase(cpu: "Zen 4", path: .avx2, l1d: 32 << 10, l2: 1 << 20, l3: 32 << 20, splits: true,
                       expected: GEMMBlocking(mc: 408, kc: 320, nc: 6544)),
        CacheModelCase(cpu: "Skylake-SP (Zen 4's caches, full-rate FMAs)", path: .avx512, l1d: 32 << 10, l2: 1 << 20,
                       l3: 32 << 20, splits: false, expected: GEMMBlocking(mc: 816, kc: 160, nc: 8192)),
        CacheModelCase(cpu: "Zen 3", path: .avx2, l1d: 32 << 10, l2: 512 << 10, l3: 32 << 20, splits: false,
                       expected: GEMMBlocking(mc: 204, kc: 320, nc: 6544)),
    ]

    @Test("the cache model's blocking for the CPUs measured", arguments: cacheModelCases)
    func cacheModel(_ c: CacheModelCase) {
        let derived = GEMMBlocking.derived(for: c.path, l1d: c.l1d, l2: c.l2, l3: c.l3, l3Sharing: 2, splits512BitFMA: c.splits)
        #expect(derived == c.expected)
    }

    @Test("no blocking is derived without L1d or L2")
    func cacheModelNeedsL1AndL2() {
        #expect(GEMMBlocking.derived(for: .avx2, l1d: 0, l2: 1 << 20, l3: 0, l3Sharing: 1, splits512BitFMA: false) == nil)
        #expect(GEMMBlocking.derived(for: .avx2, l1d: 32 << 10, l2: 0, l3: 0, l3Sharing: 1, splits512BitFMA: false) == nil)
    }
}

// sgemm: C = alpha·op(A)·op(B) + beta·C, row-major, BLIS-style.
//
// Loop nest (per worker, over its own block of C):
//   jc over N by NC → pc over K by KC → pack op(B)[pc, jc] into NR-wide k-major panels
//   → ic over M by MC → pack op(A)[ic, pc] into MR-tall k-major panels
//   → jr over the B panels → ir over the A panels → MR×NR register-tile micro-kernel.
// Packing turns all four transpose cases into the same unit-stride micro-kernel and keeps the
// B panel in L1 and the A block in L2 while they are reused. That is the portable build's path;
// the FMA build sends every shape down the direct path further below (see Direct.takesEveryShape).
//
// Determinism: threads split M or N, never K. Every element of C is accumulated over k in
// ascending order inside its tile, and the K blocks are sized from K alone, so its value does not
// depend on which worker computed it or where its tile sits. beta == 0 stores without reading C.
//
// Memory: packing buffers come from a pool of arenas that only grow, so steady-state calls do not
// allocate; concurrent callers each take their own arena.

import Dispatch

private enum Gemm {
    /// Register tile: 6 rows × 8 columns = 6 SIMD8 accumulators, which is 12 of the 16 vector
    /// registers on baseline x86-64 (SSE2 splits each SIMD8 in two), leaving room for the B row and
    /// the broadcast A value. With AVX the same code uses 6 ymm accumulators. The kernels below
    /// spell the tile out by hand (6 named accumulators, byte offsets of 16 per splatted A value,
    /// 96 bytes per k) so they stay in registers; changing mr or nr means rewriting them.
    @inline(__always) static var mr: Int { 6 }
    @inline(__always) static var nr: Int { 8 }
    /// Depth of a packed panel: a KC×NR B panel (12 KB) stays in L1 while A panels stream.
    @inline(__always) static var kc: Int { 384 }
    /// Rows of A packed at once (MC×KC values, splatted ×4 ≈ 550 KB, L2-resident).
    @inline(__always) static var mc: Int { 90 }
    /// Columns of B packed at once (KC×NC floats ≈ 6 MB, L3-resident).
    @inline(__always) static var nc: Int { 4096 }
    /// Packed A holds each value 4 times (a ready-made SIMD4 broadcast): on baseline x86-64 a
    /// broadcast is otherwise a load plus a shuffle competing with the multiplies for FP ports.
    @inline(__always) static var splat: Int { 4 }
    /// Multiply-adds per worker below which another thread costs more than it saves (the pool's
    /// spinning workers pick up a task within a few microseconds).
    @inline(__always) static var parallelMinMACs: Int { 48 * 1024 }
}

/// One half of a direct tile's row: 8 lanes (a ymm register with AVX2), or 16 in the AVX-512 build,
/// whose tile is twice as wide so that its twelve accumulators are zmm registers and both 512-bit FMA
/// pipes stay busy. Each lane's arithmetic is the same at either width.
#if DENDRITE_AVX512
typealias TileVector = SIMD16<Float>
#else
typealias TileVector = SIMD8<Float>
#endif

/// The direct path, for N ≤ 16 or small K (the MLP's last layer: N = 10 outputs, K = 10 inputs),
/// where packing A (splatted ×4) would cost as much as the product, and for every shape in the FMA
/// builds: a 4×16 tile (6×16 with FMA, 6×32 with AVX-512) that broadcasts op(A) straight from memory,
/// so only B is packed (panels two `TileVector`s wide; one tile covers N = 10). Which path runs depends
/// on the shape and the build alone, never on the thread count.
enum Direct {
    /// 4 rows, or 6 in the FMA builds (see `directKernelWide`).
    #if DENDRITE_FMA
    @inline(__always) static var mr: Int { 6 }
    #else
    @inline(__always) static var mr: Int { 4 }
    #endif
    /// Two `TileVector`s: 16 columns, or 32 in the AVX-512 build.
    @inline(__always) static var nr: Int { 2 * TileVector.scalarCount }
    /// Columns of the half-width tile (`directKernelHalf`): one `TileVector`.
    @inline(__always) static var halfNr: Int { TileVector.scalarCount }
    /// Rows of A per block, so the A rows one B panel sweeps stay in L2.
    @inline(__always) static var mc: Int { 144 }
    /// Largest transposed A read in place: it touches a new row of A every k, which only pays
    /// while A stays in L2. Above this the A block is packed (4 values per k, not splatted).
    @inline(__always) static var maxTransposedABytes: Int { 512 * 1024 }
    /// In the FMA builds (`SwiftKernelsAVX2`, `SwiftKernelsAVX512`) this path takes every shape: fused, its wide tiles
    /// keep 8 or more independent accumulator chains in flight, enough to fill both FMA pipes, where
    /// the packed path's 6×8 tile has 6. That tile stays the portable build's choice, whose separate
    /// multiply and add run on different pipes.
    #if DENDRITE_FMA
    @inline(__always) static var takesEveryShape: Bool { true }
    #else
    @inline(__always) static var takesEveryShape: Bool { false }
    #endif
    /// Shapes that take this path.
    @inline(__always) static func handles(n: Int, k: Int) -> Bool { n <= 16 || k <= 32 }
    /// Products with fewer columns than a tile (N = 10) but many rows are computed as their transpose,
    /// so the few columns become rows and the wide tiles fill up (as the C kernel does; each
    /// element's products are summed in the same order either way). Only with op(A) transposed:
    /// A then becomes an untransposed B, read in place; an untransposed A would have to go through
    /// a transposing pack, which costs more than the padding it saves.
    @inline(__always) static func swapsThin(transA: Bool, m: Int, n: Int, k: Int) -> Bool {
        transA && n < nr && m >= 2 * nr && k >= 32
    }
}

/// Where a direct tile finds op(A)(i, p) from the start of row i: p steps of a fixed stride in a
/// matrix, or a table entry in a convolution, whose rows are pixels reading their receptive fields
/// in place from the image (`SwiftKernels.convolutionForward`).
protocol ColumnWalk {
    func offset(_ p: Int) -> Int
}

struct Strided: ColumnWalk {
    let step: Int
    @inline(__always) func offset(_ p: Int) -> Int { p &* step }
}

struct FieldOffsets: ColumnWalk {
    let table: UnsafePointer<Int32>
    @inline(__always) func offset(_ p: Int) -> Int { Int(table[p]) }
}

/// The `Direct.mr` rows of op(A) a direct tile reads: `rsa` floats apart in a matrix, or at each field
/// position's offset in a convolution's weight gradient, whose rows are field positions and whose k
/// runs over pixels (`SwiftKernels.convolutionBackwardWeights`).
struct TileRows {
    let a0, a1, a2, a3, a4, a5: UnsafePointer<Float>

    /// Rows `rsa` floats apart; rows past `rows` repeat the first, so a ragged tile read in place
    /// (a convolution's last pixels) never reads past its rows. Their sums are not stored.
    @inline(__always)
    init(_ a: UnsafePointer<Float>, rsa: Int, rows: Int) {
        @inline(__always) func row(_ i: Int) -> UnsafePointer<Float> { i < rows ? a + i * rsa : a }
        (a0, a1, a2, a3, a4, a5) = (a, row(1), row(2), row(3), row(4), row(5))
    }

    /// Row i at `row(i)` for i < rows, the first row's place past them.
    @inline(__always)
    init(rows: Int, _ row: (Int) -> UnsafePointer<Float>) {
        let first = row(0)
        @inline(__always) func at(_ i: Int) -> UnsafePointer<Float> { i < rows ? row(i) : first }
        (a0, a1, a2, a3, a4, a5) = (first, at(1), at(2), at(3), at(4), at(5))
    }
}

/// Packing space for every worker of one sgemm call: a 64-byte aligned block that only grows.
final class PackArena: @unchecked Sendable {
    private(set) var base = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var capacity = 0

    func reserve(_ floats: Int) {
        guard floats > capacity else { return }
        base.deallocate()
        base = UnsafeMutableRawPointer.allocate(byteCount: floats * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: floats)
        capacity = floats
    }

    deinit { base.deallocate() }
}

/// Arenas not in use. A call borrows one for its duration, so calls from different threads never
/// share packing space; the pool holds as many arenas as calls ever ran at once.
final class ArenaPool: @unchecked Sendable {
    private let lock = DispatchSemaphore(value: 1)
    private var free: [PackArena] = []

    /// An arena of at least `floats`: the smallest free one that holds them, else the largest, grown.
    /// Calls of different sizes run at once (a convolution's workers each multiply a chunk while the
    /// convolution holds its scratch), and a last-in-first-out pool would hand each call whichever
    /// arena came back last, growing a small one now and then long after the first steps; matched
    /// to sizes, the arenas stop growing once each size has been served.
    func take(floats: Int) -> PackArena {
        lock.wait()
        var chosen: Int?
        for (i, arena) in free.enumerated() {
            guard let c = chosen else { chosen = i; continue }
            let best = free[c].capacity, this = arena.capacity
            if this >= floats ? (best < floats || this < best) : (best < floats && this > best) { chosen = i }
        }
        let arena = chosen.map { free.remove(at: $0) } ?? PackArena()
        lock.signal()
        arena.reserve(floats)
        return arena
    }

    func give(_ arena: PackArena) {
        lock.wait()
        free.append(arena)
        lock.signal()
    }
}

let arenaPool = ArenaPool()

extension SwiftKernels {
    /// C = alpha·op(A)·op(B) + beta·C. op(A) is (m,k): A is (m,k) with row stride lda, or (k,m)
    /// when transA. op(B) is (k,n): B is (k,n) with row stride ldb, or (n,k) when transB.
    /// C is (m,n) with row stride ldc. beta == 0 overwrites C without reading it.
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                             alpha: Float, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
              beta: beta, c: c, ldc: ldc, threads: threads)
    }

    /// The depth of each K block of a product with inner dimension k: blocks of equal depth (from K
    /// alone, so no block is a sliver and an element's sums never depend on the rest of the shape).
    static func blockDepth(k: Int) -> Int {
        let kBlocks = (k + Gemm.kc - 1) / Gemm.kc
        return (k + kBlocks - 1) / kBlocks
    }

    /// `sgemm` on at most `threads` workers: 1 runs it on the calling thread, for callers that are
    /// already one of several workers (the convolutions' chunks).
    static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                      alpha: Float, a: UnsafePointer<Float>, lda: Int,
                      b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
        guard m > 0, n > 0 else { return }
        if k == 0 || alpha == 0 {
            scaleMatrix(c, ldc: ldc, m: m, n: n, beta: beta)
            return
        }
        let mr = Gemm.mr, nr = Gemm.nr
        let kc = blockDepth(k: k)
        let maxWorkers = max(1, min(threads, m * n * k / Gemm.parallelMinMACs))
        if Direct.swapsThin(transA: transA, m: m, n: n, k: k) {
            // Cᵀ = op(B)ᵀ·op(A)ᵀ: B is read as A with the opposite transpose, and A as B.
            sgemmDirect(transA: !transB, transB: !transA, m: n, n: m, k: k, kc: kc, alpha: alpha, a: b, lda: ldb,
                        b: a, ldb: lda, beta: beta, c: c, ldc: ldc, transposedC: true, maxWorkers: maxWorkers)
            return
        }
        if Direct.handles(n: n, k: k) || Direct.takesEveryShape {
            sgemmDirect(transA: transA, transB: transB, m: m, n: n, k: k, kc: kc, alpha: alpha, a: a, lda: lda,
                        b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, transposedC: false, maxWorkers: maxWorkers)
            return
        }

        // Split C across workers in whole tiles, along the side that packs fewer floats per worker:
        // splitting N makes every worker pack all of A (splatted), splitting M all of B.
        let splitN = Gemm.splat * m * k + k * n / maxWorkers < Gemm.splat * m * k / maxWorkers + k * n
        let tiles = splitN ? (n + nr - 1) / nr : (m + mr - 1) / mr
        let workers = min(maxWorkers, tiles)

        // Per worker: one A block and one B block, each rounded to 64 bytes.
        let mcMax = min(Gemm.mc, (splitN ? m : (tiles + workers - 1) / workers * mr) + mr)
        let ncMax = min(Gemm.nc, (splitN ? (tiles + workers - 1) / workers * nr : n) + nr)
        let aFloats = ((mcMax + mr) * kc * Gemm.splat + 15) & ~15
        let bFloats = (ncMax + nr) * kc
        let perWorker = (aFloats + bFloats + 15) & ~15

        let arena = arenaPool.take(floats: perWorker * workers)
        parallelFor(workers: workers, GemmTiles(
            transA: transA, transB: transB, m: m, n: n, k: k, kc: kc, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
            beta: beta, c: c, ldc: ldc, splitN: splitN, tiles: tiles, workers: workers,
            space: arena.base, perWorker: perWorker, aFloats: aFloats))
        arenaPool.give(arena)
    }

    /// One task per worker: a contiguous run of whole tiles of C, with its own packing space.
    private struct GemmTiles: ParallelWork {
        let transA: Bool, transB: Bool, m: Int, n: Int, k: Int, kc: Int, alpha: Float
        let a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int
        let beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
        let splitN: Bool, tiles: Int, workers: Int
        let space: UnsafeMutablePointer<Float>, perWorker: Int, aFloats: Int

        func run(task w: Int) {
            let mr = Gemm.mr, nr = Gemm.nr
            let lo = tiles * w / workers, hi = tiles * (w + 1) / workers
            let (m0, m1, n0, n1) = splitN
                ? (0, m, lo * nr, min(n, hi * nr))
                : (lo * mr, min(m, hi * mr), 0, n)
            let packA = space + w * perWorker
            gemmBlock(transA: transA, transB: transB, m0: m0, m1: m1, n0: n0, n1: n1, k: k, kc: kc,
                      alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
                      packA: packA, packB: packA + aFloats)
        }
    }

    /// C = beta·C, with beta == 0 writing zeros (the alpha == 0 or k == 0 case).
    private static func scaleMatrix(_ c: UnsafeMutablePointer<Float>, ldc: Int, m: Int, n: Int, beta: Float) {
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 {
                row.update(repeating: 0, count: n)
            } else {
                for j in 0..<n { row[j] = beta * row[j] }
            }
        }
    }

    /// One worker's share: rows m0..<m1 and columns n0..<n1 of C, all of K. Never inlined: inlined
    /// into sgemm's serial and parallel paths alike, it left the optimizer too little budget to
    /// inline the micro-kernel's SIMD loads, which then ran as calls.
    @inline(never)
    private static func gemmBlock(transA: Bool, transB: Bool, m0: Int, m1: Int, n0: Int, n1: Int,
                                  k: Int, kc kcMax: Int, alpha: Float,
                                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                                  packA: UnsafeMutablePointer<Float>, packB: UnsafeMutablePointer<Float>) {
        let mr = Gemm.mr, nr = Gemm.nr
        var jc = n0
        while jc < n1 {
            let nc = min(Gemm.nc, n1 - jc)
            var pc = 0
            while pc < k {
                let kc = min(kcMax, k - pc)
                packPanelsB(packB, b: b, ldb: ldb, transB: transB, p0: pc, kc: kc, j0: jc, nc: nc)
                // Later K blocks add onto what the first one wrote.
                let betaK: Float = pc == 0 ? beta : 1
                var ic = m0
                while ic < m1 {
                    let mc = min(Gemm.mc, m1 - ic)
                    packPanelsA(packA, a: a, lda: lda, transA: transA, i0: ic, mc: mc, p0: pc, kc: kc)
                    var jr = 0
                    while jr < nc {
                        let nrValid = min(nr, nc - jr)
                        let bPanel = UnsafePointer(packB + jr * kc)
                        var ir = 0
                        while ir < mc {
                            let aPanel = UnsafePointer(packA + ir * kc * Gemm.splat)
                            let cTile = c + (ic + ir) * ldc + jc + jr, rows = min(mr, mc - ir)
                            if nrValid > 4 {
                                microKernel(kc: kc, a: aPanel, b: bPanel, c: cTile, ldc: ldc,
                                            rows: rows, cols: nrValid, alpha: alpha, beta: betaK)
                            } else {
                                microKernelNarrow(kc: kc, a: aPanel, b: bPanel, c: cTile, ldc: ldc,
                                                  rows: rows, cols: nrValid, alpha: alpha, beta: betaK)
                            }
                            ir += mr
                        }
                        jr += nr
                    }
                    ic += mc
                }
                pc += kc
            }
            jc += nc
        }
    }

    /// Packs op(A)[i0..<i0+mc, p0..<p0+kc] as MR-row panels, each k-major (MR values per k, each
    /// value splatted to SIMD4), zero-padding the last panel's missing rows.
    @inline(__always)
    private static func packPanelsA(_ dst: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, lda: Int,
                                    transA: Bool, i0: Int, mc: Int, p0: Int, kc: Int) {
        let mr = Gemm.mr
        var i = 0
        while i < mc {
            let rows = min(mr, mc - i)
            let d = UnsafeMutableRawPointer(dst + i * kc * Gemm.splat)
            // op(A)(r, p) is A[p, r] when transposed (each k a contiguous run of rows), else A[r, p].
            let src = transA ? a + p0 * lda + i0 + i : a + (i0 + i) * lda + p0
            let rowStride = transA ? 1 : lda, kStride = transA ? lda : 1
            if rows == mr {
                let s0 = src, s1 = s0 + rowStride, s2 = s1 + rowStride
                let s3 = s2 + rowStride, s4 = s3 + rowStride, s5 = s4 + rowStride
                for p in 0..<kc {
                    let o = d + p * 96, q = p * kStride   // 96 bytes = 6 rows × SIMD4
                    o.storeBytes(of: SIMD4(repeating: s0[q]), as: SIMD4<Float>.self)
                    o.storeBytes(of: SIMD4(repeating: s1[q]), toByteOffset: 16, as: SIMD4<Float>.self)
                    o.storeBytes(of: SIMD4(repeating: s2[q]), toByteOffset: 32, as: SIMD4<Float>.self)
                    o.storeBytes(of: SIMD4(repeating: s3[q]), toByteOffset: 48, as: SIMD4<Float>.self)
                    o.storeBytes(of: SIMD4(repeating: s4[q]), toByteOffset: 64, as: SIMD4<Float>.self)
                    o.storeBytes(of: SIMD4(repeating: s5[q]), toByteOffset: 80, as: SIMD4<Float>.self)
                }
            } else {
                for p in 0..<kc {
                    for r in 0..<mr {
                        let v: Float = r < rows ? src[r * rowStride + p * kStride] : 0
                        d.storeBytes(of: SIMD4(repeating: v), toByteOffset: (p * mr + r) * 16, as: SIMD4<Float>.self)
                    }
                }
            }
            i += mr
        }
    }

    /// Packs op(B)[p0..<p0+kc, j0..<j0+nc] as NR-column panels, each k-major (NR floats per k),
    /// zero-padding the last panel's missing columns.
    @inline(__always)
    private static func packPanelsB(_ dst: UnsafeMutablePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                                    transB: Bool, p0: Int, kc: Int, j0: Int, nc: Int) {
        let nr = Gemm.nr
        var j = 0
        while j < nc {
            let cols = min(nr, nc - j)
            let d = dst + j * kc
            if transB {
                // op(B)(p, c) = B[c, p]: interleave NR rows of B.
                let src = b + (j0 + j) * ldb + p0
                if cols == nr {
                    let s0 = src, s1 = s0 + ldb, s2 = s1 + ldb, s3 = s2 + ldb
                    let s4 = s3 + ldb, s5 = s4 + ldb, s6 = s5 + ldb, s7 = s6 + ldb
                    for p in 0..<kc {
                        let o = d + p * nr
                        o[0] = s0[p]; o[1] = s1[p]; o[2] = s2[p]; o[3] = s3[p]
                        o[4] = s4[p]; o[5] = s5[p]; o[6] = s6[p]; o[7] = s7[p]
                    }
                } else {
                    for p in 0..<kc {
                        for cc in 0..<nr { d[p * nr + cc] = cc < cols ? src[cc * ldb + p] : 0 }
                    }
                }
            } else {
                // op(B)(p, c) = B[p, c]: each k is a contiguous run of columns.
                let src = b + p0 * ldb + j0 + j
                if cols == nr {
                    for p in 0..<kc {
                        let v = UnsafeRawPointer(src + p * ldb).loadUnaligned(as: SIMD8<Float>.self)
                        UnsafeMutableRawPointer(d + p * nr).storeBytes(of: v, as: SIMD8<Float>.self)
                    }
                } else {
                    for p in 0..<kc {
                        for cc in 0..<nr { d[p * nr + cc] = cc < cols ? src[p * ldb + cc] : 0 }
                    }
                }
            }
            j += nr
        }
    }

    /// The MR×NR tile: accumulates kc rank-1 updates in registers, then
    /// C[0..<rows, 0..<cols] = alpha·acc + beta·C (beta == 0: C is not read).
    @inline(__always)
    private static func microKernel(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                    c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                                    alpha: Float, beta: Float) {
        var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>()
        var c3 = SIMD8<Float>(), c4 = SIMD8<Float>(), c5 = SIMD8<Float>()
        var pa = UnsafeRawPointer(a), pb = UnsafeRawPointer(b)
        @inline(__always) func splat(_ offset: Int) -> SIMD8<Float> {
            let h = pa.load(fromByteOffset: offset, as: SIMD4<Float>.self)
            return SIMD8(lowHalf: h, highHalf: h)
        }
        for _ in 0..<kc {
            let bv = pb.loadUnaligned(as: SIMD8<Float>.self)
            c0.multiplyAdd(splat(0), bv)
            c1.multiplyAdd(splat(16), bv)
            c2.multiplyAdd(splat(32), bv)
            c3.multiplyAdd(splat(48), bv)
            c4.multiplyAdd(splat(64), bv)
            c5.multiplyAdd(splat(80), bv)
            pa += 96
            pb += 32
        }
        if rows == 6 && cols == 8 {
            storeRow(c, c0, alpha: alpha, beta: beta)
            storeRow(c + ldc, c1, alpha: alpha, beta: beta)
            storeRow(c + 2 * ldc, c2, alpha: alpha, beta: beta)
            storeRow(c + 3 * ldc, c3, alpha: alpha, beta: beta)
            storeRow(c + 4 * ldc, c4, alpha: alpha, beta: beta)
            storeRow(c + 5 * ldc, c5, alpha: alpha, beta: beta)
        } else {
            storeEdgeRow(c, c0, cols: cols, alpha: alpha, beta: beta)
            if rows > 1 { storeEdgeRow(c + ldc, c1, cols: cols, alpha: alpha, beta: beta) }
            if rows > 2 { storeEdgeRow(c + 2 * ldc, c2, cols: cols, alpha: alpha, beta: beta) }
            if rows > 3 { storeEdgeRow(c + 3 * ldc, c3, cols: cols, alpha: alpha, beta: beta) }
            if rows > 4 { storeEdgeRow(c + 4 * ldc, c4, cols: cols, alpha: alpha, beta: beta) }
            if rows > 5 { storeEdgeRow(c + 5 * ldc, c5, cols: cols, alpha: alpha, beta: beta) }
        }
    }

    /// The last B panel when it has at most 4 real columns (e.g. N = 10): the same arithmetic
    /// per element as `microKernel` on the low half of the panel only, so no work is spent on
    /// padding and results are identical to what the wide kernel would produce.
    @inline(__always)
    private static func microKernelNarrow(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                          c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                                          alpha: Float, beta: Float) {
        var c0 = SIMD4<Float>(), c1 = SIMD4<Float>(), c2 = SIMD4<Float>()
        var c3 = SIMD4<Float>(), c4 = SIMD4<Float>(), c5 = SIMD4<Float>()
        var pa = UnsafeRawPointer(a), pb = UnsafeRawPointer(b)
        for _ in 0..<kc {
            let bv = pb.loadUnaligned(as: SIMD4<Float>.self)
            c0.multiplyAdd(pa.load(as: SIMD4<Float>.self), bv)
            c1.multiplyAdd(pa.load(fromByteOffset: 16, as: SIMD4<Float>.self), bv)
            c2.multiplyAdd(pa.load(fromByteOffset: 32, as: SIMD4<Float>.self), bv)
            c3.multiplyAdd(pa.load(fromByteOffset: 48, as: SIMD4<Float>.self), bv)
            c4.multiplyAdd(pa.load(fromByteOffset: 64, as: SIMD4<Float>.self), bv)
            c5.multiplyAdd(pa.load(fromByteOffset: 80, as: SIMD4<Float>.self), bv)
            pa += 96
            pb += 32
        }
        let zero = SIMD4<Float>()
        storeEdgeRow(c, SIMD8(lowHalf: c0, highHalf: zero), cols: cols, alpha: alpha, beta: beta)
        if rows > 1 { storeEdgeRow(c + ldc, SIMD8(lowHalf: c1, highHalf: zero), cols: cols, alpha: alpha, beta: beta) }
        if rows > 2 { storeEdgeRow(c + 2 * ldc, SIMD8(lowHalf: c2, highHalf: zero), cols: cols, alpha: alpha, beta: beta) }
        if rows > 3 { storeEdgeRow(c + 3 * ldc, SIMD8(lowHalf: c3, highHalf: zero), cols: cols, alpha: alpha, beta: beta) }
        if rows > 4 { storeEdgeRow(c + 4 * ldc, SIMD8(lowHalf: c4, highHalf: zero), cols: cols, alpha: alpha, beta: beta) }
        if rows > 5 { storeEdgeRow(c + 5 * ldc, SIMD8(lowHalf: c5, highHalf: zero), cols: cols, alpha: alpha, beta: beta) }
    }

    @inline(__always)
    private static func storeRow<V: SIMD>(_ c: UnsafeMutablePointer<Float>, _ acc: V, alpha: Float, beta: Float)
    where V.Scalar == Float {
        let p = UnsafeMutableRawPointer(c)
        if beta == 0 {
            p.storeBytes(of: alpha * acc, as: V.self)
        } else {
            p.storeBytes(of: alpha * acc + beta * p.loadUnaligned(as: V.self), as: V.self)
        }
    }

    /// Same arithmetic as `storeRow` (lane by lane, as vector arithmetic is), for the first `cols` lanes only.
    @inline(__always)
    private static func storeEdgeRow(_ c: UnsafeMutablePointer<Float>, _ acc: SIMD8<Float>, cols: Int,
                                     alpha: Float, beta: Float) {
        let v = beta == 0 ? alpha * acc : alpha * acc + beta * loadPartial(c, cols)
        storePartial(c, v, cols)
    }

    #if DENDRITE_AVX512
    /// `storeEdgeRow` for the AVX-512 build's 16-lane tile vectors: their 8-lane halves, the same
    /// arithmetic lane by lane.
    @inline(__always)
    private static func storeEdgeRow(_ c: UnsafeMutablePointer<Float>, _ acc: SIMD16<Float>, cols: Int,
                                     alpha: Float, beta: Float) {
        if cols > 8 {
            storeRow(c, acc.lowHalf, alpha: alpha, beta: beta)
            storeEdgeRow(c + 8, acc.highHalf, cols: cols - 8, alpha: alpha, beta: beta)
        } else {
            storeEdgeRow(c, acc.lowHalf, cols: cols, alpha: alpha, beta: beta)
        }
    }
    #endif

    // MARK: - Direct path (N ≤ 16 or small K)

    private static func sgemmDirect(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, kc: Int, alpha: Float,
                                    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, transposedC: Bool,
                                    maxWorkers: Int) {
        let mr = Direct.mr, nr = Direct.nr
        let directA = !transA || k * lda * MemoryLayout<Float>.stride <= Direct.maxTransposedABytes
        let tilesM = (m + mr - 1) / mr, tilesN = (n + nr - 1) / nr
        // Split M or N in whole tiles, whichever leaves the busiest worker less padded
        // multiply-adds plus packing (splitting M makes every worker pack all of B).
        var splitN = false, workers = 1
        if maxWorkers > 1 {
            let wm = min(maxWorkers, tilesM), wn = min(maxWorkers, tilesN)
            let rowsM = (tilesM + wm - 1) / wm * mr, colsN = (tilesN + wn - 1) / wn * nr
            let costM = rowsM * tilesN * nr * k / 16 + (tilesN * nr + (directA ? 0 : rowsM)) * k / 2
            let costN = tilesM * mr * colsN * k / 16 + (colsN + (directA ? 0 : tilesM * mr)) * k / 2
            if costN < costM { splitN = true; workers = wn } else { workers = wm }
        }
        let tiles = splitN ? tilesN : tilesM
        let colsMax = min(Gemm.nc, splitN ? (tilesN + workers - 1) / workers * nr : tilesN * nr)
        let aFloats = ((directA ? mr : Direct.mc) * kc + 15) & ~15
        let perWorker = (aFloats + colsMax * kc + 15) & ~15

        let arena = arenaPool.take(floats: perWorker * workers)
        parallelFor(workers: workers, DirectTiles(
            transA: transA, transB: transB, m: m, n: n, k: k, kc: kc, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
            beta: beta, c: c, ldc: ldc, transposedC: transposedC, directA: directA, splitN: splitN, tiles: tiles,
            workers: workers,
            space: arena.base, perWorker: perWorker, aFloats: aFloats))
        arenaPool.give(arena)
    }

    private struct DirectTiles: ParallelWork {
        let transA: Bool, transB: Bool, m: Int, n: Int, k: Int, kc: Int, alpha: Float
        let a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int
        let beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, transposedC: Bool
        let directA: Bool, splitN: Bool, tiles: Int, workers: Int
        let space: UnsafeMutablePointer<Float>, perWorker: Int, aFloats: Int

        func run(task w: Int) {
            let mr = Direct.mr, nr = Direct.nr
            let lo = tiles * w / workers, hi = tiles * (w + 1) / workers
            let (m0, m1, n0, n1) = splitN
                ? (0, m, lo * nr, min(n, hi * nr))
                : (lo * mr, min(m, hi * mr), 0, n)
            guard m0 < m1, n0 < n1 else { return }
            let packA = space + w * perWorker
            directBlock(transA: transA, transB: transB, m0: m0, m1: m1, n0: n0, n1: n1, k: k, kc: kc,
                        alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
                        transposedC: transposedC, directA: directA, packA: packA, packB: packA + aFloats)
        }
    }

    /// One worker's share of the direct path: rows m0..<m1, columns n0..<n1, all of K.
    @inline(never)
    private static func directBlock(transA: Bool, transB: Bool, m0: Int, m1: Int, n0: Int, n1: Int,
                                    k: Int, kc kcMax: Int, alpha: Float,
                                    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, transposedC: Bool,
                                    directA: Bool,
                                    packA: UnsafeMutablePointer<Float>, packB: UnsafeMutablePointer<Float>) {
        let mr = Direct.mr, nr = Direct.nr
        // Steps between the problem's C rows and columns: C's own, or its transpose's.
        let cRow = transposedC ? 1 : ldc, cCol = transposedC ? ldc : 1
        // op(A)(i, p) = a[i * rsa + p * csa].
        let rsa = transA ? 1 : lda, csa = transA ? lda : 1
        var jc = n0
        while jc < n1 {
            let nc = min(Gemm.nc, n1 - jc)
            var pc = 0
            while pc < k {
                let kc = min(kcMax, k - pc)
                // The swapped thin products (transposedC; B untransposed there) read full B panels in
                // place: each serves only the few row tiles of N < `Direct.nr` rows, too few to repay a copy.
                let full = transposedC ? nc / nr * nr : 0
                if full < nc {
                    packPanelsDirectB(packB + full * kc, b: b, ldb: ldb, transB: transB, p0: pc, kc: kc, j0: jc + full,
                                  nc: nc - full)
                }
                let betaK: Float = pc == 0 ? beta : 1
                var ic = m0
                while ic < m1 {
                    let mc = min(Direct.mc, m1 - ic)
                    let aBlock = a + ic * rsa + pc * csa
                    // Full tiles read A in place; the ragged last one (or all, for a large
                    // transposed A) is packed with zero padding.
                    let inPlace = directA ? mc / mr * mr : 0
                    if inPlace < mc {
                        packPanelsDirectA(packA, a: aBlock + inPlace * rsa, rsa: rsa, csa: csa, mc: mc - inPlace, kc: kc)
                    }
                    var jr = 0
                    while jr < nc {
                        let cols = min(nr, nc - jr)
                        let bInPlace = jr < full
                        let bPanel = bInPlace ? b + pc * ldb + jc + jr : UnsafePointer(packB + jr * kc)
                        let bStride = bInPlace ? ldb : nr
                        var ir = 0
                        while ir < mc {
                            let rows = min(mr, mc - ir)
                            let cTile = c + (ic + ir) * cRow + (jc + jr) * cCol
                            let inA = ir < inPlace
                            let aTile = inA ? aBlock + ir * rsa : UnsafePointer(packA + (ir - inPlace) * kc)
                            let r = inA ? rsa : 1, s = inA ? csa : mr
                            let aRows = TileRows(aTile, rsa: r, rows: rows)
                            if transposedC {
                                directKernelWide(kc: kc, a: aRows, walk: Strided(step: s), b: bPanel, rsb: bStride,
                                               c: cTile, ldc: ldc, transposedC: true, rows: rows, cols: cols,
                                               alpha: alpha, beta: betaK)
                            } else {
                                directTile(kc: kc, a: aRows, walk: Strided(step: s), b: bPanel, rsb: bStride, c: cTile,
                                           ldc: ldc, rows: rows, cols: cols, alpha: alpha, beta: betaK)
                            }
                            ir += mr
                        }
                        jr += nr
                    }
                    ic += mc
                }
                pc += kc
            }
            jc += nc
        }
    }

    /// Packs op(A) rows 0..<mc (op(A)(i, p) = a[i*rsa + p*csa]) as `Direct.mr`-row panels,
    /// k-major (`Direct.mr` floats per k), zero-padding the last panel's missing rows.
    @inline(__always)
    private static func packPanelsDirectA(_ dst: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>,
                                     rsa: Int, csa: Int, mc: Int, kc: Int) {
        let mr = Direct.mr
        var i = 0
        while i < mc {
            let rows = min(mr, mc - i)
            let d = dst + i * kc, src = a + i * rsa
            for p in 0..<kc {
                for r in 0..<mr { d[p * mr + r] = r < rows ? src[r * rsa + p * csa] : 0 }
            }
            i += mr
        }
    }

    /// Packs op(B)[p0..<p0+kc, j0..<j0+nc] as `Direct.nr`-column panels, k-major (`Direct.nr` floats
    /// per k), zero-padding the last panel's missing columns.
    @inline(__always)
    static func packPanelsDirectB(_ dst: UnsafeMutablePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                                      transB: Bool, p0: Int, kc: Int, j0: Int, nc: Int) {
        let nr = Direct.nr
        var j = 0
        while j < nc {
            let cols = min(nr, nc - j)
            let d = dst + j * kc
            if transB {
                // op(B)(p, c) = B[c, p]: read each row of B contiguously.
                let src = b + (j0 + j) * ldb + p0
                for cc in 0..<cols {
                    let s = src + cc * ldb
                    for p in 0..<kc { d[p * nr + cc] = s[p] }
                }
                if cols < nr {
                    for p in 0..<kc { for cc in cols..<nr { d[p * nr + cc] = 0 } }
                }
            } else {
                let src = b + p0 * ldb + j0 + j
                if cols == nr {
                    for p in 0..<kc {
                        let s = UnsafeRawPointer(src + p * ldb), o = UnsafeMutableRawPointer(d + p * nr)
                        let half = MemoryLayout<TileVector>.size
                        o.storeBytes(of: s.loadUnaligned(as: TileVector.self), as: TileVector.self)
                        o.storeBytes(of: s.loadUnaligned(fromByteOffset: half, as: TileVector.self),
                                     toByteOffset: half, as: TileVector.self)
                    }
                } else {
                    for p in 0..<kc {
                        for cc in 0..<nr { d[p * nr + cc] = cc < cols ? src[p * ldb + cc] : 0 }
                    }
                }
            }
            j += nr
        }
    }

    /// The direct tile, `Direct.mr` × `Direct.nr`: acc(i, j) = Σ_p op(A)(i, p)·B(p, j) over the panel, in
    /// ascending p, one `multiplyAdd` per step (the same arithmetic as `directKernelHalf`), then
    /// C = alpha·acc + beta·C for the first `rows` × `cols` (or C's transpose, for the swapped thin
    /// products). B's rows are `rsb` floats apart: `Direct.nr` in a packed panel. Six rows in the FMA builds, as
    /// in the C kernel (12 accumulators, 2 B vectors and a broadcast fill AVX2's 16 registers; with
    /// AVX-512 the same 12 are zmm registers, 16 lanes each). Four elsewhere:
    /// without FMA each product needs a register of its own, and 6 rows spilled accumulators in the loop.
    @inline(__always)
    static func directKernelWide<Walk: ColumnWalk>(kc: Int, a aRows: TileRows, walk: Walk,
                                                 b: UnsafePointer<Float>, rsb: Int, c: UnsafeMutablePointer<Float>,
                                                 ldc: Int, transposedC: Bool, rows: Int, cols: Int, alpha: Float,
                                                 beta: Float) {
        var c00 = TileVector(), c01 = TileVector(), c10 = TileVector(), c11 = TileVector()
        var c20 = TileVector(), c21 = TileVector(), c30 = TileVector(), c31 = TileVector()
        let a0 = aRows.a0, a1 = aRows.a1, a2 = aRows.a2, a3 = aRows.a3
        #if DENDRITE_FMA
        let a4 = aRows.a4, a5 = aRows.a5
        var c40 = TileVector(), c41 = TileVector(), c50 = TileVector(), c51 = TileVector()
        #endif
        var pb = UnsafeRawPointer(b)
        for p in 0..<kc {
            let q = walk.offset(p)
            let b0 = pb.loadUnaligned(as: TileVector.self)
            let b1 = pb.loadUnaligned(fromByteOffset: MemoryLayout<TileVector>.size, as: TileVector.self)
            let x0 = TileVector(repeating: a0[q]); c00.multiplyAdd(x0, b0); c01.multiplyAdd(x0, b1)
            let x1 = TileVector(repeating: a1[q]); c10.multiplyAdd(x1, b0); c11.multiplyAdd(x1, b1)
            let x2 = TileVector(repeating: a2[q]); c20.multiplyAdd(x2, b0); c21.multiplyAdd(x2, b1)
            let x3 = TileVector(repeating: a3[q]); c30.multiplyAdd(x3, b0); c31.multiplyAdd(x3, b1)
            #if DENDRITE_FMA
            let x4 = TileVector(repeating: a4[q]); c40.multiplyAdd(x4, b0); c41.multiplyAdd(x4, b1)
            let x5 = TileVector(repeating: a5[q]); c50.multiplyAdd(x5, b0); c51.multiplyAdd(x5, b1)
            #endif
            pb += rsb * 4
        }
        if transposedC {
            // Element (i, j) goes to c[i + j*ldc], so each of the real C's rows gets `rows`
            // contiguous elements; through memory once the loop is done, so the accumulators stay
            // in registers inside it.
            #if DENDRITE_FMA
            let tile = (c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51)
            #else
            let tile = (c00, c01, c10, c11, c20, c21, c30, c31)
            #endif
            withUnsafeBytes(of: tile) { raw in
                let t = raw.bindMemory(to: Float.self)  // t[i*nr + j]: row i, column j of the tile
                for j in 0..<cols {
                    for i in 0..<rows {
                        let v = alpha * t[i * Direct.nr + j], out = c + i + j * ldc
                        out.pointee = beta == 0 ? v : v + beta * out.pointee
                    }
                }
            }
        } else if rows == Direct.mr && cols == Direct.nr {
            let h = Direct.halfNr
            storeRow(c, c00, alpha: alpha, beta: beta); storeRow(c + h, c01, alpha: alpha, beta: beta)
            storeRow(c + ldc, c10, alpha: alpha, beta: beta); storeRow(c + ldc + h, c11, alpha: alpha, beta: beta)
            storeRow(c + 2 * ldc, c20, alpha: alpha, beta: beta); storeRow(c + 2 * ldc + h, c21, alpha: alpha, beta: beta)
            storeRow(c + 3 * ldc, c30, alpha: alpha, beta: beta); storeRow(c + 3 * ldc + h, c31, alpha: alpha, beta: beta)
            #if DENDRITE_FMA
            storeRow(c + 4 * ldc, c40, alpha: alpha, beta: beta); storeRow(c + 4 * ldc + h, c41, alpha: alpha, beta: beta)
            storeRow(c + 5 * ldc, c50, alpha: alpha, beta: beta); storeRow(c + 5 * ldc + h, c51, alpha: alpha, beta: beta)
            #endif
        } else {
            // cols > halfNr here: the low half is a full vector, the high half has cols - halfNr lanes.
            let h = Direct.halfNr
            @inline(__always) func row(_ r: UnsafeMutablePointer<Float>, _ lo: TileVector, _ hi: TileVector) {
                storeRow(r, lo, alpha: alpha, beta: beta)
                storeEdgeRow(r + h, hi, cols: cols - h, alpha: alpha, beta: beta)
            }
            row(c, c00, c01)
            if rows > 1 { row(c + ldc, c10, c11) }
            if rows > 2 { row(c + 2 * ldc, c20, c21) }
            if rows > 3 { row(c + 3 * ldc, c30, c31) }
            #if DENDRITE_FMA
            if rows > 4 { row(c + 4 * ldc, c40, c41) }
            if rows > 5 { row(c + 5 * ldc, c50, c51) }
            #endif
        }
    }

    /// A direct tile of C (not transposed) over one B panel: `directKernelWide`, or `directKernelHalf` when at
    /// most `Direct.halfNr` of the panel's columns are real.
    @inline(__always)
    static func directTile<Walk: ColumnWalk>(kc: Int, a: TileRows, walk: Walk, b: UnsafePointer<Float>, rsb: Int,
                                             c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                                             alpha: Float, beta: Float) {
        if cols > Direct.halfNr {
            directKernelWide(kc: kc, a: a, walk: walk, b: b, rsb: rsb, c: c, ldc: ldc, transposedC: false, rows: rows,
                           cols: cols, alpha: alpha, beta: beta)
        } else {
            directKernelHalf(kc: kc, a: a, walk: walk, b: b, rsb: rsb, c: c, ldc: ldc, rows: rows, cols: cols,
                          alpha: alpha, beta: beta)
        }
    }

    /// The last panel when it has at most `Direct.halfNr` real columns: `directKernelWide`'s low half.
    @inline(__always)
    static func directKernelHalf<Walk: ColumnWalk>(kc: Int, a aRows: TileRows, walk: Walk,
                                                b: UnsafePointer<Float>, rsb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                                                rows: Int, cols: Int, alpha: Float, beta: Float) {
        var acc = HalfAccumulators()
        var pb = UnsafeRawPointer(b)
        for p in 0..<kc {
            acc.multiplyAdd(aRows, walk.offset(p), pb.loadUnaligned(as: TileVector.self))
            pb += rsb * 4
        }
        acc.store(c, ldc: ldc, rows: rows, cols: cols, alpha: alpha, beta: beta)
    }

    /// Two full `directKernelHalf` tiles whose 2·`Direct.mr` rows are consecutive floats (a greyscale
    /// convolution's pixels along an output row), over the same B panel: one tile's accumulator chains
    /// wait on the multiply-add latency, twice as many fill both FMA pipes, and one base pointer
    /// addresses every row. Each tile's arithmetic is `directKernelHalf`'s.
    @inline(__always)
    static func directKernelHalfConsecutive<Walk: ColumnWalk>(kc: Int, a: UnsafePointer<Float>, walk: Walk,
                                                           b: UnsafePointer<Float>, rsb: Int,
                                                           c: UnsafeMutablePointer<Float>, ldc: Int, cols: Int,
                                                           alpha: Float, beta: Float) {
        let mr = Direct.mr
        var first = HalfAccumulators(), second = HalfAccumulators()
        var pb = UnsafeRawPointer(b)
        for p in 0..<kc {
            let x = a + walk.offset(p), b0 = pb.loadUnaligned(as: TileVector.self)
            first.multiplyAdd(TileRows(x, rsa: 1, rows: mr), 0, b0)
            second.multiplyAdd(TileRows(x + mr, rsa: 1, rows: mr), 0, b0)
            pb += rsb * 4
        }
        first.store(c, ldc: ldc, rows: mr, cols: cols, alpha: alpha, beta: beta)
        second.store(c + mr * ldc, ldc: ldc, rows: mr, cols: cols, alpha: alpha, beta: beta)
    }

    /// The `Direct.mr` accumulators of a half-width tile: row i sums op(A)(i, p)·B(p, 0..<halfNr) over p.
    struct HalfAccumulators {
        var c0 = TileVector(), c1 = TileVector(), c2 = TileVector(), c3 = TileVector()
        #if DENDRITE_FMA
        var c4 = TileVector(), c5 = TileVector()
        #endif

        /// One step of k: op(A)(i, q) of each row times the B row `b0`.
        @inline(__always)
        mutating func multiplyAdd(_ a: TileRows, _ q: Int, _ b0: TileVector) {
            c0.multiplyAdd(TileVector(repeating: a.a0[q]), b0)
            c1.multiplyAdd(TileVector(repeating: a.a1[q]), b0)
            c2.multiplyAdd(TileVector(repeating: a.a2[q]), b0)
            c3.multiplyAdd(TileVector(repeating: a.a3[q]), b0)
            #if DENDRITE_FMA
            c4.multiplyAdd(TileVector(repeating: a.a4[q]), b0)
            c5.multiplyAdd(TileVector(repeating: a.a5[q]), b0)
            #endif
        }

        /// C = alpha·acc + beta·C for the first `rows` × `cols`.
        @inline(__always)
        func store(_ c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int, alpha: Float, beta: Float) {
            if rows == Direct.mr && cols == Direct.halfNr {
                SwiftKernels.storeRow(c, c0, alpha: alpha, beta: beta)
                SwiftKernels.storeRow(c + ldc, c1, alpha: alpha, beta: beta)
                SwiftKernels.storeRow(c + 2 * ldc, c2, alpha: alpha, beta: beta)
                SwiftKernels.storeRow(c + 3 * ldc, c3, alpha: alpha, beta: beta)
                #if DENDRITE_FMA
                SwiftKernels.storeRow(c + 4 * ldc, c4, alpha: alpha, beta: beta)
                SwiftKernels.storeRow(c + 5 * ldc, c5, alpha: alpha, beta: beta)
                #endif
            } else {
                SwiftKernels.storeEdgeRow(c, c0, cols: cols, alpha: alpha, beta: beta)
                if rows > 1 { SwiftKernels.storeEdgeRow(c + ldc, c1, cols: cols, alpha: alpha, beta: beta) }
                if rows > 2 { SwiftKernels.storeEdgeRow(c + 2 * ldc, c2, cols: cols, alpha: alpha, beta: beta) }
                if rows > 3 { SwiftKernels.storeEdgeRow(c + 3 * ldc, c3, cols: cols, alpha: alpha, beta: beta) }
                #if DENDRITE_FMA
                if rows > 4 { SwiftKernels.storeEdgeRow(c + 4 * ldc, c4, cols: cols, alpha: alpha, beta: beta) }
                if rows > 5 { SwiftKernels.storeEdgeRow(c + 5 * ldc, c5, cols: cols, alpha: alpha, beta: beta) }
                #endif
            }
        }
    }
}

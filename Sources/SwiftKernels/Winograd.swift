// Winograd F(4×4, 3×3) convolutions: the algorithm of CKernels/conv_winograd.c (see there for the transforms
// and why each pass is shaped as it is) in Swift SIMD. The 36 products per block of tiles run on the direct
// tiles of Matmul.swift, which read the transformed tiles and filters in place: no packing.
//
// Bits: the same for any thread count (each output depends on its own tile; the weight gradient sums four
// fixed parts of the tiles, each in tile order, then the parts in order); not those of the C kernels, whose
// products fuse their multiply-adds in another order, nor those of im2col + GEMM.

extension SwiftKernels {
    /// Channels each side of the layers the Winograd entries take.
    public static let winogradMaxChannels = 512

    /// Whether the Winograd entries take this window: 3×3, stride 1, padding of at most 2, 16 to 512 channels
    /// in and out (CKernels.h's dk_conv2d_uses_winograd, without its switch, which the caller applies).
    public static func winogradApplies(window w: Window, outChannels n: Int) -> Bool {
        w.kernelH == 3 && w.kernelW == 3 && w.strideH == 1 && w.strideW == 1 && (0...2).contains(w.padTop)
            && (0...2).contains(w.padLeft) && (16...winogradMaxChannels).contains(w.channels)
            && (16...winogradMaxChannels).contains(n) && w.batch > 0 && w.outH > 0 && w.outW > 0
    }

    /// out (batch·outH·outW, outChannels) = f(the convolution of `input` with `weight` (3, 3, C, outChannels)
    /// + bias), bias (outChannels) or nil, f as biasActivationForward's (see ConvEpilogue.swift).
    public static func winogradForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                       weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outChannels n: Int,
                                       window w: Window, activation kind: ActivationKind, alpha: Float) {
        winogradForward(out: out, input: input, weight: weight, turned: false, geometry: WinogradGeometry(w, n)) {
            ConvolutionEpilogue(bias: bias, kind: kind, alpha: alpha, channels: n, scratch: $0)
        }
    }

    /// dinput = the input gradient of that convolution for dout (overwrites): the forward of dout with the
    /// filters turned 180° and the channels swapped, padded by 2 − pad.
    public static func winogradBackwardInputs(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                              weight: UnsafePointer<Float>, outChannels n: Int, window w: Window) {
        let full = Window(batch: w.batch, height: w.outH, width: w.outW, channels: n, kernelH: 3, kernelW: 3,
                          strideH: 1, strideW: 1, padTop: 2 - w.padTop, padLeft: 2 - w.padLeft, outH: w.height,
                          outW: w.width)
        winogradForward(out: dinput, input: dout, weight: weight, turned: true,
                        geometry: WinogradGeometry(full, w.channels)) { _ in nil }
    }

    /// `epilogue` makes the forward's epilogue from the scratch it may use.
    private static func winogradForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                        weight: UnsafePointer<Float>, turned: Bool, geometry g: WinogradGeometry,
                                        epilogue: (UnsafeMutablePointer<Float>) -> ConvolutionEpilogue?) {
        let blocks = (g.tiles + g.block - 1) / g.block
        let workers = max(1, min(threads, blocks))
        let filterFloats = WinogradGeometry.points * g.cp * g.kp, epilogueFloats = ConvolutionEpilogue.scratchFloats
        let arena = arenaPool.take(floats: filterFloats + epilogueFloats + workers * g.workerFloats)
        defer { arenaPool.give(arena) }
        transformFilters(into: arena.base, weight: weight, turned: turned, geometry: g)
        parallelFor(workers: workers, WinogradForwardBlocks(
            out: out, input: input, filters: arena.base, g: g, blocks: blocks, workers: workers,
            space: arena.base + filterFloats + epilogueFloats, epilogue: epilogue(arena.base + filterFloats)))
    }

    /// dweight (3, 3, C, outChannels) = the weight gradient for dout and input + beta·dweight.
    public static func winogradBackwardWeights(dweight: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                               input: UnsafePointer<Float>, outChannels n: Int, window w: Window,
                                               beta: Float) {
        let g = WinogradGeometry(w, n), tasks = WinogradGeometry.parts * 6
        let workers = max(1, min(threads, tasks))
        let partFloats = WinogradGeometry.points * g.cp * g.kp
        let arena = arenaPool.take(floats: WinogradGeometry.parts * partFloats + workers * g.workerFloats)
        defer { arenaPool.give(arena) }
        parallelFor(workers: workers, WinogradWeightTasks(
            dout: dout, input: input, parts: arena.base, partFloats: partFloats, g: g, tasks: tasks, workers: workers,
            space: arena.base + WinogradGeometry.parts * partFloats))
        parallelFor(workers: max(1, min(threads, g.c / 8)), WinogradWeightsFromPoints(
            dweight: dweight, parts: arena.base, partFloats: partFloats, g: g, beta: beta,
            workers: max(1, min(threads, g.c / 8))))
    }

    /// U[p][c][k] = (G g G^T)[p] for every channel pair, zeros in the padding (one thread: C·K·36 values).
    private static func transformFilters(into u: UnsafeMutablePointer<Float>, weight: UnsafePointer<Float>,
                                         turned: Bool, geometry g: WinogradGeometry) {
        let (c, k, cp, kp) = (g.c, g.k, g.cp, g.kp)
        for ci in 0..<cp {
            for ki in 0..<kp {
                // 3×3 taps; turned: this convolution's input channel is the layer's output channel.
                @inline(__always) func tap(_ y: Int, _ x: Int) -> Float {
                    guard ci < c && ki < k else { return 0 }
                    return turned ? weight[((2 - y) * 3 + (2 - x)) * k * c + ki * c + ci]
                                  : weight[(y * 3 + x) * c * k + ci * k + ki]
                }
                for i in 0..<6 {
                    let r0 = filterRow(i, tap(0, 0), tap(1, 0), tap(2, 0))
                    let r1 = filterRow(i, tap(0, 1), tap(1, 1), tap(2, 1))
                    let r2 = filterRow(i, tap(0, 2), tap(1, 2), tap(2, 2))
                    for j in 0..<6 { u[((i * 6 + j) * cp + ci) * kp + ki] = filterRow(j, r0, r1, r2) }
                }
            }
        }
    }
}

/// Tiles, blocks and padded channel counts of one Winograd convolution.
struct WinogradGeometry {
    static let points = 36
    /// The weight gradient's fixed parts of the tiles (see conv_winograd.c).
    static let parts = 4
    let w: SwiftKernels.Window
    /// Channels in and out, both rounded up to whole tile vectors (8 lanes, or 16 in the AVX-512 build): the
    /// transforms' vectors, and rows of points the products' wide tiles never read past.
    let c, k, cp, kp: Int
    let tilesH, tilesW, tiles, block: Int
    /// A worker's transformed tiles and products (points one cache line apart: see conv_winograd.c), and
    /// 60 vectors of transform scratch.
    let workerFloats: Int

    init(_ w: SwiftKernels.Window, _ outChannels: Int) {
        self.w = w
        (c, k) = (w.channels, outChannels)
        let lanes = Direct.halfNr
        (cp, kp) = ((c + lanes - 1) / lanes * lanes, (k + lanes - 1) / lanes * lanes)
        (tilesH, tilesW) = ((w.outH + 3) / 4, (w.outW + 3) / 4)
        tiles = w.batch * tilesH * tilesW
        // Transformed inputs and products of a block in about a third of L2, in whole groups of 12 tiles.
        block = max(12, 96 * 1024 / (Self.points * (cp + kp)) / 12 * 12)
        workerFloats = Self.points * (block * (cp + kp) + 32) + 60 * Direct.halfNr
    }

    func pointStride(_ width: Int) -> Int { block * width + 16 }

    /// Tile t's image and top-left output pixel.
    @inline(__always)
    func place(_ t: Int) -> (image: Int, oy: Int, ox: Int) {
        let perImage = tilesH * tilesW, local = t % perImage
        return (t / perImage, local / tilesW * 4, local % tilesW * 4)
    }
}

// MARK: - Transforms, a row at a time (the rows of B^T, A^T, A and G; see conv_winograd.c)

@inline(__always)
private func inputRow(_ i: Int, _ d0: TileVector, _ d1: TileVector, _ d2: TileVector, _ d3: TileVector,
                      _ d4: TileVector, _ d5: TileVector) -> TileVector {
    switch i {
    case 0: return 4 * d0 - 5 * d2 + d4
    case 1: return d3 + d4 - 4 * (d1 + d2)
    case 2: return d4 - d3 + 4 * (d1 - d2)
    case 3: return d4 - d2 + 2 * (d3 - d1)
    case 4: return d4 - d2 + 2 * (d1 - d3)
    default: return 4 * d1 - 5 * d3 + d5
    }
}

@inline(__always)
private func outputRow(_ p: Int, _ m0: TileVector, _ m1: TileVector, _ m2: TileVector, _ m3: TileVector,
                       _ m4: TileVector, _ m5: TileVector) -> TileVector {
    switch p {
    case 0: return m0 + m1 + m2 + m3 + m4
    case 1: return m1 - m2 + 2 * (m3 - m4)
    case 2: return m1 + m2 + 4 * (m3 + m4)
    default: return m1 - m2 + 8 * (m3 - m4) + m5
    }
}

@inline(__always)
private func gradientRow(_ i: Int, _ v0: TileVector, _ v1: TileVector, _ v2: TileVector,
                         _ v3: TileVector) -> TileVector {
    switch i {
    case 0: return v0
    case 1: return v0 + v1 + v2 + v3
    case 2: return v0 - v1 + v2 - v3
    case 3: return v0 + 2 * v1 + 4 * v2 + 8 * v3
    case 4: return v0 - 2 * v1 + 4 * v2 - 8 * v3
    default: return v3
    }
}

private func filterRow(_ i: Int, _ g0: Float, _ g1: Float, _ g2: Float) -> Float {
    switch i {
    case 0: return g0 / 4
    case 1: return -(g0 + g1 + g2) / 6
    case 2: return -(g0 - g1 + g2) / 6
    case 3: return g0 / 24 + g1 / 12 + g2 / 6
    case 4: return g0 / 24 - g1 / 12 + g2 / 6
    default: return g2
    }
}

/// Column a of G applied to u0…u5 (G^T u).
private func filterColumn(_ a: Int, _ u: (Float, Float, Float, Float, Float, Float)) -> Float {
    switch a {
    case 0: return u.0 / 4 - (u.1 + u.2) / 6 + (u.3 + u.4) / 24
    case 1: return (u.2 - u.1) / 6 + (u.3 - u.4) / 12
    default: return (u.3 + u.4 - u.1 - u.2) / 6 + u.5
    }
}

/// The first n (1…`Direct.halfNr`) floats at p, zeros after them.
@inline(__always)
private func loadFirst(_ p: UnsafePointer<Float>, _ n: Int) -> TileVector {
    if n >= Direct.halfNr { return UnsafeRawPointer(p).loadUnaligned(as: TileVector.self) }
    var v = TileVector()
    for i in 0..<n { v[i] = p[i] }
    return v
}

@inline(__always)
private func store(_ v: TileVector, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
    if n >= Direct.halfNr {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: TileVector.self)
        return
    }
    for i in 0..<n { p[i] = v[i] }
}

extension WinogradGeometry {
    /// Rows i0..<i1 of the transformed input patch at (iy0, ix0) of `image` (zeros outside): point (i, j),
    /// channels, to v + ((i − i0)·6 + j)·stride. `e` holds 36 vectors of scratch.
    @inline(__always)
    func transformPatch(_ v: UnsafeMutablePointer<Float>, stride: Int, image: UnsafePointer<Float>, iy0: Int, ix0: Int,
                        rows i0: Int, _ i1: Int, scratch e: UnsafeMutablePointer<TileVector>) {
        let inside = iy0 >= 0 && iy0 + 6 <= w.height && ix0 >= 0 && ix0 + 6 <= w.width
        for c0 in Swift.stride(from: 0, to: cp, by: Direct.halfNr) {
            let n = min(Direct.halfNr, c - c0)
            for b in 0..<6 {
                @inline(__always) func d(_ a: Int) -> TileVector {
                    let y = iy0 + a, x = ix0 + b
                    guard inside || (y >= 0 && y < w.height && x >= 0 && x < w.width) else { return TileVector() }
                    return loadFirst(image + (y * w.width + x) * c + c0, n)
                }
                let (d0, d1, d2, d3, d4, d5) = (d(0), d(1), d(2), d(3), d(4), d(5))
                for i in i0..<i1 { e[i * 6 + b] = inputRow(i, d0, d1, d2, d3, d4, d5) }
            }
            for i in i0..<i1 {
                let r = e + i * 6
                for j in 0..<6 {
                    UnsafeMutableRawPointer(v + ((i - i0) * 6 + j) * stride + c0)
                        .storeBytes(of: inputRow(j, r[0], r[1], r[2], r[3], r[4], r[5]), as: TileVector.self)
                }
            }
        }
    }

    /// The output tile at (oy0, ox0) of `image` (its pixels inside the output) from its products m.
    @inline(__always)
    func writeTile(_ image: UnsafeMutablePointer<Float>, oy0: Int, ox0: Int, m: UnsafePointer<Float>, stride: Int,
                   scratch f: UnsafeMutablePointer<TileVector>) {
        for k0 in Swift.stride(from: 0, to: k, by: Direct.halfNr) {
            let n = min(Direct.halfNr, k - k0)
            for j in 0..<6 {
                @inline(__always) func at(_ i: Int) -> TileVector {
                    UnsafeRawPointer(m + (i * 6 + j) * stride + k0).loadUnaligned(as: TileVector.self)
                }
                let (m0, m1, m2, m3, m4, m5) = (at(0), at(1), at(2), at(3), at(4), at(5))
                for p in 0..<4 { f[p * 6 + j] = outputRow(p, m0, m1, m2, m3, m4, m5) }
            }
            for p in 0..<4 where oy0 + p < w.outH {
                let r = f + p * 6
                for q in 0..<4 where ox0 + q < w.outW {
                    store(outputRow(q, r[0], r[1], r[2], r[3], r[4], r[5]),
                          image + ((oy0 + p) * w.outW + ox0 + q) * k + k0, n)
                }
            }
        }
    }

    /// Rows i0..<i1 of A dY A^T for the output-gradient tile at (oy0, ox0) of `image` (zeros outside the
    /// output), laid out as transformPatch's. `e` holds 24 vectors of scratch.
    @inline(__always)
    func transformGradient(_ v: UnsafeMutablePointer<Float>, stride: Int, image: UnsafePointer<Float>, oy0: Int,
                           ox0: Int, rows i0: Int, _ i1: Int, scratch e: UnsafeMutablePointer<TileVector>) {
        for k0 in Swift.stride(from: 0, to: kp, by: Direct.halfNr) {
            let n = min(Direct.halfNr, k - k0)
            for q in 0..<4 {
                @inline(__always) func d(_ p: Int) -> TileVector {
                    let y = oy0 + p, x = ox0 + q
                    guard y < w.outH && x < w.outW else { return TileVector() }
                    return loadFirst(image + (y * w.outW + x) * k + k0, n)
                }
                let (d0, d1, d2, d3) = (d(0), d(1), d(2), d(3))
                for i in i0..<i1 { e[i * 4 + q] = gradientRow(i, d0, d1, d2, d3) }
            }
            for i in i0..<i1 {
                let r = e + i * 4
                for j in 0..<6 {
                    UnsafeMutableRawPointer(v + ((i - i0) * 6 + j) * stride + k0)
                        .storeBytes(of: gradientRow(j, r[0], r[1], r[2], r[3]), as: TileVector.self)
                }
            }
        }
    }
}

// MARK: - Workers

/// One worker's blocks of tiles: transform, 36 products on direct tiles, write the outputs.
private struct WinogradForwardBlocks: ParallelWork {
    let out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, filters: UnsafePointer<Float>
    let g: WinogradGeometry, blocks: Int, workers: Int
    let space: UnsafeMutablePointer<Float>
    /// Applied to each tile's rows once they are written.
    let epilogue: SwiftKernels.ConvolutionEpilogue?

    func run(task: Int) {
        let vStride = g.pointStride(g.cp), mStride = g.pointStride(g.kp)
        let v = space + task * g.workerFloats, m = v + 36 * vStride
        let scratch = UnsafeMutableRawPointer(m + 36 * mStride).bindMemory(to: TileVector.self, capacity: 60)
        let w = g.w, imageIn = w.height * w.width * g.c, imageOut = w.outH * w.outW * g.k
        for block in (blocks * task / workers)..<(blocks * (task + 1) / workers) {
            let t0 = block * g.block, count = min(g.block, g.tiles - t0)
            for t in 0..<count {
                let at = g.place(t0 + t)
                g.transformPatch(v + t * g.cp, stride: vStride, image: input + at.image * imageIn,
                                 iy0: at.oy - w.padTop, ix0: at.ox - w.padLeft, rows: 0, 6, scratch: scratch)
            }
            for p in 0..<36 {
                let vp = v + p * vStride, up = filters + p * g.cp * g.kp, mp = m + p * mStride
                for t in stride(from: 0, to: count, by: Direct.mr) {
                    let rows = min(Direct.mr, count - t)
                    for jr in stride(from: 0, to: g.kp, by: Direct.nr) {
                        SwiftKernels.directTile(kc: g.cp, a: TileRows(vp + t * g.cp, rsa: g.cp, rows: rows),
                                                walk: Strided(step: 1), b: up + jr, rsb: g.kp, c: mp + t * g.kp + jr,
                                                ldc: g.kp, rows: rows, cols: min(Direct.nr, g.kp - jr), alpha: 1, beta: 0)
                    }
                }
            }
            for t in 0..<count {
                let at = g.place(t0 + t)
                g.writeTile(out + at.image * imageOut, oy0: at.oy, ox0: at.ox, m: m + t * g.kp, stride: mStride,
                            scratch: scratch)
                if let epilogue {
                    let columns = min(4, w.outW - at.ox)
                    for y in at.oy..<min(at.oy + 4, w.outH) {
                        epilogue.apply(out + at.image * imageOut + (y * w.outW + at.ox) * g.k, pixels: columns)
                    }
                }
            }
        }
    }
}

/// One worker's share of (part, row of points) tasks of the weight gradient.
private struct WinogradWeightTasks: ParallelWork {
    let dout: UnsafePointer<Float>, input: UnsafePointer<Float>
    let parts: UnsafeMutablePointer<Float>, partFloats: Int
    let g: WinogradGeometry, tasks: Int, workers: Int
    let space: UnsafeMutablePointer<Float>

    func run(task worker: Int) {
        var k = tasks * worker / workers
        let end = tasks * (worker + 1) / workers
        while k < end {
            let part = k / 6, rowsEnd = min((part + 1) * 6, end)
            pointRows(part: part, k % 6, rowsEnd - part * 6, space: space + worker * g.workerFloats)
            k = rowsEnd
        }
    }

    /// Rows i0..<i1 of part `part`'s points, over its tiles in order, a block at a time.
    private func pointRows(part: Int, _ i0: Int, _ i1: Int, space: UnsafeMutablePointer<Float>) {
        let vStride = g.pointStride(g.cp), dStride = g.pointStride(g.kp), points = (i1 - i0) * 6
        let v = space, d = v + points * vStride
        let scratch = UnsafeMutableRawPointer(space + 36 * (vStride + dStride))
            .bindMemory(to: TileVector.self, capacity: 60)
        let sums = parts + part * partFloats + i0 * 6 * g.cp * g.kp
        let w = g.w, imageIn = w.height * w.width * g.c, imageOut = w.outH * w.outW * g.k
        let first = g.tiles * part / WinogradGeometry.parts, end = g.tiles * (part + 1) / WinogradGeometry.parts
        if first == end { fillZeros(sums, points * g.cp * g.kp) }
        for t0 in stride(from: first, to: end, by: g.block) {
            let count = min(g.block, end - t0)
            for t in 0..<count {
                let at = g.place(t0 + t)
                g.transformPatch(v + t * g.cp, stride: vStride, image: input + at.image * imageIn,
                                 iy0: at.oy - w.padTop, ix0: at.ox - w.padLeft, rows: i0, i1, scratch: scratch)
                g.transformGradient(d + t * g.kp, stride: dStride, image: dout + at.image * imageOut, oy0: at.oy,
                                    ox0: at.ox, rows: i0, i1, scratch: scratch)
            }
            for p in 0..<points {
                let vp = v + p * vStride, dp = d + p * dStride, sp = sums + p * g.cp * g.kp
                for c in stride(from: 0, to: g.cp, by: Direct.mr) {
                    let rows = min(Direct.mr, g.cp - c)
                    for jr in stride(from: 0, to: g.kp, by: Direct.nr) {
                        SwiftKernels.directTile(kc: count, a: TileRows(vp + c, rsa: 1, rows: rows),
                                                walk: Strided(step: g.cp), b: dp + jr, rsb: g.kp, c: sp + c * g.kp + jr,
                                                ldc: g.kp, rows: rows, cols: min(Direct.nr, g.kp - jr), alpha: 1,
                                                beta: t0 > first ? 1 : 0)
                    }
                }
            }
        }
    }
}

/// dweight = G^T (the parts' points, added in order) G + beta·dweight, a range of input channels per worker.
private struct WinogradWeightsFromPoints: ParallelWork {
    let dweight: UnsafeMutablePointer<Float>, parts: UnsafePointer<Float>, partFloats: Int
    let g: WinogradGeometry, beta: Float, workers: Int

    func run(task: Int) {
        let (c, k, cp, kp) = (g.c, g.k, g.cp, g.kp)
        for ci in (c * task / workers)..<(c * (task + 1) / workers) {
            for ki in 0..<k {
                @inline(__always) func u(_ i: Int, _ j: Int) -> Float {
                    let at = parts + ((i * 6 + j) * cp + ci) * kp + ki
                    var sum = at[0]
                    for part in 1..<WinogradGeometry.parts { sum += at[part * partFloats] }
                    return sum
                }
                @inline(__always) func column(_ y: Int, _ j: Int) -> Float {
                    filterColumn(y, (u(0, j), u(1, j), u(2, j), u(3, j), u(4, j), u(5, j)))
                }
                for y in 0..<3 {
                    let row = (column(y, 0), column(y, 1), column(y, 2), column(y, 3), column(y, 4), column(y, 5))
                    for x in 0..<3 {
                        let at = dweight + ((y * 3 + x) * c + ci) * k + ki, grad = filterColumn(x, row)
                        at.pointee = beta == 0 ? grad : grad + beta * at.pointee
                    }
                }
            }
        }
    }
}

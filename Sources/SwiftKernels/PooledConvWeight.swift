// The weight and bias gradients of a greyscale ReLU convolution whose output only a 2×2 max pool of stride 2
// reads, straight from the pool's output gradient, with the contract of dk_conv2d_relu_maxpool_backward_weight
// (CKernels/conv_pooled_weight.c): each window's gradient, per filter, goes to its first largest pixel if that
// is positive, so only that pixel's input window is multiplied in (a quarter of the unfused path's
// multiply-adds, and the convolution's output gradient is never written). A kernel row is a vector's lanes.
// Bits: the batch cut into 16 fixed parts, each summed in order (images, pooled rows, columns), the parts added
// in order: the same for any thread count.

extension SwiftKernels {
    /// Whether `convolutionReLUMaxPoolBackwardWeights` takes the convolution window `w` with `n` filters.
    public static func convolutionReLUMaxPoolWeightsApply(window w: Window, outChannels n: Int) -> Bool {
        w.channels == 1 && w.strideH == 1 && w.strideW == 1 && (1...Vec.scalarCount).contains(w.kernelW)
            && (1...8).contains(w.kernelH) && (1...16).contains(n) && w.outH >= 2 && w.outW >= 2 && w.batch >= 1
    }

    /// dweight (kh, kw, 1, n) and dbias (n) of relu(conv(input) + bias) = `output` (batch, outH, outW, n), from
    /// `dpool` (batch, outH / 2, outW / 2, n), the gradient of its 2×2 stride-2 max pool (+ what they held when
    /// `accumulate…`).
    public static func convolutionReLUMaxPoolBackwardWeights(
        dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>, dpool: UnsafePointer<Float>,
        output: UnsafePointer<Float>, input: UnsafePointer<Float>, outChannels n: Int, window w: Window,
        accumulateWeight: Bool, accumulateBias: Bool
    ) {
        let parts = PooledWeightParts(window: w, n: n)
        let workers = max(1, min(threads, PooledWeightParts.count))
        let arena = arenaPool.take(floats: PooledWeightParts.count * parts.partFloats + workers * parts.workerFloats)
        defer { arenaPool.give(arena) }
        parallelFor(workers: workers, PooledWeightWork(
            parts: parts, dpool: dpool, output: output, input: input, sums: arena.base,
            padded: arena.base + PooledWeightParts.count * parts.partFloats, workers: workers))
        for f in 0..<n {
            @inline(__always) func total(_ at: Int) -> Float {
                var s = arena.base[at]
                for p in 1..<PooledWeightParts.count { s += arena.base[p * parts.partFloats + at] }
                return s
            }
            for ky in 0..<w.kernelH {
                for kx in 0..<w.kernelW {
                    let s = total((f * w.kernelH + ky) * Vec.scalarCount + kx)
                    let dst = dweight + (ky * w.kernelW + kx) * n + f
                    dst.pointee = accumulateWeight ? dst.pointee + s : s
                }
            }
            let s = total(parts.biasAt + f)
            dbias[f] = accumulateBias ? dbias[f] + s : s
        }
    }
}

/// The fixed parts of the batch and each part's sums: per filter and kernel row a vector (a kernel row's taps
/// in its first lanes), then the bias's.
private struct PooledWeightParts {
    static let count = 16
    let w: SwiftKernels.Window, n: Int
    /// Padded image rows: a vector's load at every output column stays inside one.
    let span: Int
    let biasAt: Int, partFloats: Int
    /// A worker's scratch: the padded image, then the winners of its pooled rows (see `PooledWeightWork.winners`).
    let winnerRow: Int, paddedFloats: Int, workerFloats: Int

    init(window w: SwiftKernels.Window, n: Int) {
        (self.w, self.n) = (w, n)
        span = w.outW - 1 + max(w.kernelW, Vec.scalarCount)
        biasAt = n * w.kernelH * Vec.scalarCount
        partFloats = biasAt + n
        winnerRow = w.outW * n
        paddedFloats = (w.outH - 1 + w.kernelH) * span
        workerFloats = paddedFloats + (w.outH / 2) * winnerRow
    }

    func images(of part: Int) -> Range<Int> { part * w.batch / Self.count..<(part + 1) * w.batch / Self.count }
}

private struct PooledWeightWork: ParallelWork {
    let parts: PooledWeightParts
    let dpool: UnsafePointer<Float>, output: UnsafePointer<Float>, input: UnsafePointer<Float>
    let sums: UnsafeMutablePointer<Float>, padded: UnsafeMutablePointer<Float>
    let workers: Int

    func run(task t: Int) {
        let image = padded + t * parts.workerFloats
        let winners = UnsafeMutableRawPointer(image + parts.paddedFloats).bindMemory(
            to: Int32.self, capacity: (parts.w.outH / 2) * parts.winnerRow)
        for part in stride(from: t, to: PooledWeightParts.count, by: workers) {
            let s = sums + part * parts.partFloats
            s.initialize(repeating: 0, count: parts.partFloats)
            for i in parts.images(of: part) {
                pad(image: i, into: image)
                findWinners(of: i, into: winners)
                addWindows(of: i, image: image, winners: winners, sums: s)
            }
        }
    }

    /// Image i with the layer's zero padding around it, rows `span` floats apart.
    private func pad(image i: Int, into dst: UnsafeMutablePointer<Float>) {
        let w = parts.w, span = parts.span
        dst.initialize(repeating: 0, count: parts.paddedFloats)
        let src = input + i * w.height * w.width
        for y in 0..<(w.outH - 1 + w.kernelH) {
            let iy = y - w.padTop
            guard iy >= 0 && iy < w.height else { continue }
            for x in 0..<span {
                let ix = x - w.padLeft
                if ix >= 0 && ix < w.width { dst[y * span + x] = src[iy * w.width + ix] }
            }
        }
    }

    /// Which pixel of each 2×2 window gets its gradient, per filter: winners[py·winnerRow + 2·px·n + f] is 0…3,
    /// the first strictly largest of the window's four values in row-major order, or −1 if none is positive
    /// (the ReLU's derivative keeps nothing), as maxPoolReLUBackward picks it. A lane per float of a row pair
    /// (right pixels' lanes computed too, unused), so that few filters still fill the vectors.
    private func findWinners(of i: Int, into winners: UnsafeMutablePointer<Int32>) {
        let w = parts.w, n = parts.n, row = parts.winnerRow, lanes = (w.outW - 1) * n
        let out = output + i * w.outH * w.outW * n
        for py in 0..<(w.outH / 2) {
            let top = out + 2 * py * row, bottom = top + row, win = winners + py * row
            var e = 0
            @inline(__always) func scan(_ v: SIMD8<Float>, _ k: Int32, _ best: inout SIMD8<Float>, _ at: inout SIMD8<Int32>) {
                let better = v .> best
                best.replace(with: v, where: better)
                at.replace(with: SIMD8(repeating: k), where: better)
            }
            while e + 8 <= lanes {
                var best = SIMD8<Float>(), at = SIMD8<Int32>(repeating: -1)
                scan(load(top + e), 0, &best, &at)
                scan(load(top + e + n), 1, &best, &at)
                scan(load(bottom + e), 2, &best, &at)
                scan(load(bottom + e + n), 3, &best, &at)
                UnsafeMutableRawPointer(win + e).storeBytes(of: at, as: SIMD8<Int32>.self)
                e += 8
            }
            for e in e..<lanes {
                var best: Float = 0, at: Int32 = -1
                @inline(__always) func consider(_ v: Float, _ k: Int32) { if v > best { (best, at) = (v, k) } }
                consider(top[e], 0)
                consider(top[e + n], 1)
                consider(bottom[e], 2)
                consider(bottom[e + n], 3)
                win[e] = at
            }
        }
    }

    /// Each pooled pixel's gradient, per filter, times the window of the pixel it lands on, into the sums: a
    /// filter at a time, its kernel rows' sums in registers (a0 … a7, those past kh unused). No branch on the
    /// winner (data: it would mispredict about every third window): a window without one adds +0 · pixel 0.
    private func addWindows(of i: Int, image: UnsafePointer<Float>, winners: UnsafePointer<Int32>,
                            sums: UnsafeMutablePointer<Float>) {
        let w = parts.w, n = parts.n, span = parts.span, kh = w.kernelH, ph = w.outH / 2, pw = w.outW / 2
        let d = dpool + i * ph * pw * n
        for f in 0..<n {
            let rows = sums + f * kh * Vec.scalarCount
            @inline(__always) func sum(_ ky: Int) -> Vec { ky < kh ? load(rows + ky * Vec.scalarCount) : Vec() }
            var (a0, a1, a2, a3, a4, a5, a6, a7) = (sum(0), sum(1), sum(2), sum(3), sum(4), sum(5), sum(6), sum(7))
            var bias = sums[parts.biasAt + f]
            for py in 0..<ph {
                let win = winners + py * parts.winnerRow + f
                for px in 0..<pw {
                    let at = Int(win[2 * px * n]), corner = at & 3
                    let keep = UInt32(truncatingIfNeeded: ~(at >> 63))
                    let gradient = Float(bitPattern: (0 + d[(py * pw + px) * n + f]).bitPattern & keep)
                    let g = Vec(repeating: gradient), window = image + (2 * py + (corner >> 1)) * span + 2 * px + (corner & 1)
                    bias += gradient
                    a0.multiplyAdd(g, load(window))
                    if kh > 1 { a1.multiplyAdd(g, load(window + span)) }
                    if kh > 2 { a2.multiplyAdd(g, load(window + 2 * span)) }
                    if kh > 3 { a3.multiplyAdd(g, load(window + 3 * span)) }
                    if kh > 4 { a4.multiplyAdd(g, load(window + 4 * span)) }
                    if kh > 5 { a5.multiplyAdd(g, load(window + 5 * span)) }
                    if kh > 6 { a6.multiplyAdd(g, load(window + 6 * span)) }
                    if kh > 7 { a7.multiplyAdd(g, load(window + 7 * span)) }
                }
            }
            @inline(__always) func put(_ ky: Int, _ a: Vec) { if ky < kh { store(rows + ky * Vec.scalarCount, a) } }
            put(0, a0); put(1, a1); put(2, a2); put(3, a3); put(4, a4); put(5, a5); put(6, a6); put(7, a7)
            sums[parts.biasAt + f] = bias
        }
    }
}

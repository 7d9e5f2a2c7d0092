// The backward of a ReLU convolution whose output only a 2×2 max pool of stride 2 reads, straight from the pool's
// output gradient, with the contract of dk_conv2d_relu_maxpool_backward (CKernels/conv_relu_maxpool_backward.c):
// each window's gradient, per filter, goes to its first largest pixel if that is positive, so only that pixel's
// input window takes part (a quarter of the unfused path's multiply-adds, and the convolution's output gradient is
// never written). A kernel row of a window is kw·C contiguous floats of a zero-padded copy of the image, read in
// vectors (the lanes past it ignored).
// Bits: the batch cut into 16 fixed parts, each summed in order (images, pooled rows, columns), the parts added
// in order; each image's input gradient summed in that order by one worker: the same for any thread count.

extension SwiftKernels {
    /// Whether `convolutionReLUMaxPoolBackward` takes the convolution window `w` with `n` filters.
    public static func convolutionReLUMaxPoolBackwardApplies(window w: Window, outChannels n: Int) -> Bool {
        w.strideH == 1 && w.strideW == 1 && w.channels >= 1 && w.kernelW >= 1 && (1...8).contains(w.kernelH)
            && w.kernelW * w.channels <= 8 * Vec.scalarCount && (1...32).contains(n) && w.outH >= 2 && w.outW >= 2
            && w.batch >= 1
    }

    /// dweight (kh, kw, C, n), dbias (n) and, unless nil, dinput (overwritten) of relu(conv(input, weight) + bias) =
    /// `output` (batch, outH, outW, n), from `dpool` (batch, outH / 2, outW / 2, n), the gradient of its 2×2
    /// stride-2 max pool (+ what dweight and dbias held when `accumulate…`).
    public static func convolutionReLUMaxPoolBackward(
        dinput: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
        dpool: UnsafePointer<Float>, output: UnsafePointer<Float>, input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, outChannels n: Int, window w: Window, accumulateWeight: Bool, accumulateBias: Bool
    ) {
        let g = PooledGeometry(window: w, n: n), parts = PooledGeometry.parts
        let workers = max(1, min(threads, parts)), filterFloats = n * w.kernelH * g.rowFloats
        let arena = arenaPool.take(floats: parts * g.partFloats + filterFloats + workers * g.workerFloats)
        defer { arenaPool.give(arena) }
        let filters = arena.base + parts * g.partFloats
        if dinput != nil {
            // Filter f's kernel row ky: weight[ky][kx][c][f] over (kx, c), then zeros to whole vectors.
            for f in 0..<n {
                for ky in 0..<w.kernelH {
                    let row = filters + (f * w.kernelH + ky) * g.rowFloats
                    for i in 0..<g.rowFloats { row[i] = i < g.field ? weight[(ky * g.field + i) * n + f] : 0 }
                }
            }
        }
        parallelFor(workers: workers, PooledBackwardWork(
            g: g, dinput: dinput, dpool: dpool, output: output, input: input, filters: filters, sums: arena.base,
            space: filters + filterFloats, workers: workers))
        for f in 0..<n {
            @inline(__always) func total(_ at: Int) -> Float {
                var s = arena.base[at]
                for p in 1..<parts { s += arena.base[p * g.partFloats + at] }
                return s
            }
            for ky in 0..<w.kernelH {
                for i in 0..<g.field {
                    let s = total((f * w.kernelH + ky) * g.rowFloats + i), dst = dweight + (ky * g.field + i) * n + f
                    dst.pointee = accumulateWeight ? dst.pointee + s : s
                }
            }
            let s = total(g.biasAt + f)
            dbias[f] = accumulateBias ? dbias[f] + s : s
        }
    }
}

/// The padded image, the winners and the fixed parts of one call.
private struct PooledGeometry {
    static let parts = 16
    let w: SwiftKernels.Window, n: Int
    /// Floats of a kernel row (kw·C), and of its vectors.
    let field: Int, rowFloats: Int
    /// The padded image: `rows` rows of `span` floats (whole pixels), wide enough for a row's last vector at the
    /// last output column.
    let span: Int, rows: Int
    let pooledH: Int, pooledW: Int, winnerRow: Int
    /// A part's sums: per filter and kernel row `rowFloats`, then the biases.
    let biasAt: Int, partFloats: Int
    /// A worker's scratch: the padded image and its gradient, the pooled pixels' gradients and window offsets,
    /// the winners.
    let workerFloats: Int

    init(window w: SwiftKernels.Window, n: Int) {
        (self.w, self.n) = (w, n)
        field = w.kernelW * w.channels
        rowFloats = (field + Vec.scalarCount - 1) / Vec.scalarCount * Vec.scalarCount
        let loads = (w.outW - 1) * w.channels + rowFloats, reach = (w.outW - 1 + w.kernelW) * w.channels
        span = (max(loads, reach) + w.channels - 1) / w.channels * w.channels
        rows = w.outH - 1 + w.kernelH
        (pooledH, pooledW, winnerRow) = (w.outH / 2, w.outW / 2, w.outW * n)
        biasAt = n * w.kernelH * rowFloats
        partFloats = biasAt + n
        workerFloats = 2 * rows * span + 2 * pooledH * pooledW * n + pooledH * winnerRow
    }

    func images(of part: Int) -> Range<Int> { part * w.batch / Self.parts..<(part + 1) * w.batch / Self.parts }
}

private struct PooledBackwardWork: ParallelWork {
    let g: PooledGeometry
    let dinput: UnsafeMutablePointer<Float>?
    let dpool: UnsafePointer<Float>, output: UnsafePointer<Float>, input: UnsafePointer<Float>
    let filters: UnsafePointer<Float>
    let sums: UnsafeMutablePointer<Float>, space: UnsafeMutablePointer<Float>
    let workers: Int

    func run(task t: Int) {
        let padded = space + t * g.workerFloats, dpadded = padded + g.rows * g.span
        let grads = dpadded + g.rows * g.span, pooled = g.pooledH * g.pooledW
        let ints = UnsafeMutableRawPointer(grads + pooled * g.n).bindMemory(to: Int32.self, capacity: pooled * g.n + g.pooledH * g.winnerRow)
        let offsets = ints, winners = ints + pooled * g.n
        for part in stride(from: t, to: PooledGeometry.parts, by: workers) {
            let s = sums + part * g.partFloats
            s.initialize(repeating: 0, count: g.partFloats)
            for i in g.images(of: part) {
                pad(image: i, into: padded)
                findWinners(of: i, into: winners)
                codes(of: i, winners: winners, grads: grads, offsets: offsets, bias: s + g.biasAt)
                addWindows(padded: padded, grads: grads, offsets: offsets, sums: s)
                if let dinput { inputGradient(of: i, into: dinput, padded: dpadded, grads: grads, offsets: offsets) }
            }
        }
    }

    /// Image i with the layer's zero padding around it.
    private func pad(image i: Int, into dst: UnsafeMutablePointer<Float>) {
        let w = g.w, c = w.channels
        dst.initialize(repeating: 0, count: g.rows * g.span)
        let pixels = min(w.width, g.span / c - w.padLeft)
        for y in 0..<g.rows where y >= w.padTop && y - w.padTop < w.height {
            (dst + y * g.span + w.padLeft * c).update(from: input + ((i * w.height + y - w.padTop) * w.width) * c,
                                                      count: pixels * c)
        }
    }

    /// Which pixel of each 2×2 window gets its gradient, per filter: winners[py·winnerRow + 2·px·n + f] is 0…3,
    /// the first strictly largest of the window's four values in row-major order, or −1 if none is positive
    /// (the ReLU's derivative keeps nothing), as maxPoolReLUBackward picks it. A lane per float of a row pair
    /// (right pixels' lanes computed too, unused), so that few filters still fill the vectors.
    private func findWinners(of i: Int, into winners: UnsafeMutablePointer<Int32>) {
        let n = g.n, row = g.winnerRow, lanes = row - n, out = output + i * g.w.outH * row
        @inline(__always) func scan(_ v: SIMD8<Float>, _ k: Int32, _ best: inout SIMD8<Float>, _ at: inout SIMD8<Int32>) {
            let better = v .> best
            best.replace(with: v, where: better)
            at.replace(with: SIMD8(repeating: k), where: better)
        }
        for py in 0..<g.pooledH {
            let top = out + 2 * py * row, bottom = top + row, win = winners + py * row
            var e = 0
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

    /// Each pooled pixel's gradient per filter (0 + d as the unfused path stores it, +0 where no pixel wins) and
    /// where its window starts in the padded image; the bias sums add the gradients in order. No branch on the
    /// winner (data: it would mispredict about every third window).
    private func codes(of i: Int, winners: UnsafePointer<Int32>, grads: UnsafeMutablePointer<Float>,
                       offsets: UnsafeMutablePointer<Int32>, bias: UnsafeMutablePointer<Float>) {
        let n = g.n, c = g.w.channels, d = dpool + i * g.pooledH * g.pooledW * n
        var q = 0
        for py in 0..<g.pooledH {
            for px in 0..<g.pooledW {
                let win = winners + py * g.winnerRow + 2 * px * n, base = 2 * py * g.span + 2 * px * c
                for f in 0..<n {
                    let at = Int(win[f]), corner = at & 3
                    let keep = UInt32(truncatingIfNeeded: ~(at >> 63))
                    let gradient = Float(bitPattern: (0 + d[q * n + f]).bitPattern & keep)
                    grads[q * n + f] = gradient
                    offsets[q * n + f] = Int32(base + (corner >> 1) * g.span + (corner & 1) * c)
                    bias[f] += gradient
                }
                q += 1
            }
        }
    }

    /// The weight gradient's sums: per filter, 8 of its kernel rows' vectors at a time in registers, over the
    /// pooled pixels in order.
    private func addWindows(padded: UnsafePointer<Float>, grads: UnsafePointer<Float>, offsets: UnsafePointer<Int32>,
                            sums: UnsafeMutablePointer<Float>) {
        let n = g.n, vectors = g.rowFloats / Vec.scalarCount, total = g.w.kernelH * vectors
        let pooled = g.pooledH * g.pooledW
        /// Where vector j of a window's rows starts, and of the sums.
        @inline(__always) func inWindow(_ j: Int) -> Int { j < total ? (j / vectors) * g.span + (j % vectors) * Vec.scalarCount : 0 }
        for f in 0..<n {
            let rows = sums + f * g.w.kernelH * g.rowFloats
            var j0 = 0
            while j0 < total {
                let count = min(8, total - j0)
                let (o0, o1, o2, o3) = (inWindow(j0), inWindow(j0 + 1), inWindow(j0 + 2), inWindow(j0 + 3))
                let (o4, o5, o6, o7) = (inWindow(j0 + 4), inWindow(j0 + 5), inWindow(j0 + 6), inWindow(j0 + 7))
                @inline(__always) func sum(_ k: Int) -> Vec { k < count ? load(rows + (j0 + k) * Vec.scalarCount) : Vec() }
                var (a0, a1, a2, a3, a4, a5, a6, a7) = (sum(0), sum(1), sum(2), sum(3), sum(4), sum(5), sum(6), sum(7))
                for q in 0..<pooled {
                    let gv = Vec(repeating: grads[q * n + f]), window = padded + Int(offsets[q * n + f])
                    a0.multiplyAdd(gv, load(window + o0))
                    if count > 1 { a1.multiplyAdd(gv, load(window + o1)) }
                    if count > 2 { a2.multiplyAdd(gv, load(window + o2)) }
                    if count > 3 { a3.multiplyAdd(gv, load(window + o3)) }
                    if count > 4 { a4.multiplyAdd(gv, load(window + o4)) }
                    if count > 5 { a5.multiplyAdd(gv, load(window + o5)) }
                    if count > 6 { a6.multiplyAdd(gv, load(window + o6)) }
                    if count > 7 { a7.multiplyAdd(gv, load(window + o7)) }
                }
                @inline(__always) func put(_ k: Int, _ a: Vec) { if k < count { store(rows + (j0 + k) * Vec.scalarCount, a) } }
                put(0, a0); put(1, a1); put(2, a2); put(3, a3); put(4, a4); put(5, a5); put(6, a6); put(7, a7)
                j0 += 8
            }
        }
    }

    /// Image i's input gradient: every pooled pixel's gradient times each filter's rows (zeros past kw·C), added
    /// to its window of the padded gradient in order, whose inside is then the image's.
    private func inputGradient(of i: Int, into dinput: UnsafeMutablePointer<Float>, padded: UnsafeMutablePointer<Float>,
                               grads: UnsafePointer<Float>, offsets: UnsafePointer<Int32>) {
        let w = g.w, n = g.n, c = w.channels, vectors = g.rowFloats / Vec.scalarCount
        padded.initialize(repeating: 0, count: g.rows * g.span)
        for q in 0..<(g.pooledH * g.pooledW) {
            for f in 0..<n {
                let gv = Vec(repeating: grads[q * n + f]), window = padded + Int(offsets[q * n + f])
                let filter = filters + f * w.kernelH * g.rowFloats
                for ky in 0..<w.kernelH {
                    for v in 0..<vectors {
                        let at = window + ky * g.span + v * Vec.scalarCount
                        var sum = load(at)
                        sum.multiplyAdd(gv, load(filter + ky * g.rowFloats + v * Vec.scalarCount))
                        store(at, sum)
                    }
                }
            }
        }
        for y in 0..<w.height {
            (dinput + (i * w.height + y) * w.width * c).update(from: padded + (y + w.padTop) * g.span + w.padLeft * c,
                                                               count: w.width * c)
        }
    }
}

// Convolution products without the whole unfolded input: the Swift kernels' counterpart of
// CKernels/conv_gemm.c. The unfolded input is kh·kw·C times the image (85 MB at the `cnn` preset's
// second layer, batch 128); written whole it streams through DRAM, and a greyscale layer spends its
// time copying 3- or 5-float runs into it.
//
// - Forward: the direct GEMM tile (Matmul.swift) with pixels as its rows reads each pixel's receptive
//   field in place from the image through a table of offsets (`FieldOffsets`); windows that reach past
//   the image read a zero-padded copy of it.
// - Weight gradient: the same tile with field positions as its rows, read in place from the images, and
//   the pixels of each K block of the whole product as its k, through a table of window offsets.
// - Input gradient: each image's pixels, a chunk at a time, multiplied into scratch and added back
//   in col2im's order.
// - Shapes the sgemm would not send down its direct path (the portable build's wide products) unfold a
//   cache-sized chunk of pixels at a time for the forward and weight gradient instead, each worker into
//   its own scratch, and multiply it there.
//
// Bits: every element is summed over the same K blocks, in the same order, by the same tile arithmetic
// as im2col + sgemm (+ col2im) on the whole buffer, so the results are that algorithm's for any thread
// count (KernelTests' ImplicitConvolutionTests compare them bit for bit).

extension SwiftKernels {
    /// Floats of unfolded input a worker keeps in cache at once: the direct path's A block.
    private static var chunkFloats: Int { Direct.mc * 384 }

    /// Rows per unfolded chunk for a field of k floats: as many as fit, whole tiles when that is one or more.
    private static func chunkRows(field k: Int) -> Int {
        let rows = chunkFloats / k
        return rows >= Direct.mr ? rows - rows % Direct.mr : max(rows, 1)
    }

    /// Multiply-adds per worker below which a second worker costs more than it saves (as in sgemm).
    private static var parallelMinMACs: Int { 48 * 1024 }

    /// out (pixels, outChannels) = f(im2col(input) · weight + bias), weight (fieldSize, outChannels), bias
    /// (outChannels) or nil, f as biasActivationForward's: the bits of the product, then that pass
    /// (see ConvEpilogue.swift).
    public static func convolutionForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                          weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                          outChannels n: Int, window w: Window, activation kind: ActivationKind,
                                          alpha: Float) {
        let k = w.kernelH * w.kernelW * w.channels, m = w.batch * w.pixels
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            fillZeros(out, m * n)
            if let bias {
                biasActivationForward(out: out, input: out, bias: bias, rows: m, cols: n, kind: kind, alpha: alpha)
            } else {
                activationForward(out: out, input: out, count: m * n, kind: kind, alpha: alpha)
            }
            return
        }
        let workers = max(1, min(threads, m * n * k / parallelMinMACs))
        if Direct.takesEveryShape || Direct.handles(n: n, k: k) {
            forwardInPlace(out: out, input: input, weight: weight, n: n, k: k, window: w, workers: workers,
                           bias: bias, kind: kind, alpha: alpha)
        } else {
            let rows = chunkRows(field: k), tasks = min(workers, (m + rows - 1) / rows)
            let arena = arenaPool.take(floats: tasks * rows * k + ConvolutionEpilogue.scratchFloats)
            defer { arenaPool.give(arena) }
            let space = arena.base + ConvolutionEpilogue.scratchFloats
            parallelFor(workers: tasks, ForwardChunks(
                out: out, input: input, weight: weight, n: n, k: k, w: w, rows: rows, workers: tasks, space: space,
                epilogue: ConvolutionEpilogue(bias: bias, kind: kind, alpha: alpha, channels: n, scratch: arena.base)))
        }
    }

    /// Where the direct tiles read the images: in place when every window stays inside the image, else
    /// from copies padded with zeros to exactly the rows and columns the windows cover.
    struct ImageSource {
        let w: Window, padded: Bool, spanH: Int, spanW: Int
        /// Floats between rows of an image, and between images (a padded copy's, rounded to 16).
        let rowStride: Int, imageFloats: Int

        init(_ w: Window) {
            self.w = w
            spanH = (w.outH - 1) * w.strideH + w.kernelH
            spanW = (w.outW - 1) * w.strideW + w.kernelW
            padded = w.padTop > 0 || w.padLeft > 0 || spanH > w.height || spanW > w.width
            rowStride = (padded ? spanW : w.width) * w.channels
            imageFloats = padded ? (spanH * spanW * w.channels + 15) & ~15 : w.imageCount
        }

        /// Offset of field position p (in (ky, kx, c) order) from its window's first float.
        @inline(__always)
        func fieldOffset(_ p: Int) -> Int {
            let run = w.kernelW * w.channels
            return p / run * rowStride + p % run
        }

        /// Offset of output pixel (oy, ox)'s window from its image's first float.
        @inline(__always)
        func windowOffset(_ oy: Int, _ ox: Int) -> Int { oy * w.strideH * rowStride + ox * w.strideW * w.channels }

        /// Copies image b of `input` into the interior of `copy`, whose padding is zero.
        func pad(image b: Int, of input: UnsafePointer<Float>, into copy: UnsafeMutablePointer<Float>) {
            forInterior { copyFloats(copy + $0, input + b * w.imageCount + $1, $2) }
        }

        /// Copies the interior of a padded copy into `image`, and zeros where no window reaches.
        func unpad(_ copy: UnsafePointer<Float>, into image: UnsafeMutablePointer<Float>) {
            fillZeros(image, w.imageCount)
            forInterior { copyFloats(image + $1, copy + $0, $2) }
        }

        /// The runs of image floats a padded copy holds: body(offset in the copy, offset in the image, floats).
        @inline(__always)
        private func forInterior(_ body: (Int, Int, Int) -> Void) {
            let c = w.channels
            let x0 = max(0, -w.padLeft), x1 = min(w.width, spanW - w.padLeft)
            let y0 = max(0, -w.padTop), y1 = min(w.height, spanH - w.padTop)
            guard x0 < x1, y0 < y1 else { return }
            for y in y0..<y1 { body(((y + w.padTop) * spanW + x0 + w.padLeft) * c, (y * w.width + x0) * c, (x1 - x0) * c) }
        }

        /// Adds unfolded rows p0..<p1 of one image's pixels (`src` holds p0's first) into their windows of
        /// `target`, laid out as the tiles read the image (a padded copy when `padded`, so no window is
        /// clipped): pixels in order and each field in order, as col2im adds them.
        func addWindows(pixels p0: Int, _ p1: Int, from src: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>) {
            let run = w.kernelW * w.channels
            var oy = p0 / w.outW, ox = p0 % w.outW, src = src
            for _ in p0..<p1 {
                let window = target + windowOffset(oy, ox)
                for ky in 0..<w.kernelH { addVector(window + ky * rowStride, src + ky * run, count: run) }
                src += w.kernelH * run
                ox += 1
                if ox == w.outW { (ox, oy) = (0, oy + 1) }
            }
        }
    }

    /// The forward through the direct tile, reading the image in place.
    private static func forwardInPlace(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                       weight: UnsafePointer<Float>, n: Int, k: Int, window w: Window,
                                       workers: Int, bias: UnsafePointer<Float>?, kind: ActivationKind, alpha: Float) {
        let kc = blockDepth(k: k), nPadded = (n + Direct.nr - 1) / Direct.nr * Direct.nr
        let source = ImageSource(w)
        let rows = w.batch * w.outH
        let tasks = min(workers, rows)
        // Layout: the packed weight (each K block's `Direct.nr`-wide panels), the offset table, the epilogue's
        // scratch, one padded image per worker.
        let weightFloats = (k * nPadded + 15) & ~15, tableFloats = (k + 15) & ~15
        let epilogueFloats = ConvolutionEpilogue.scratchFloats
        let paddedFloats = source.padded ? source.imageFloats : 0
        let arena = arenaPool.take(floats: weightFloats + tableFloats + epilogueFloats + tasks * paddedFloats)
        defer { arenaPool.give(arena) }
        let packed = arena.base
        let epilogue = ConvolutionEpilogue(bias: bias, kind: kind, alpha: alpha, channels: n,
                                           scratch: packed + weightFloats + tableFloats)
        var pc = 0
        while pc < k {
            let depth = min(kc, k - pc)
            packPanelsDirectB(packed + pc * nPadded, b: weight, ldb: n, transB: false, p0: pc, kc: depth, j0: 0, nc: n)
            pc += depth
        }
        (packed + weightFloats).withMemoryRebound(to: Int32.self, capacity: k) { table in
            for p in 0..<k { table[p] = Int32(source.fieldOffset(p)) }
            parallelFor(workers: tasks, ForwardTiles(
                out: out, input: input, packed: packed, table: table, n: n, nPadded: nPadded, k: k, kc: kc,
                source: source, rows: rows, workers: tasks,
                paddedImages: packed + weightFloats + tableFloats + epilogueFloats,
                pixelLanes: pixelLanesApply(window: w, n: n, k: k, kc: kc), epilogue: epilogue))
        }
    }

    /// One worker's output rows (image, oy), each as tiles of `Direct.mr` pixels by `Direct.nr` filters.
    private struct ForwardTiles: ParallelWork {
        let out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>
        let packed: UnsafePointer<Float>, table: UnsafePointer<Int32>
        let n: Int, nPadded: Int, k: Int, kc: Int, source: ImageSource, rows: Int, workers: Int
        let paddedImages: UnsafeMutablePointer<Float>
        /// Whether rows take `pixelLanesRow` instead of product tiles.
        let pixelLanes: Bool
        /// Applied to each output row once it is complete.
        let epilogue: ConvolutionEpilogue?

        func run(task t: Int) {
            let w = source.w
            let lo = rows * t / workers, hi = rows * (t + 1) / workers
            let copy = paddedImages + t * source.imageFloats
            // The padding stays zero: each image overwrites the same interior.
            if source.padded { fillZeros(copy, source.imageFloats) }
            let pixelStep = w.strideW * w.channels, mr = Direct.mr, nr = Direct.nr
            var image = -1, base = input
            var r = lo
            while r < hi {
                let b = r / w.outH, oy = r % w.outH
                if b != image {
                    image = b
                    if source.padded { source.pad(image: b, of: input, into: copy) }
                    base = source.padded ? UnsafePointer(copy) : input + b * w.imageCount
                }
                let rowBase = base + source.windowOffset(oy, 0)
                let outRow = out + r * w.outW * n
                if pixelLanes {
                    let rowsDone: Int
                    if pixelLanePairs && r + 1 < hi && oy + 1 < w.outH {
                        pixelLanesRowPair(out: outRow, row: rowBase, next: source.windowOffset(1, 0), table: table,
                                          weights: packed, rsw: nr, k: k, n: n, outW: w.outW)
                        rowsDone = 2
                    } else {
                        pixelLanesRow(out: outRow, row: rowBase, table: table, weights: packed, rsw: nr, k: k, n: n,
                                      outW: w.outW)
                        rowsDone = 1
                    }
                    epilogue?.apply(outRow, pixels: rowsDone * w.outW)
                    r += rowsDone
                    continue
                }
                var pc = 0
                while pc < k {
                    let depth = min(kc, k - pc), beta: Float = pc == 0 ? 0 : 1
                    let walk = FieldOffsets(table: table + pc)
                    var jr = 0
                    while jr < n {
                        let cols = min(nr, n - jr), panel = packed + pc * nPadded + jr * depth
                        var ox = 0
                        // Greyscale rows of pixels: two tiles at once (FMA build: 12 accumulators fit its registers).
                        if cols <= Direct.halfNr && pixelStep == 1 && Direct.takesEveryShape {
                            while ox + 2 * mr <= w.outW {
                                directKernelHalfConsecutive(kc: depth, a: rowBase + ox, walk: walk, b: panel, rsb: nr,
                                                         c: outRow + ox * n + jr, ldc: n, cols: cols, alpha: 1,
                                                         beta: beta)
                                ox += 2 * mr
                            }
                        }
                        while ox < w.outW {
                            let tileRows = min(mr, w.outW - ox)
                            let a = TileRows(rowBase + ox * pixelStep, rsa: pixelStep, rows: tileRows)
                            directTile(kc: depth, a: a, walk: walk, b: panel, rsb: nr, c: outRow + ox * n + jr, ldc: n,
                                       rows: tileRows, cols: cols, alpha: 1, beta: beta)
                            ox += mr
                        }
                        jr += nr
                    }
                    pc += depth
                }
                epilogue?.apply(outRow, pixels: w.outW)
                r += 1
            }
        }
    }

    /// Chunks of pixels unfolded into a worker's scratch, then multiplied there on the worker's thread.
    private struct ForwardChunks: ParallelWork {
        let out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>
        let n: Int, k: Int, w: Window, rows: Int, workers: Int
        let space: UnsafeMutablePointer<Float>
        let epilogue: ConvolutionEpilogue?

        func run(task t: Int) {
            let m = w.batch * w.pixels, chunks = (m + rows - 1) / rows
            let col = space + t * rows * k
            for chunk in (chunks * t / workers)..<(chunks * (t + 1) / workers) {
                let r0 = chunk * rows, count = min(rows, m - r0)
                for r in r0..<(r0 + count) { w.unfold(row: r, columns: 0, k, from: input, to: col + (r - r0) * k) }
                sgemm(transA: false, transB: false, m: count, n: n, k: k, alpha: 1, a: col, lda: k, b: weight, ldb: n,
                      beta: 0, c: out + r0 * n, ldc: n, threads: 1)
                epilogue?.apply(out + r0 * n, pixels: count)
            }
        }
    }

    /// dweight (fieldSize, outChannels) = im2col(input)ᵀ · dout + beta·dweight.
    public static func convolutionBackwardWeights(dweight: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                                  input: UnsafePointer<Float>, outChannels n: Int, window w: Window,
                                                  beta: Float) {
        let k = w.kernelH * w.kernelW * w.channels, m = w.batch * w.pixels
        guard k > 0, n > 0 else { return }
        guard m > 0 else {
            sgemm(transA: true, transB: false, m: k, n: n, k: 0, alpha: 1, a: input, lda: k, b: dout, ldb: n,
                  beta: beta, c: dweight, ldc: n)
            return
        }
        let depth = blockDepth(k: m)
        if blockLanesWeightApplies(window: w, n: n, depth: depth) {
            blockLanesWeights(dweight: dweight, dout: dout, input: input, n: n, window: w, beta: beta, depth: depth)
            return
        }
        // (The in-place path addresses the images through Int32 offsets.)
        if (Direct.takesEveryShape || Direct.handles(n: n, k: m)) && w.batch * ImageSource(w).imageFloats <= Int(Int32.max) {
            weightsInPlace(dweight: dweight, dout: dout, input: input, n: n, k: k, window: w, beta: beta, depth: depth)
            return
        }
        // Field positions go to workers in groups of 8; a field of fewer than 16 (a greyscale 3x3) stays on one.
        let groups = (k + 7) / 8
        let workers = k < 16 ? 1 : max(1, min(threads, groups, m * n * k / parallelMinMACs))
        let width = max(1, min(k, chunkFloats / depth))
        let arena = arenaPool.take(floats: workers * width * depth)
        defer { arenaPool.give(arena) }
        parallelFor(workers: workers, WeightColumns(
            dweight: dweight, dout: dout, input: input, n: n, k: k, w: w, beta: beta, depth: depth, width: width,
            groups: groups, workers: workers, space: arena.base))
    }

    /// The weight gradient through the direct tile: its rows are field positions read in place from the
    /// images (padded copies of them all, where windows reach past the edges), its k the pixels of one K
    /// block of the whole product, walked through a table of every pixel's window offset; `dout` is read in
    /// place as the tile's B rows.
    private static func weightsInPlace(dweight: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                       input: UnsafePointer<Float>, n: Int, k: Int, window w: Window, beta: Float,
                                       depth: Int) {
        let source = ImageSource(w), m = w.batch * w.pixels
        let tiles = (k + Direct.mr - 1) / Direct.mr, nPadded = (n + Direct.nr - 1) / Direct.nr * Direct.nr
        let workers = max(1, min(threads, tiles, m * n * k / parallelMinMACs))
        // Layout: the padded images, the offset table, then per worker the last K block's dout in packed panels.
        let imagesFloats = source.padded ? w.batch * source.imageFloats : 0, tableFloats = (m + 15) & ~15
        let perWorker = depth * nPadded
        let arena = arenaPool.take(floats: imagesFloats + tableFloats + workers * perWorker)
        defer { arenaPool.give(arena) }
        (arena.base + imagesFloats).withMemoryRebound(to: Int32.self, capacity: m) { table in
            // Made by the same workers first: on one thread, the copies and the table of LeNet-5's first layer
            // took a tenth of its weight gradient's time.
            parallelFor(workers: workers, WeightSources(
                input: input, images: arena.base, table: table, source: source, workers: workers))
            parallelFor(workers: workers, WeightTiles(
                dweight: dweight, dout: dout, images: source.padded ? UnsafePointer(arena.base) : input,
                table: table, n: n, k: k, m: m, depth: depth, beta: beta, source: source, tiles: tiles,
                workers: workers, space: arena.base + imagesFloats + tableFloats, perWorker: perWorker))
        }
    }

    /// One worker's images for `weightsInPlace`: their zero-padded copies (when the layer pads) and their
    /// pixels' entries of the window offset table.
    private struct WeightSources: ParallelWork {
        let input: UnsafePointer<Float>, images: UnsafeMutablePointer<Float>, table: UnsafeMutablePointer<Int32>
        let source: ImageSource, workers: Int

        func run(task t: Int) {
            let w = source.w
            var r = w.batch * t / workers * w.pixels
            for b in (w.batch * t / workers)..<(w.batch * (t + 1) / workers) {
                if source.padded {
                    let copy = images + b * source.imageFloats
                    fillZeros(copy, source.imageFloats)
                    source.pad(image: b, of: input, into: copy)
                }
                for oy in 0..<w.outH {
                    for ox in 0..<w.outW {
                        table[r] = Int32(b * source.imageFloats + source.windowOffset(oy, ox))
                        r += 1
                    }
                }
            }
        }
    }

    /// One worker's tiles of field positions, over every K block of pixels in order.
    private struct WeightTiles: ParallelWork {
        let dweight: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, images: UnsafePointer<Float>
        let table: UnsafePointer<Int32>
        let n: Int, k: Int, m: Int, depth: Int, beta: Float, source: ImageSource
        let tiles: Int, workers: Int
        let space: UnsafeMutablePointer<Float>, perWorker: Int

        func run(task t: Int) {
            let mr = Direct.mr, nr = Direct.nr
            let panels = space + t * perWorker
            var r0 = 0
            while r0 < m {
                let count = min(depth, m - r0), blockBeta: Float = r0 == 0 ? beta : 1
                // The tile loads whole vectors of a row of dout: past the last row's end unless the filters
                // fill them, so the last block reads a packed copy then.
                let packed = r0 + count == m && n % Direct.halfNr != 0
                if packed { packPanelsDirectB(panels, b: dout, ldb: n, transB: false, p0: r0, kc: count, j0: 0, nc: n) }
                let walk = FieldOffsets(table: table + r0)
                for tile in (tiles * t / workers)..<(tiles * (t + 1) / workers) {
                    let i0 = tile * mr, rows = min(mr, k - i0)
                    let a = TileRows(rows: rows) { images + source.fieldOffset(i0 + $0) }
                    var jr = 0
                    while jr < n {
                        let cols = min(nr, n - jr), c = dweight + i0 * n + jr
                        let panel = packed ? UnsafePointer(panels + jr * count) : dout + r0 * n + jr
                        directTile(kc: count, a: a, walk: walk, b: panel, rsb: packed ? nr : n, c: c, ldc: n,
                                   rows: rows, cols: cols, alpha: 1, beta: blockBeta)
                        jr += nr
                    }
                }
                r0 += count
            }
        }
    }

    /// One worker's field positions: for each K block in order, its pixels unfolded over those
    /// positions and their product added, as that K block of the whole product would be.
    private struct WeightColumns: ParallelWork {
        let dweight: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, input: UnsafePointer<Float>
        let n: Int, k: Int, w: Window, beta: Float, depth: Int, width: Int, groups: Int, workers: Int
        let space: UnsafeMutablePointer<Float>

        func run(task t: Int) {
            let m = w.batch * w.pixels, col = space + t * width * depth
            let c1 = min(k, groups * (t + 1) / workers * 8)
            var c = groups * t / workers * 8
            while c < c1 {
                let cols = min(width, c1 - c)
                var r0 = 0
                while r0 < m {
                    let count = min(depth, m - r0)
                    for r in r0..<(r0 + count) {
                        w.unfold(row: r, columns: c, c + cols, from: input, to: col + (r - r0) * cols)
                    }
                    sgemm(transA: true, transB: false, m: cols, n: n, k: count, alpha: 1, a: col, lda: cols,
                          b: dout + r0 * n, ldb: n, beta: r0 == 0 ? beta : 1, c: dweight + c * n, ldc: n, threads: 1)
                    r0 += count
                }
                c += cols
            }
        }
    }

    /// dinput = col2im(dout · weightᵀ), overwritten.
    public static func convolutionBackwardInputs(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                                 weight: UnsafePointer<Float>, outChannels n: Int, window w: Window) {
        let k = w.kernelH * w.kernelW * w.channels
        guard w.batch > 0 else { return }
        guard k > 0, n > 0, w.pixels > 0 else {
            fillZeros(dinput, w.batch * w.imageCount)
            return
        }
        let rows = chunkRows(field: k), source = ImageSource(w)
        let path: InputPath = imageRowLanesApply(window: w, n: n) ? .imageRowLanes
            : narrowInputApplies(window: w, n: n) ? .narrow : .chunks
        let workers = max(1, min(threads, w.batch, w.batch * w.pixels * n * k / parallelMinMACs))
        // Per worker: its path's scratch (a chunk's unfolded gradients for the product; the transposed weights
        // and a few pixels' unfolded gradients for the narrow path), then, when windows reach past the image,
        // a padded gradient image (so no window is clipped), whose interior is copied out.
        let scratchFloats: Int
        switch path {
        case .imageRowLanes: scratchFloats = (imageRowLanesScratch(window: w, n: n) + 15) & ~15
        case .narrow: scratchFloats = (narrowInputScratchFloats(field: k, n: n) + 15) & ~15
        case .chunks: scratchFloats = (rows * k + 15) & ~15
        }
        let paddedFloats = source.padded ? source.imageFloats : 0
        let arena = arenaPool.take(floats: workers * (scratchFloats + paddedFloats))
        defer { arenaPool.give(arena) }
        parallelFor(workers: workers, InputImages(
            dinput: dinput, dout: dout, weight: weight, n: n, k: k, source: source, rows: rows, workers: workers,
            space: arena.base, scratchFloats: scratchFloats,
            workerFloats: scratchFloats + paddedFloats, path: path))
    }

    /// How `convolutionBackwardInputs` makes an image's gradient.
    private enum InputPath {
        /// `imageRowLanesImage`: greyscale layers with up to 8 filters.
        case imageRowLanes
        /// `narrowInputImage`.
        case narrow
        /// Chunks of pixels: their unfolded gradients by the product, then added into their windows.
        case chunks
    }

    /// One worker's images, each summed by this worker alone, a chunk of its pixels at a time.
    private struct InputImages: ParallelWork {
        let dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, weight: UnsafePointer<Float>
        let n: Int, k: Int, source: ImageSource, rows: Int, workers: Int
        let space: UnsafeMutablePointer<Float>, scratchFloats: Int, workerFloats: Int
        let path: InputPath

        func run(task t: Int) {
            let w = source.w
            let dcol = space + t * workerFloats, padded = dcol + scratchFloats
            // The narrow path's transposed weights, each worker's own: read by both workers from one copy,
            // the 2-thread input gradient of LeNet-5's second layer ran at 1.1-1.5x the 1-thread speed, not 2x.
            let narrowWeights = UnsafePointer(dcol), unfolded = dcol + narrowInputWeightFloats(field: k, n: n)
            if path == .narrow { narrowInputWeights(dcol, weight: weight, k: k, n: n) }
            for image in (w.batch * t / workers)..<(w.batch * (t + 1) / workers) {
                let out = dinput + image * w.imageCount, first = image * w.pixels
                let target = source.padded ? padded : out
                fillZeros(target, source.padded ? source.imageFloats : w.imageCount)
                switch path {
                case .imageRowLanes:
                    imageRowLanesImage(target: target, rowStride: source.rowStride, dout: dout + first * n,
                                       weight: weight, n: n, window: w, scratch: dcol)
                case .narrow:
                    narrowInputImage(target: target, dout: dout + first * n, transposed: narrowWeights, n: n, k: k,
                                     source: source, scratch: unfolded)
                case .chunks:
                    var p0 = 0
                    while p0 < w.pixels {
                        let count = min(rows, w.pixels - p0)
                        sgemm(transA: false, transB: true, m: count, n: k, k: n, alpha: 1,
                              a: dout + (first + p0) * n, lda: n, b: weight, ldb: n, beta: 0, c: dcol, ldc: k,
                              threads: 1)
                        source.addWindows(pixels: p0, p0 + count, from: dcol, into: target)
                        p0 += count
                    }
                }
                if source.padded { source.unpad(padded, into: out) }
            }
        }
    }
}

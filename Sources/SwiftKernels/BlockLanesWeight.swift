// The weight gradient of greyscale convolutions that keep the image's size (stride 1, padding "same") with
// at most 8 filters (LeNet-5's first layer: 6 filters of 5x5), with the product's K blocks in the vector
// lanes: the Swift counterpart of CKernels/conv_block_lanes_weight.c, whose header explains the layout. Lane
// l of an accumulator is one element's chain over the pixels of a group's block l, so every lane works,
// where `weightsInPlace`'s tile fills 6 of its 32 columns with the filters.
//
// Bits: each lane's chains run over its block's pixels in order from zero, with the padding's zeros, as the
// direct tile accumulates a K block (`multiplyAdd`: fused, in the FMA builds this path runs in), and the
// blocks' sums are stored into dweight in block order as the tile stores them (acc + beta·c for the first,
// acc + c after); so the results equal `sgemm` on the unfolded input, for any thread count. (A short last
// block runs on over zeros past the batch's end, which leaves its sums as they are: see the C file.)

#if DENDRITE_AVX512
/// A group's `TileVector.scalarCount` lanes as rows of vectors, for the transposes.
private typealias LaneRows = InlineArray<16, TileVector>
/// Two lane vectors side by side.
private typealias LanePair = SIMD32<Float>
/// A lane vector's bits, for masks.
private typealias LaneBits = SIMD16<UInt32>
#else
private typealias LaneRows = InlineArray<8, TileVector>
private typealias LanePair = SIMD16<Float>
private typealias LaneBits = SIMD8<UInt32>
#endif
private typealias LaneSources = InlineArray<16, UnsafePointer<Float>>

/// The lanes of a group: blocks of the weight gradient's product.
private var lanes: Int { TileVector.scalarCount }
private var vectorBytes: Int { MemoryLayout<TileVector>.stride }

private func roundUp(_ x: Int, _ to: Int) -> Int { (x + to - 1) / to * to }

/// Where a window reads and how a worker's memory is laid out (see conv_block_lanes_weight.c's geometry).
private struct BlockLanesGeometry {
    let width, height, kernelH, kernelW, padTop, padLeft, n, field, pixels, step, blocks: Int
    /// Blocks whose indices are congruent modulo this start in the same image column.
    let period: Int
    /// Output rows a block reaches at most; vectors per transposed input row.
    let rows, line: Int
    /// Input floats at the end of the batch from which a whole vector cannot be read in place.
    let tail: Int
    /// A worker's memory, in floats from its start: transposed input rows, masked rows, transposed dout,
    /// accumulators, zeros, the short block's dout, the input's tail.
    let atMasked, atDout, atAcc, atZeros, atShort, atTail, workFloats: Int

    init(window w: SwiftKernels.Window, n: Int, step: Int) {
        (width, height, kernelH, kernelW) = (w.width, w.height, w.kernelH, w.kernelW)
        (padTop, padLeft, self.n, field) = (w.padTop, w.padLeft, n, w.kernelH * w.kernelW)
        pixels = w.batch * w.height * w.width
        self.step = step
        blocks = (pixels + step - 1) / step
        var (a, b) = (step, width)
        while b != 0 { (a, b) = (b, a % b) }
        period = width / a
        rows = (width - 1 + step - 1) / width + 1
        line = max(width + kernelW - 1, padLeft + roundUp(width, lanes))
        tail = min(pixels, roundUp(width, lanes) + width)
        let zeros = roundUp(max(step * n, width), lanes) + lanes
        atMasked = (rows + kernelH - 1) * line * lanes
        atDout = atMasked + kernelH * line * lanes
        atAcc = atDout + roundUp(step * n, lanes) * lanes
        atZeros = atAcc + field * n * lanes
        atShort = atZeros + zeros
        atTail = atShort + zeros
        workFloats = atTail + tail + lanes
    }

    /// Blocks of residue class r.
    func classCount(_ r: Int) -> Int { r < blocks ? (blocks - 1 - r) / period + 1 : 0 }
    /// Groups of up to `lanes` blocks of one class.
    var groupCount: Int { (0..<period).reduce(0) { $0 + (classCount($1) + lanes - 1) / lanes } }
}

/// Transposes the lanes: lane j of r[i] becomes lane i of r[j]. Each round splits rows 2i and 2i + 1 into
/// their even and odd lanes (rows i and i + lanes/2), which rotates the bits row:column of each element right
/// by one; log2(lanes) rounds swap row and column.
@inline(__always)
private func transposeLanes(_ r: inout LaneRows) {
    var size = 1
    while size < lanes {
        var t = r
        for i in 0..<(lanes / 2) {
            let pair = LanePair(lowHalf: r[2 * i], highHalf: r[2 * i + 1])
            t[i] = pair.evenHalf
            t[i + lanes / 2] = pair.oddHalf
        }
        r = t
        size *= 2
    }
}

/// dst vector i, lane l = src[l][at + i] for i < count: whole transposes while a vector from src[l] + at + i
/// stays below `whole`, lane by lane after that.
@inline(__always)
private func transposeIntoLanes(_ dst: UnsafeMutableRawPointer, _ src: LaneSources, at: Int, count: Int, whole: Int) {
    var i = 0
    while i + lanes <= count && at + i + lanes <= whole {
        var r = LaneRows(repeating: TileVector())
        for l in 0..<lanes { r[l] = UnsafeRawPointer(src[l] + at + i).loadUnaligned(as: TileVector.self) }
        transposeLanes(&r)
        for j in 0..<lanes { dst.storeBytes(of: r[j], toByteOffset: (i + j) * vectorBytes, as: TileVector.self) }
        i += lanes
    }
    while i < count {
        var v = TileVector()
        for l in 0..<lanes { v[l] = src[l][at + i] }
        dst.storeBytes(of: v, toByteOffset: i * vectorBytes, as: TileVector.self)
        i += 1
    }
}

/// One output row's pixels for one kernel row and `filters` filters: acc[kx·n + f] += s[i + kx] · d[i·n + f]
/// for each pixel i < count, the accumulators held in registers across the row (kernelW and filters are
/// constants at each call).
@inline(__always)
private func rowPass(_ acc: UnsafeMutableRawPointer, n: Int, s: UnsafeRawPointer, d: UnsafeRawPointer, count: Int,
                     kernelW: Int, filters: Int) {
    var a = InlineArray<20, TileVector>(repeating: TileVector())
    for kx in 0..<kernelW {
        for f in 0..<filters { a[kx * 4 + f] = acc.loadUnaligned(fromByteOffset: (kx * n + f) * vectorBytes, as: TileVector.self) }
    }
    var s = s, d = d
    for _ in 0..<count {
        for f in 0..<filters {
            let dv = d.loadUnaligned(fromByteOffset: f * vectorBytes, as: TileVector.self)
            for kx in 0..<kernelW {
                a[kx * 4 + f].multiplyAdd(s.loadUnaligned(fromByteOffset: kx * vectorBytes, as: TileVector.self), dv)
            }
        }
        s += vectorBytes
        d += n * vectorBytes
    }
    for kx in 0..<kernelW {
        for f in 0..<filters { acc.storeBytes(of: a[kx * 4 + f], toByteOffset: (kx * n + f) * vectorBytes, as: TileVector.self) }
    }
}

/// Filters per pass over a row: kernelW × this many accumulators beside the dout and input vectors fit the
/// registers (32 in the AVX-512 build, 16 in the AVX2 one).
private var passFilters: Int { lanes == 16 ? 4 : 2 }

/// One worker's groups of blocks: their sums into their partials.
private struct BlockLanesGroups: ParallelWork {
    let g: BlockLanesGeometry
    let dout: UnsafePointer<Float>, input: UnsafePointer<Float>
    let partials: UnsafeMutablePointer<Float>, space: UnsafeMutablePointer<Float>
    let groups: Int, workers: Int

    func run(task t: Int) {
        let work = space + t * g.workFloats
        (work + g.atZeros).initialize(repeating: 0, count: g.atShort - g.atZeros)
        // The batch's last input floats, then zeros: rows there are read a vector at a time from this copy.
        (work + g.atTail).update(from: input + (g.pixels - g.tail), count: g.tail)
        (work + g.atTail + g.tail).initialize(repeating: 0, count: lanes)
        let g0 = groups * t / workers, g1 = groups * (t + 1) / workers
        var index = 0
        for r in 0..<g.period where index < g1 {
            let count = g.classCount(r)
            var j = 0
            while j * lanes < count {
                if index >= g0 && index < g1 { groupSums(work: work, first: r + j * lanes * g.period, count: min(lanes, count - j * lanes)) }
                j += 1
                index += 1
            }
        }
    }

    /// The sums of the group of `count` blocks first, first + period, … into their partials.
    private func groupSums(work: UnsafeMutablePointer<Float>, first: Int, count: Int) {
        let (width, n, step, line) = (g.width, g.n, g.step, g.line)
        let flatRows = g.pixels / width
        let rowsBase = UnsafeMutableRawPointer(work), masked = UnsafeMutableRawPointer(work + g.atMasked)
        let transposed = UnsafeMutableRawPointer(work + g.atDout), acc = UnsafeMutableRawPointer(work + g.atAcc)
        let zeros = UnsafePointer(work + g.atZeros), shortDout = work + g.atShort, tail = UnsafePointer(work + g.atTail)

        var doutOf = LaneSources(repeating: zeros), rowOf = LaneSources(repeating: zeros)
        var flat0 = InlineArray<16, Int>(repeating: -1)
        for l in 0..<count {
            let q0 = (first + l * g.period) * step, length = min(step, g.pixels - q0)
            flat0[l] = q0 / width
            if length < step {
                // The last block: its dout ends with the array, so it is read from a zero-padded copy.
                shortDout.update(from: dout + q0 * n, count: length * n)
                (shortDout + length * n).initialize(repeating: 0, count: (step - length) * n)
                doutOf[l] = UnsafePointer(shortDout)
            } else {
                doutOf[l] = dout + q0 * n
            }
        }
        let x0 = first * step % width, rows = (x0 + step - 1) / width + 1

        // Each lane's input rows flat0 - padTop …, padded: vector j·line + column. Whole vectors are read, the
        // last running on into the next row (or the tail's zeros); columns past the row are zeroed after.
        for j in 0..<(rows + g.kernelH - 1) {
            for l in 0..<lanes {
                let row = flat0[l] < 0 ? -1 : flat0[l] + j - g.padTop, at = row * width
                rowOf[l] = row < 0 || row >= flatRows ? zeros
                    : at + g.tail < g.pixels ? input + at : tail + (at - (g.pixels - g.tail))
            }
            let base = rowsBase + j * line * vectorBytes
            for c in 0..<g.padLeft { base.storeBytes(of: TileVector(), toByteOffset: c * vectorBytes, as: TileVector.self) }
            transposeIntoLanes(base + g.padLeft * vectorBytes, rowOf, at: 0, count: roundUp(width, lanes),
                               whole: roundUp(width, lanes))
            for c in (g.padLeft + width)..<line { base.storeBytes(of: TileVector(), toByteOffset: c * vectorBytes, as: TileVector.self) }
        }
        for e in 0..<(g.field * n) { acc.storeBytes(of: TileVector(), toByteOffset: e * vectorBytes, as: TileVector.self) }

        let filterGroups = (n + passFilters - 1) / passFilters
        var done = 0  // dout floats of the block transposed so far
        for r in 0..<rows {
            let pBegin = r == 0 ? 0 : r * width - x0, pEnd = min(step, (r + 1) * width - x0)
            let xBegin = r == 0 ? x0 : 0, pixelCount = pEnd - pBegin
            if done < pEnd * n {
                let upto = min(roundUp(pEnd * n, lanes), step * n)
                transposeIntoLanes(transposed + done * vectorBytes, doutOf, at: done, count: upto - done, whole: step * n)
                done = upto
            }
            // The rows each kernel row reads, zero in the lanes whose image they are not in.
            var rowsOf = InlineArray<7, UnsafeRawPointer>(repeating: UnsafeRawPointer(rowsBase))
            let columns = pixelCount + g.kernelW - 1
            for ky in 0..<g.kernelH {
                let source = UnsafeRawPointer(rowsBase + ((r + ky) * line + xBegin) * vectorBytes)
                var inside = LaneBits(), allInside = true
                for l in 0..<lanes {
                    let y = flat0[l] < 0 ? 0 : (flat0[l] + r) % g.height, t = y + ky - g.padTop
                    let isInside = t >= 0 && t < g.height
                    inside[l] = isInside ? ~0 : 0
                    allInside = allInside && isInside
                }
                if allInside {
                    rowsOf[ky] = source
                    continue
                }
                let target = masked + ky * line * vectorBytes
                for c in 0..<columns {
                    let v = unsafeBitCast(source.loadUnaligned(fromByteOffset: c * vectorBytes, as: TileVector.self), to: LaneBits.self)
                    target.storeBytes(of: unsafeBitCast(v & inside, to: TileVector.self), toByteOffset: c * vectorBytes, as: TileVector.self)
                }
                rowsOf[ky] = UnsafeRawPointer(target)
            }
            for ky in 0..<g.kernelH {
                for group in 0..<filterGroups {
                    let f0 = group * n / filterGroups, filters = (group + 1) * n / filterGroups - f0
                    let at = acc + (ky * g.kernelW * n + f0) * vectorBytes
                    let d = UnsafeRawPointer(transposed + (pBegin * n + f0) * vectorBytes)
                    pass(at, s: rowsOf[ky], d: d, count: pixelCount, filters: filters)
                }
            }
        }

        // Lane l of the accumulators is block first + l·period's sums: out through the same transposes.
        let elements = g.field * n, whole = elements / lanes * lanes
        var e0 = 0
        while e0 < whole {
            var v = LaneRows(repeating: TileVector())
            for i in 0..<lanes { v[i] = acc.loadUnaligned(fromByteOffset: (e0 + i) * vectorBytes, as: TileVector.self) }
            transposeLanes(&v)
            for l in 0..<count {
                UnsafeMutableRawPointer(partials + (first + l * g.period) * elements + e0).storeBytes(of: v[l], as: TileVector.self)
            }
            e0 += lanes
        }
        for e in whole..<elements {
            let v = acc.loadUnaligned(fromByteOffset: e * vectorBytes, as: TileVector.self)
            for l in 0..<count { partials[(first + l * g.period) * elements + e] = v[l] }
        }
    }

    /// `rowPass` with the kernel width and filter count as constants.
    @inline(__always)
    private func pass(_ acc: UnsafeMutableRawPointer, s: UnsafeRawPointer, d: UnsafeRawPointer, count: Int, filters: Int) {
        let n = g.n
        @inline(__always) func run(_ kernelW: Int, _ filters: Int) {
            rowPass(acc, n: n, s: s, d: d, count: count, kernelW: kernelW, filters: filters)
        }
        switch (g.kernelW == 5, filters) {
        case (true, 4): run(5, 4)
        case (true, 3): run(5, 3)
        case (true, 2): run(5, 2)
        case (true, _): run(5, 1)
        case (false, 4): run(3, 4)
        case (false, 3): run(3, 3)
        case (false, 2): run(3, 2)
        case (false, _): run(3, 1)
        }
    }
}

extension SwiftKernels {
    /// Whether `convolutionBackwardWeights` takes this path: the FMA builds (whose tile's chains are fused
    /// multiply-adds from zero), one input channel, stride 1, an output the input's size, at most 8 filters
    /// of width 3 or 5, and K blocks (`depth` pixels each) that fill at least half the lanes of their groups.
    static func blockLanesWeightApplies(window w: Window, n: Int, depth: Int) -> Bool {
        guard Direct.takesEveryShape, w.channels == 1, w.strideH == 1, w.strideW == 1, w.outH == w.height,
              w.outW == w.width, w.batch > 0, w.width > 0, w.height > 0, (1...8).contains(n),
              w.kernelW == 3 || w.kernelW == 5, (1...7).contains(w.kernelH), (0..<w.kernelH).contains(w.padTop),
              (0..<w.kernelW).contains(w.padLeft), depth >= 1 else { return false }
        let g = BlockLanesGeometry(window: w, n: n, step: depth)
        return 2 * g.blocks >= g.groupCount * lanes
    }

    /// dweight = beta·dweight + im2col(input)ᵀ · dout through the block lanes, K blocks of `depth` pixels.
    static func blockLanesWeights(dweight: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                  input: UnsafePointer<Float>, n: Int, window w: Window, beta: Float, depth: Int) {
        let g = BlockLanesGeometry(window: w, n: n, step: depth)
        let groups = g.groupCount, workers = max(1, min(threads, groups)), elements = g.field * n
        let partialFloats = roundUp(g.blocks * elements, 16)
        let arena = arenaPool.take(floats: partialFloats + workers * g.workFloats)
        defer { arenaPool.give(arena) }
        parallelFor(workers: workers, BlockLanesGroups(
            g: g, dout: dout, input: input, partials: arena.base, space: arena.base + partialFloats, groups: groups,
            workers: workers))
        // The blocks in order, as the tile stores them: alpha·acc + beta·c for the first (alpha·acc alone when
        // beta is 0), then acc + c; each run of elements summed in a register over all the blocks.
        var e = 0
        while e < elements {
            let count = min(Vec.scalarCount, elements - e)
            @inline(__always) func sums(_ b: Int) -> Vec { loadPartial(arena.base + b * elements + e, count) }
            var c = beta == 0 ? sums(0) : sums(0) + beta * loadPartial(dweight + e, count)
            for b in 1..<g.blocks { c = sums(b) + c }
            storePartial(dweight + e, c, count)
            e += count
        }
    }
}

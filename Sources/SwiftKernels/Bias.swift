// Bias add and its gradient on (rows, cols) buffers.
//
// biasBackward sums each column over rows in ascending row order, in Float, one worker per block
// of columns (never splitting rows), so a column's sum is the same for any thread count.

extension SwiftKernels {
    /// Elements per worker below which threading costs more than it saves.
    private static var biasGrain: Int { 1 << 16 }

    /// out[r,c] = input[r,c] + bias[c]; out may equal input.
    public static func biasAdd(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                               rows: Int, cols: Int) {
        guard cols > 0 else { return }
        withWholeVectorRows(rows: rows, cols: cols, bias: bias) { groups, groupCols, groupBias in
            parallelRows(rows: groups, cols: groupCols, grain: biasGrain,
                         BiasAdd(out: out, input: input, bias: groupBias, cols: groupCols))
        } tail: { first in
            for r in first..<rows { BiasAdd(out: out, input: input, bias: bias, cols: cols).run(row: r) }
        }
    }

    /// Runs a row loop over rows of fewer than 8 columns (a greyscale convolution's 6 filters) as groups of
    /// rows that fill whole vectors, against the bias repeated once per row of a group: `body(groups,
    /// groupColumns, groupBias)`, then `tail(firstRow)` for the rows left over. Lanes are independent, so
    /// every element gets the arithmetic of the row-by-row loop, which wider rows keep (`body(rows, cols,
    /// bias)`, no tail).
    @inline(__always)
    static func withWholeVectorRows(rows: Int, cols: Int, bias: UnsafePointer<Float>,
                                    _ body: (Int, Int, UnsafePointer<Float>) -> Void, tail: (Int) -> Void) {
        guard cols < 8 else { return body(rows, cols, bias) }
        var common = cols, b = 8
        while b != 0 { (common, b) = (b, common % b) }
        let group = 8 / common
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 8 * 7) { pattern in
            for i in 0..<(group * cols) { pattern[i] = bias[i % cols] }
            body(rows / group, group * cols, UnsafePointer(pattern.baseAddress!))
        }
        tail(rows / group * group)
    }

    private struct BiasAdd: RowWork {
        let out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, bias: UnsafePointer<Float>, cols: Int

        func run(row r: Int) {
            let x = input + r * cols, y = out + r * cols
            var c = 0
            while c + 8 <= cols {
                store(y + c, load(x + c) + load(bias + c))
                c += 8
            }
            while c < cols {
                y[c] = x[c] + bias[c]
                c += 1
            }
        }
    }

    /// dbias[c] = Σ_r dout[r,c], plus the previous dbias[c] when accumulate (added after the sum).
    public static func biasBackward(dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, rows: Int, cols: Int,
                                    accumulate: Bool) {
        guard cols > 0 else { return }
        // Work is split in blocks of 32 columns, the width of the 4-vector inner loop.
        let blocks = (cols + 31) / 32
        let workers = min(blocks, workerCount(count: rows * cols, grain: biasGrain))
        parallelFor(workers: workers, BiasBackward(dbias: dbias, dout: dout, rows: rows, cols: cols,
                                                  accumulate: accumulate, blocks: blocks, workers: workers))
    }

    private struct BiasBackward: ParallelWork {
        let dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, rows: Int, cols: Int, accumulate: Bool
        let blocks: Int, workers: Int

        func run(task w: Int) {
            let c0 = blocks * w / workers * 32, c1 = min(cols, blocks * (w + 1) / workers * 32)
            var c = c0
            // Four independent column vectors per pass hide the add latency.
            while c + 32 <= c1 {
                var s0 = Vec(), s1 = Vec(), s2 = Vec(), s3 = Vec()
                for r in 0..<rows {
                    let p = dout + r * cols + c
                    s0 += load(p); s1 += load(p + 8); s2 += load(p + 16); s3 += load(p + 24)
                }
                finish(dbias + c, s0, accumulate); finish(dbias + c + 8, s1, accumulate)
                finish(dbias + c + 16, s2, accumulate); finish(dbias + c + 24, s3, accumulate)
                c += 32
            }
            while c + 8 <= c1 {
                var s = Vec()
                for r in 0..<rows { s += load(dout + r * cols + c) }
                finish(dbias + c, s, accumulate)
                c += 8
            }
            if c < c1 {
                // The last columns (all of them in a layer of fewer than 8) in the lanes of one vector: each
                // lane is still its column's sum in row order, as the scalar loop this replaced, which waited on
                // each add's latency once per column (6 times over a convolution's 100,352 rows in LeNet-5).
                let rest = c1 - c
                var s = Vec()
                for r in 0..<rows { s += loadPartial(dout + r * cols + c, rest) }
                storePartial(dbias + c, accumulate ? loadPartial(dbias + c, rest) + s : s, rest)
            }
        }
    }

    @inline(__always)
    private static func finish(_ d: UnsafeMutablePointer<Float>, _ s: Vec, _ accumulate: Bool) {
        store(d, accumulate ? load(d) + s : s)
    }
}

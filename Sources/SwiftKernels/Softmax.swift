// Row-wise softmax family on (rows, cols) buffers: softmax, log-softmax, their backward passes,
// fused softmax cross-entropy, and argmax.
//
// Numerics: every exponential is of x − max(row), so logits of any magnitude stay finite; the
// cross-entropy loss comes from the log-sum-exp, never from log(softmax). Each row is reduced by
// one worker with a lane order fixed by cols, so results do not depend on the thread count.
// Outputs may alias inputs: a row is fully read (reductions) before it is written, and the
// writing pass reads each element before overwriting it.

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension SwiftKernels {
    /// Elements per worker below which threading costs more than it saves.
    private static var softmaxGrain: Int { 1 << 14 }

    /// Row-wise softmax: out[r,c] = exp(x[r,c] − max_r) / Σ_c exp(x[r,c] − max_r). out may equal input.
    public static func softmaxForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                      rows: Int, cols: Int) {
        guard cols > 0 else { return }
        parallelRows(rows: rows, cols: cols, grain: softmaxGrain, SoftmaxForward(out: out, input: input, cols: cols))
    }

    private struct SoftmaxForward: RowWork {
        let out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, cols: Int

        func run(row r: Int) {
            let x = input + r * cols, y = out + r * cols
            let m = Vec(repeating: rowMax(x, cols))
            let inverse = Vec(repeating: 1 / rowExpSum(y, x, cols, max: m))
            mapRow(cols) { i, n in storeLanes(y + i, loadLanes(y + i, n) * inverse, n) }
        }
    }

    /// Row-wise log-softmax: out[r,c] = (x[r,c] − max_r) − log Σ_c exp(x[r,c] − max_r).
    /// out may equal input.
    public static func logSoftmaxForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                         rows: Int, cols: Int) {
        guard cols > 0 else { return }
        parallelRows(rows: rows, cols: cols, grain: softmaxGrain, LogSoftmaxForward(out: out, input: input, cols: cols))
    }

    private struct LogSoftmaxForward: RowWork {
        let out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, cols: Int

        func run(row r: Int) {
            let x = input + r * cols, y = out + r * cols
            let m = Vec(repeating: rowMax(x, cols))
            let logSum = Vec(repeating: Float(log(Double(rowSum(cols) { i, n in vexp(loadLanes(x + i, n) - m) }))))
            mapRow(cols) { i, n in storeLanes(y + i, (loadLanes(x + i, n) - m) - logSum, n) }
        }
    }

    /// dinput = output · (doutput − Σ_c doutput·output) per row, from the softmax output.
    /// dinput may equal doutput.
    public static func softmaxBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                                       output: UnsafePointer<Float>, rows: Int, cols: Int) {
        guard cols > 0 else { return }
        parallelRows(rows: rows, cols: cols, grain: softmaxGrain,
                     SoftmaxBackward(dinput: dinput, doutput: doutput, output: output, cols: cols))
    }

    private struct SoftmaxBackward: RowWork {
        let dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>, output: UnsafePointer<Float>, cols: Int

        func run(row r: Int) {
            let dy = doutput + r * cols, y = output + r * cols, dx = dinput + r * cols
            let dot = Vec(repeating: rowSum(cols) { i, n in loadLanes(dy + i, n) * loadLanes(y + i, n) })
            mapRow(cols) { i, n in storeLanes(dx + i, loadLanes(y + i, n) * (loadLanes(dy + i, n) - dot), n) }
        }
    }

    /// dinput = doutput − exp(output) · Σ_c doutput per row, from the log-softmax output.
    /// dinput may equal doutput.
    public static func logSoftmaxBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                                          output: UnsafePointer<Float>, rows: Int, cols: Int) {
        guard cols > 0 else { return }
        parallelRows(rows: rows, cols: cols, grain: softmaxGrain,
                     LogSoftmaxBackward(dinput: dinput, doutput: doutput, output: output, cols: cols))
    }

    private struct LogSoftmaxBackward: RowWork {
        let dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>, output: UnsafePointer<Float>, cols: Int

        func run(row r: Int) {
            let dy = doutput + r * cols, y = output + r * cols, dx = dinput + r * cols
            let total = Vec(repeating: rowSum(cols) { i, n in loadLanes(dy + i, n) })
            mapRow(cols) { i, n in storeLanes(dx + i, loadLanes(dy + i, n) - vexp(loadLanes(y + i, n)) * total, n) }
        }
    }

    /// Fused softmax cross-entropy over a batch. labels[r] in [0, cols). Writes
    /// losses[r] = logsumexp(x[r,:]) − x[r, label] and, when dlogits is non-nil,
    /// dlogits[r,c] = (softmax[r,c] − onehot[r,c]) · gradScale (dlogits may equal logits).
    /// Returns the mean loss, accumulated in Double in row order.
    public static func softmaxCrossEntropy(losses: UnsafeMutablePointer<Float>, dlogits: UnsafeMutablePointer<Float>?,
                                           logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                                           rows: Int, cols: Int, gradScale: Float) -> Double {
        guard rows > 0, cols > 0 else { return 0 }
        parallelRows(rows: rows, cols: cols, grain: softmaxGrain,
                     SoftmaxCrossEntropy(losses: losses, dlogits: dlogits, logits: logits, labels: labels, cols: cols,
                                         gradScale: gradScale))
        var total = 0.0
        for r in 0..<rows { total += Double(losses[r]) }
        return total / Double(rows)
    }

    private struct SoftmaxCrossEntropy: RowWork {
        let losses: UnsafeMutablePointer<Float>, dlogits: UnsafeMutablePointer<Float>?
        let logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>
        let cols: Int, gradScale: Float

        func run(row r: Int) {
            let x = logits + r * cols
            let label = Int(labels[r])
            assert(label >= 0 && label < cols, "label out of range")
            let mScalar = rowMax(x, cols)
            let m = Vec(repeating: mScalar)
            let xLabel = x[label]  // read before dlogits, which may be logits, is written
            let sumExp: Float
            if let dlogits {
                // The exps go into dlogits, then are scaled in place: one exp per element.
                let d = dlogits + r * cols
                sumExp = rowExpSum(d, x, cols, max: m)
                let inverse = 1 / sumExp
                let pLabel = d[label] * inverse
                let scale = Vec(repeating: inverse) * gradScale
                mapRow(cols) { i, n in storeLanes(d + i, loadLanes(d + i, n) * scale, n) }
                d[label] = (pLabel - 1) * gradScale
            } else {
                sumExp = rowSum(cols) { i, n in vexp(loadLanes(x + i, n) - m) }
            }
            // In Double: m − x[label] is exact there, and the log of the sum keeps its precision.
            losses[r] = Float(Double(mScalar) - Double(xLabel) + log(Double(sumExp)))
        }
    }

    /// out[r] = index of the largest value of row r (the first one on ties).
    public static func argmaxRows(out: UnsafeMutablePointer<Int32>, input: UnsafePointer<Float>, rows: Int, cols: Int) {
        guard cols > 0 else { return }
        parallelRows(rows: rows, cols: cols, grain: softmaxGrain, ArgmaxRows(out: out, input: input, cols: cols))
    }

    private struct ArgmaxRows: RowWork {
        let out: UnsafeMutablePointer<Int32>, input: UnsafePointer<Float>, cols: Int

        func run(row r: Int) {
            let x = input + r * cols
            var best = 0
            for c in 1..<cols where x[c] > x[best] { best = c }
            out[r] = Int32(best)
        }
    }

    // MARK: - Row helpers

    /// Largest value of x[0..<n] (n ≥ 1).
    @inline(__always)
    private static func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = Vec(repeating: -.infinity)
        var i = 0
        while i + 8 <= n {
            m = vmax(m, load(x + i))
            i += 8
        }
        if i < n { m = vmax(m, loadPartial(x + i, n - i, fill: -.infinity)) }
        return horizontalMax(m)
    }

    /// Calls `body(i, lanes)` over 0..<n in vectors of 8, the last one with lanes = n − i < 8.
    @inline(__always)
    private static func mapRow(_ n: Int, _ body: (_ i: Int, _ lanes: Int) -> Void) {
        var i = 0
        while i + 8 <= n {
            body(i, 8)
            i += 8
        }
        if i < n { body(i, n - i) }
    }

    /// Σ of `term(i, lanes)` over 0..<n; lanes past the tail are zeroed before they are added.
    /// The lane accumulators and the final horizontal sum give an order fixed by n.
    @inline(__always)
    private static func rowSum(_ n: Int, _ term: (_ i: Int, _ lanes: Int) -> Vec) -> Float {
        var acc = Vec()
        var i = 0
        while i + 8 <= n {
            acc += term(i, 8)
            i += 8
        }
        if i < n {
            let valid = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) .< Int32(n - i)
            acc += term(i, n - i).replacing(with: 0, where: .!valid)
        }
        return acc.sum()
    }

    /// y[i] = e^(x[i] − m) over 0..<n, returning their sum (in rowSum's order); y may equal x.
    @inline(__always)
    private static func rowExpSum(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int,
                                  max m: Vec) -> Float {
        rowSum(n) { i, lanes in
            let e = vexp(loadLanes(x + i, lanes) - m)
            storeLanes(y + i, e, lanes)
            return e
        }
    }

    @inline(__always)
    private static func loadLanes(_ p: UnsafePointer<Float>, _ lanes: Int) -> Vec {
        lanes == 8 ? load(p) : loadPartial(p, lanes)
    }

    @inline(__always)
    private static func loadLanes(_ p: UnsafeMutablePointer<Float>, _ lanes: Int) -> Vec {
        loadLanes(UnsafePointer(p), lanes)
    }

    @inline(__always)
    private static func storeLanes(_ p: UnsafeMutablePointer<Float>, _ v: Vec, _ lanes: Int) {
        if lanes == 8 { store(p, v) } else { storePartial(p, v, lanes) }
    }
}

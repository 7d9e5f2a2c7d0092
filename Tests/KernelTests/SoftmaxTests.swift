// Softmax, log-softmax (forward vs the Double reference; backward vs the reference formula and vs
// central finite differences of the Double reference), fused softmax cross-entropy (per-row
// losses, mean, gradient) on random, ±1000, all-equal and one-class logits, argmax with ties, and
// outputs large enough to be streamed past the caches against in-place ones.

import CKernels
import Dendrite
import Foundation
import Testing

struct RowsShape: Sendable, CustomTestStringConvertible {
    var rows: Int, cols: Int
    var testDescription: String { "\(rows)×\(cols)" }
}

enum SoftmaxShapes {
    static let all: [RowsShape] = [
        RowsShape(rows: 1, cols: 1), RowsShape(rows: 3, cols: 2), RowsShape(rows: 5, cols: 7),
        RowsShape(rows: 4, cols: 17), RowsShape(rows: 128, cols: 10), RowsShape(rows: 9, cols: 100),
        RowsShape(rows: 3, cols: 1000),
    ]
}

/// Logit patterns for the cross-entropy tests.
enum LogitPattern: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case random          // uniform in [-5, 5]
    case wide            // uniform in [-30, 30]: probabilities spanning many decades
    case plusMinus1000   // each logit ±1000: exp of the raw values overflows
    case allEqual        // loss = log(C), uniform probabilities
    var testDescription: String { rawValue }
}

private func logits(_ pattern: LogitPattern, rows: Int, cols: Int, seed s: UInt64) -> [Float] {
    var g = SeededGenerator(seed: s)
    return (0..<rows * cols).map { i in
        switch pattern {
        case .random: return g.float(-5, 5)
        case .wide: return g.float(-30, 30)
        case .plusMinus1000: return g.next() & 1 == 0 ? 1000 : -1000
        case .allEqual: return Float(i / cols) * 0.5 - 3 // equal within a row, different per row
        }
    }
}

@Suite("softmax")
struct SoftmaxTests {
    // MARK: Forward

    @Test("softmax forward matches the reference (also in place)", arguments: TestBackends.all, SoftmaxShapes.all)
    func softmaxForward(backend: String, shape: RowsShape) throws {
        let be = try makeBackend(backend)
        let (rows, cols) = (shape.rows, shape.cols)
        for (range, label) in [(Float(-5)...5, "random"), (-1000...1000, "±1000")] {
            let x = randomFloats(rows * cols, seed: seed(31, rows, cols), in: range)
            let expected = Reference.rowwise(x, rows: rows, cols: cols, Reference.softmax)
            var out = [Float](repeating: .nan, count: rows * cols)
            be.losses.softmaxForward(out: &out, input: x, rows: rows, cols: cols)
            expectClose(out, expected, atol: 1e-7, rtol: 2e-5, "softmaxForward[\(backend)] \(label)",
                        shape: shape.testDescription)
            var inPlace = x
            inPlace.withUnsafeMutableBufferPointer { p in
                be.losses.softmaxForward(out: p.baseAddress!, input: p.baseAddress!, rows: rows, cols: cols)
            }
            expectBitwiseEqual(inPlace, out, "softmaxForward in place[\(backend)] \(label)", shape: shape.testDescription)
            // Rows sum to 1.
            for r in 0..<rows {
                let s = out[r * cols..<(r + 1) * cols].reduce(0.0) { $0 + Double($1) }
                #expect(abs(s - 1) < 1e-5, "softmaxForward[\(backend)] \(label) \(shape): row \(r) sums to \(s)")
            }
        }
    }

    @Test("log-softmax forward matches the reference (also in place)", arguments: TestBackends.all, SoftmaxShapes.all)
    func logSoftmaxForward(backend: String, shape: RowsShape) throws {
        let be = try makeBackend(backend)
        let (rows, cols) = (shape.rows, shape.cols)
        for (range, label) in [(Float(-5)...5, "random"), (-1000...1000, "±1000")] {
            let x = randomFloats(rows * cols, seed: seed(32, rows, cols), in: range)
            let expected = Reference.rowwise(x, rows: rows, cols: cols, Reference.logSoftmax)
            var out = [Float](repeating: .nan, count: rows * cols)
            be.losses.logSoftmaxForward(out: &out, input: x, rows: rows, cols: cols)
            // Error ~ ulp of (x − max) plus the log-sum-exp's rounding.
            expectClose(out, expected, atol: 2e-6, rtol: 2e-6, "logSoftmaxForward[\(backend)] \(label)",
                        shape: shape.testDescription)
            var inPlace = x
            inPlace.withUnsafeMutableBufferPointer { p in
                be.losses.logSoftmaxForward(out: p.baseAddress!, input: p.baseAddress!, rows: rows, cols: cols)
            }
            expectBitwiseEqual(inPlace, out, "logSoftmaxForward in place[\(backend)] \(label)",
                               shape: shape.testDescription)
        }
    }

    // MARK: Backward

    /// Backward from the kernel's own forward output, checked against the reference formula on
    /// that output and against central differences of L(x) = Σ dout·softmax(x) in Double.
    @Test("softmax backward vs reference and finite differences", arguments: TestBackends.all, SoftmaxShapes.all)
    func softmaxBackward(backend: String, shape: RowsShape) throws {
        let be = try makeBackend(backend)
        let (rows, cols) = (shape.rows, shape.cols)
        let x = randomFloats(rows * cols, seed: seed(33, rows, cols), in: -3...3)
        let dout = randomFloats(rows * cols, seed: seed(34, rows, cols))
        var y = [Float](repeating: 0, count: rows * cols)
        be.losses.softmaxForward(out: &y, input: x, rows: rows, cols: cols)
        var dinp = [Float](repeating: .nan, count: rows * cols)
        be.losses.softmaxBackward(dinput: &dinp, doutput: dout, output: y, rows: rows, cols: cols)

        let formula = Reference.softmaxBackward(dout: dout, out: y, rows: rows, cols: cols)
        expectClose(dinp, formula, atol: 3e-7, rtol: 1e-5, "softmaxBackward[\(backend)] vs formula",
                    shape: shape.testDescription)
        let (dinpAt, fd) = sampled(dinp, finiteDifferences(x, dout, rows: rows, cols: cols, Reference.softmax))
        expectClose(dinpAt, fd, atol: 1e-6, rtol: 1e-4, "softmaxBackward[\(backend)] vs finite differences",
                    shape: shape.testDescription + " (\(fd.count) sampled elements)")

        var inPlace = dout
        inPlace.withUnsafeMutableBufferPointer { p in
            be.losses.softmaxBackward(dinput: p.baseAddress!, doutput: p.baseAddress!, output: y, rows: rows, cols: cols)
        }
        expectBitwiseEqual(inPlace, dinp, "softmaxBackward in place[\(backend)]", shape: shape.testDescription)
    }

    @Test("log-softmax backward vs reference and finite differences", arguments: TestBackends.all, SoftmaxShapes.all)
    func logSoftmaxBackward(backend: String, shape: RowsShape) throws {
        let be = try makeBackend(backend)
        let (rows, cols) = (shape.rows, shape.cols)
        let x = randomFloats(rows * cols, seed: seed(35, rows, cols), in: -3...3)
        let dout = randomFloats(rows * cols, seed: seed(36, rows, cols))
        var y = [Float](repeating: 0, count: rows * cols)
        be.losses.logSoftmaxForward(out: &y, input: x, rows: rows, cols: cols)
        var dinp = [Float](repeating: .nan, count: rows * cols)
        be.losses.logSoftmaxBackward(dinput: &dinp, doutput: dout, output: y, rows: rows, cols: cols)

        let formula = Reference.logSoftmaxBackward(dout: dout, out: y, rows: rows, cols: cols)
        // |Σ dout| grows with cols; the tolerance scales with it.
        let rowScale = (0..<rows).map { r in dout[r * cols..<(r + 1) * cols].reduce(0.0) { $0 + abs(Double($1)) } }
        expectClose(dinp, formula, tolerance: { 1e-6 + 1e-5 * abs(formula[$0]) + 1e-5 * exp(Double(y[$0])) * rowScale[$0 / cols] },
                    "logSoftmaxBackward[\(backend)] vs formula", shape: shape.testDescription)
        let fdFull = finiteDifferences(x, dout, rows: rows, cols: cols, Reference.logSoftmax)
        let idx = fdFull.indices.filter { !fdFull[$0].isNaN }
        // Error of the kernel: rounding of dout − exp(y)·Σdout, the sum's error scaled by exp(y).
        expectClose(idx.map { dinp[$0] }, idx.map { fdFull[$0] },
                    tolerance: { j in
                        let i = idx[j]
                        return 2e-6 + 1e-4 * abs(fdFull[i]) + 1e-5 * exp(Double(y[i])) * rowScale[i / cols]
                    },
                    "logSoftmaxBackward[\(backend)] vs finite differences",
                    shape: shape.testDescription + " (\(idx.count) sampled elements)")

        var inPlace = dout
        inPlace.withUnsafeMutableBufferPointer { p in
            be.losses.logSoftmaxBackward(dinput: p.baseAddress!, doutput: p.baseAddress!, output: y, rows: rows, cols: cols)
        }
        expectBitwiseEqual(inPlace, dinp, "logSoftmaxBackward in place[\(backend)]", shape: shape.testDescription)
    }

    /// Outputs of at least dk_streaming_min_bytes() that overlap no input are written with streaming
    /// stores; in-place outputs go through the caches. Both must give the same bits. Rows of 1003 floats
    /// start anywhere in a cache line, so rows share lines at both ends, and the cross-entropy labels
    /// include the first and last columns (whose cache lines it writes with ordinary stores).
    @Test("outputs large enough to stream (dk_streaming_min_bytes) have the bits of in-place ones", arguments: TestBackends.c)
    func streamedOutputs(backend: String) throws {
        let be = try makeBackend(backend)
        let cols = 1003, rows = dk_streaming_min_bytes() / (MemoryLayout<Float>.size * cols) + 1, n = rows * cols
        let shape = "\(rows)×\(cols)"
        let x = randomFloats(n, seed: 51, in: -5...5), dout = randomFloats(n, seed: 52)

        var y = [Float](repeating: .nan, count: n), logY = y, dinp = y
        be.losses.softmaxForward(out: &y, input: x, rows: rows, cols: cols)
        expectBitwiseEqual(y, resultInPlace(x) { be.losses.softmaxForward(out: $0, input: $0, rows: rows, cols: cols) },
                           "softmaxForward streamed[\(backend)]", shape: shape)
        be.losses.logSoftmaxForward(out: &logY, input: x, rows: rows, cols: cols)
        expectBitwiseEqual(logY, resultInPlace(x) { be.losses.logSoftmaxForward(out: $0, input: $0, rows: rows, cols: cols) },
                           "logSoftmaxForward streamed[\(backend)]", shape: shape)
        be.losses.softmaxBackward(dinput: &dinp, doutput: dout, output: y, rows: rows, cols: cols)
        expectBitwiseEqual(dinp, resultInPlace(dout) { be.losses.softmaxBackward(dinput: $0, doutput: $0, output: y, rows: rows, cols: cols) },
                           "softmaxBackward streamed[\(backend)]", shape: shape)
        be.losses.logSoftmaxBackward(dinput: &dinp, doutput: dout, output: logY, rows: rows, cols: cols)
        expectBitwiseEqual(dinp, resultInPlace(dout) { be.losses.logSoftmaxBackward(dinput: $0, doutput: $0, output: logY, rows: rows, cols: cols) },
                           "logSoftmaxBackward streamed[\(backend)]", shape: shape)

        let labels = (0..<rows).map { Int32($0 * 37 % cols) } // 37 and 1003 are coprime: every column
        let scale = 1 / Float(rows)
        var losses = [Float](repeating: .nan, count: rows), lossesInPlace = losses
        _ = be.losses.softmaxCrossEntropy(losses: &losses, dlogits: &dinp, logits: x, labels: labels,
                                          rows: rows, cols: cols, gradScale: scale)
        let dlogitsInPlace = resultInPlace(x) {
            _ = be.losses.softmaxCrossEntropy(losses: &lossesInPlace, dlogits: $0, logits: $0, labels: labels,
                                              rows: rows, cols: cols, gradScale: scale)
        }
        expectBitwiseEqual(dinp, dlogitsInPlace, "crossEntropy dlogits streamed[\(backend)]", shape: shape)
        expectBitwiseEqual(losses, lossesInPlace, "crossEntropy losses streamed[\(backend)]", shape: shape)
    }

    /// d/dx of Σ dout·f(row), by central differences in Double (h = 1e-6), at up to 40 columns
    /// of each row (spread over the row; each costs two full-row evaluations, slow in debug
    /// builds). Unchecked elements are NaN and skipped by `fdTolerance`.
    private func finiteDifferences(_ x: [Float], _ dout: [Float], rows: Int, cols: Int,
                                   _ f: ([Double]) -> [Double]) -> [Double] {
        let h = 1e-6
        var grad = [Double](repeating: .nan, count: rows * cols)
        let step = max(1, cols / 40)
        for r in 0..<rows {
            var row = x[r * cols..<(r + 1) * cols].map(Double.init)
            let g = dout[r * cols..<(r + 1) * cols].map(Double.init)
            func loss(_ v: [Double]) -> Double { zip(f(v), g).reduce(0) { $0 + $1.0 * $1.1 } }
            for c in stride(from: 0, to: cols, by: step) {
                let saved = row[c]
                row[c] = saved + h
                let plus = loss(row)
                row[c] = saved - h
                let minus = loss(row)
                row[c] = saved
                grad[r * cols + c] = (plus - minus) / (2 * h)
            }
        }
        return grad
    }

    /// The kernel's values where a finite difference was computed, and those differences.
    private func sampled(_ got: [Float], _ fd: [Double]) -> ([Float], [Double]) {
        let idx = fd.indices.filter { !fd[$0].isNaN }
        return (idx.map { got[$0] }, idx.map { fd[$0] })
    }

    // MARK: Cross-entropy

    @Test("softmax cross-entropy: losses, mean and gradient",
          arguments: TestBackends.all, LogitPattern.allCases)
    func crossEntropy(backend: String, pattern: LogitPattern) throws {
        let be = try makeBackend(backend)
        for (rows, cols) in [(1, 2), (5, 7), (128, 10), (6, 33), (2, 1000)] {
            let shape = "\(rows)×\(cols) \(pattern)"
            let x = logits(pattern, rows: rows, cols: cols, seed: seed(41, rows, cols))
            var g = SeededGenerator(seed: seed(42, rows, cols))
            let labels = (0..<rows).map { _ in Int32(g.int(cols)) }
            let scale = 1 / Float(rows)
            let ref = Reference.softmaxCrossEntropy(logits: x, labels: labels, rows: rows, cols: cols, gradScale: scale)

            var losses = [Float](repeating: .nan, count: rows)
            var dlogits = [Float](repeating: .nan, count: rows * cols)
            let mean = be.losses.softmaxCrossEntropy(losses: &losses, dlogits: &dlogits, logits: x, labels: labels,
                                              rows: rows, cols: cols, gradScale: scale)
            // Losses up to ~2000 for ±1000 logits: relative tolerance covers Float's ulp there.
            expectClose(losses, ref.losses, atol: 2e-6, rtol: 1e-6, "crossEntropy losses[\(backend)]", shape: shape)
            #expect(mean.isFinite && abs(mean - ref.mean) <= 2e-6 + 1e-6 * abs(ref.mean),
                    "crossEntropy mean[\(backend)] \(shape): got \(mean), expected \(ref.mean)")
            // The mean is the in-order Double sum of the returned Float losses, over rows.
            let ownMean = losses.reduce(0.0) { $0 + Double($1) } / Double(rows)
            #expect(mean == ownMean, "crossEntropy mean[\(backend)] \(shape): \(mean) is not the mean of its losses \(ownMean)")
            expectClose(dlogits, ref.grad, atol: 1e-7 * Double(scale), rtol: 1e-5,
                        "crossEntropy dlogits[\(backend)]", shape: shape)
            // Each gradient row sums to 0 (probabilities sum to 1).
            for r in 0..<rows {
                let s = dlogits[r * cols..<(r + 1) * cols].reduce(0.0) { $0 + Double($1) }
                #expect(abs(s) <= 2e-6 * Double(scale) * Double(cols).squareRoot() + 1e-7,
                        "crossEntropy dlogits[\(backend)] \(shape): row \(r) sums to \(s)")
            }
            if pattern == .allEqual {
                let logC = log(Double(cols))
                expectClose(losses, [Double](repeating: logC, count: rows), atol: 1e-6, rtol: 1e-6,
                            "crossEntropy all-equal loss = log(C)[\(backend)]", shape: shape)
                var probs = [Float](repeating: .nan, count: rows * cols)
                be.losses.softmaxForward(out: &probs, input: x, rows: rows, cols: cols)
                expectClose(probs, [Double](repeating: 1 / Double(cols), count: rows * cols), atol: 1e-7, rtol: 1e-6,
                            "softmax all-equal uniform[\(backend)]", shape: shape)
            }

            // In place (dlogits = logits): the same bits, losses included.
            var inPlace = x
            var lossesInPlace = [Float](repeating: .nan, count: rows)
            inPlace.withUnsafeMutableBufferPointer { p in
                _ = be.losses.softmaxCrossEntropy(losses: &lossesInPlace, dlogits: p.baseAddress!, logits: p.baseAddress!,
                                           labels: labels, rows: rows, cols: cols, gradScale: scale)
            }
            expectBitwiseEqual(inPlace, dlogits, "crossEntropy dlogits in place[\(backend)]", shape: shape)
            expectBitwiseEqual(lossesInPlace, losses, "crossEntropy losses in place[\(backend)]", shape: shape)

            // Without dlogits: the same losses and mean.
            var lossesOnly = [Float](repeating: .nan, count: rows)
            let meanOnly = be.losses.softmaxCrossEntropy(losses: &lossesOnly, dlogits: nil, logits: x, labels: labels,
                                                  rows: rows, cols: cols, gradScale: scale)
            expectClose(lossesOnly, ref.losses, atol: 2e-6, rtol: 1e-6,
                        "crossEntropy losses without dlogits[\(backend)]", shape: shape)
            #expect(abs(meanOnly - ref.mean) <= 2e-6 + 1e-6 * abs(ref.mean),
                    "crossEntropy mean without dlogits[\(backend)] \(shape): got \(meanOnly), expected \(ref.mean)")
        }
    }

    @Test("cross-entropy with ±1000 logits: exact extreme losses", arguments: TestBackends.all)
    func crossEntropyExtremes(backend: String) throws {
        let be = try makeBackend(backend)
        // Row 0: label on the +1000 logit among -1000s → loss 0, grad 0.
        // Row 1: label on a -1000 logit, one +1000 → loss 2000, grad (1 at the max, −1 at the label).
        // Row 2: two +1000 logits, label on one → loss log 2, grad 0.5 − 1 and 0.5.
        let cols = 4
        let x: [Float] = [-1000, 1000, -1000, -1000,
                          1000, -1000, -1000, -1000,
                          1000, -1000, 1000, -1000]
        let labels: [Int32] = [1, 3, 2]
        var losses = [Float](repeating: .nan, count: 3)
        var d = [Float](repeating: .nan, count: 12)
        let mean = be.losses.softmaxCrossEntropy(losses: &losses, dlogits: &d, logits: x, labels: labels,
                                          rows: 3, cols: cols, gradScale: 1)
        expectClose(losses, [0, 2000, log(2.0)], atol: 1e-6, rtol: 1e-6, "crossEntropy ±1000 losses[\(backend)]", shape: "3×4")
        #expect(abs(mean - (2000 + log(2.0)) / 3) < 1e-3, "crossEntropy ±1000 mean[\(backend)]: \(mean)")
        expectClose(d, [0, 0, 0, 0,
                        1, 0, 0, -1,
                        0.5, 0, -0.5, 0], atol: 1e-6, rtol: 0, "crossEntropy ±1000 dlogits[\(backend)]", shape: "3×4")
    }

    @Test("cross-entropy with one class: loss 0, gradient 0", arguments: TestBackends.all)
    func crossEntropyOneClass(backend: String) throws {
        let be = try makeBackend(backend)
        let rows = 17
        let x = randomFloats(rows, seed: 43, in: -1000...1000)
        let labels = [Int32](repeating: 0, count: rows)
        var losses = [Float](repeating: .nan, count: rows)
        var d = [Float](repeating: .nan, count: rows)
        let mean = be.losses.softmaxCrossEntropy(losses: &losses, dlogits: &d, logits: x, labels: labels,
                                          rows: rows, cols: 1, gradScale: 1 / Float(rows))
        let zeros = [Double](repeating: 0, count: rows)
        expectClose(losses, zeros, atol: 1e-6, rtol: 0, "crossEntropy one-class losses[\(backend)]", shape: "\(rows)×1")
        expectClose(d, zeros, atol: 1e-7, rtol: 0, "crossEntropy one-class dlogits[\(backend)]", shape: "\(rows)×1")
        #expect(abs(mean) <= 1e-6, "crossEntropy one-class mean[\(backend)]: \(mean)")
    }

    // MARK: Argmax

    @Test("argmax rows, first index on ties", arguments: TestBackends.all)
    func argmax(backend: String) throws {
        let be = try makeBackend(backend)
        // Hand-written rows with ties, infinities and the max at either end.
        let cols = 5
        let x: [Float] = [1, 3, 3, 2, 0,          // tie → 1
                          7, 7, 7, 7, 7,          // all equal → 0
                          -1, -2, -3, -4, -0.5,   // last → 4
                          -.infinity, -.infinity, -5, -5, -.infinity, // tie → 2
                          .infinity, 0, .infinity, 1, 2,  // tie at +inf → 0
                          0, -0, 0, 0, 1e-30]     // tiny positive → 4
        let expected: [Int32] = [1, 0, 4, 2, 0, 4]
        var out = [Int32](repeating: -1, count: expected.count)
        be.losses.argmaxRows(out: &out, input: x, rows: expected.count, cols: cols)
        #expect(out == expected, "argmaxRows[\(backend)] hand rows: got \(out), expected \(expected)")

        // Random rows with quantized values (many ties), several widths.
        for (rows, c) in [(1, 1), (50, 2), (128, 10), (33, 17), (7, 1000)] {
            var g = SeededGenerator(seed: seed(44, rows, c))
            let v = (0..<rows * c).map { _ in Float(g.int(6)) }
            var got = [Int32](repeating: -1, count: rows)
            be.losses.argmaxRows(out: &got, input: v, rows: rows, cols: c)
            let want = Reference.argmaxRows(v, rows: rows, cols: c)
            let bad = (0..<rows).filter { got[$0] != want[$0] }
            if let r = bad.first {
                let row = preview(v[r * c..<(r + 1) * c], count: 12)
                let message = "argmaxRows[\(backend)] \(rows)×\(c): \(bad.count) rows differ; first row \(r): "
                    + "got \(got[r]), expected \(want[r]), row \(row)"
                Issue.record(Comment(rawValue: message))
            }
        }
    }
}

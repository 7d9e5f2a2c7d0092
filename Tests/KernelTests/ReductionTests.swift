// Reductions (sum, sum of squares: accumulated in Double, so a tolerance of 1e-12 relative to
// Σ|x| would catch Float accumulation, ~1e-4 there), the in-place elementwise updates (exact:
// one Float operation per element), and gatherRows (uint8 rows by index, scaled).

import Dendrite
import Foundation
import Testing

@Suite("reductions and elementwise")
struct ReductionTests {
    static let sizes = [0, 1, 7, 1000, 1_000_003]

    @Test("sum and sumOfSquares vs the Double reference", arguments: TestBackends.all, sizes)
    func sums(backend: String, n: Int) throws {
        let be = try makeBackend(backend)
        // Mixed magnitudes and signs, so order and precision matter.
        var x = randomFloats(max(n, 1), seed: seed(61, n), in: -1...1)
        for i in stride(from: 0, to: n, by: 97) { x[i] *= 1000 }
        let (refSum, absSum) = Reference.sum(Array(x.prefix(n)))
        let refSquares = Reference.sumOfSquares(Array(x.prefix(n)))
        let (s, sq) = x.withUnsafeBufferPointer { p in
            (be.elementwise.sum(p.baseAddress!, count: n), be.elementwise.sumOfSquares(p.baseAddress!, count: n))
        }
        #expect(abs(s - refSum) <= 1e-12 * absSum,
                "sum[\(backend)] n=\(n): got \(s), expected \(refSum), diff \(abs(s - refSum)), Σ|x| \(absSum)")
        #expect(abs(sq - refSquares) <= 1e-12 * refSquares,
                "sumOfSquares[\(backend)] n=\(n): got \(sq), expected \(refSquares), diff \(abs(sq - refSquares))")
        if n == 0 {
            #expect(s == 0 && sq == 0, "sum/sumOfSquares[\(backend)] n=0: got \(s), \(sq)")
        }
    }

    @Test("sums of values that cancel in Float stay exact in Double", arguments: TestBackends.all)
    func cancellation(backend: String) throws {
        let be = try makeBackend(backend)
        // 1e8 + 1 + 1 + … − 1e8: Float accumulation loses every 1; Double keeps them.
        let n = 100_001
        var x = [Float](repeating: 1, count: n)
        x[0] = 1e8
        x[n - 1] = -1e8
        let s = be.elementwise.sum(x, count: n)
        #expect(s == Double(n - 2), "sum[\(backend)] cancellation: got \(s), expected \(n - 2)")
        // Squares overflow Float, not Double (and are exact there: 24-bit mantissas).
        let big: [Float] = [3e20, -4e20]
        let sq = be.elementwise.sumOfSquares(big, count: 2)
        let expected = Double(big[0]) * Double(big[0]) + Double(big[1]) * Double(big[1])
        #expect(sq == expected, "sumOfSquares[\(backend)] beyond Float range: got \(sq), expected \(expected)")
    }

    @Test("sumOfSquares propagates NaN and infinity", arguments: TestBackends.all)
    func nonFinite(backend: String) throws {
        let be = try makeBackend(backend)
        for n in [5, 1000, 100_003] {
            var x = randomFloats(n, seed: seed(62, n))
            x[n / 2] = .nan
            let withNaN = be.elementwise.sumOfSquares(x, count: n)
            #expect(withNaN.isNaN, "sumOfSquares[\(backend)] n=\(n) with a NaN: got \(withNaN)")
            x[n / 2] = -.infinity
            let withInf = be.elementwise.sumOfSquares(x, count: n)
            #expect(withInf == .infinity, "sumOfSquares[\(backend)] n=\(n) with -inf: got \(withInf)")
            let sumInf = be.elementwise.sum(x, count: n)
            #expect(sumInf == -.infinity, "sum[\(backend)] n=\(n) with -inf: got \(sumInf)")
        }
    }

    @Test("addInPlace and scaleInPlace are exact per element", arguments: TestBackends.all, [0, 1, 7, 8, 1003, 300_007])
    func elementwise(backend: String, n: Int) throws {
        let be = try makeBackend(backend)
        let y0 = randomFloats(n + 1, seed: seed(63, n), in: -10...10)
        let x = randomFloats(n + 1, seed: seed(64, n), in: -10...10)
        var y = y0
        be.elementwise.addInPlace(&y, x, count: n)
        // One past the end must stay untouched.
        let expectedAdd = (0...n).map { Double($0 < n ? y0[$0] + x[$0] : y0[$0]) }
        expectClose(y, expectedAdd, atol: 0, rtol: 0, "addInPlace[\(backend)]", shape: "n=\(n)")

        var z = y0
        be.elementwise.scaleInPlace(&z, by: -0.37, count: n)
        let expectedScale = (0...n).map { Double($0 < n ? y0[$0] * -0.37 : y0[$0]) }
        expectClose(z, expectedScale, atol: 0, rtol: 0, "scaleInPlace[\(backend)]", shape: "n=\(n)")
    }

    @Test("gatherRows converts and scales the indexed uint8 rows", arguments: TestBackends.all)
    func gatherRows(backend: String) throws {
        let be = try makeBackend(backend)
        for (count, rows, cols) in [(1, 1, 1), (10, 7, 13), (100, 128, 784), (50, 64, 33)] {
            var g = SeededGenerator(seed: seed(65, rows, cols))
            var images = (0..<count * cols).map { _ in UInt8(truncatingIfNeeded: g.next()) }
            images[0] = 255 // extremes present
            if count * cols > 1 { images[1] = 0 }
            // Repeated indices, the first and the last image.
            var indices = (0..<rows).map { _ in Int32(g.int(count)) }
            indices[0] = Int32(count - 1)
            if rows > 2 { indices[1] = 0; indices[2] = 0 }
            let scale: Float = 1 / 255
            var out = [Float](repeating: .nan, count: rows * cols)
            be.data.gatherRows(out: &out, images: images, indices: indices, rows: rows, cols: cols, scale: scale)
            var expected = [Double](repeating: 0, count: rows * cols)
            for r in 0..<rows {
                for c in 0..<cols { expected[r * cols + c] = Double(Float(images[Int(indices[r]) * cols + c]) * scale) }
            }
            expectClose(out, expected, atol: 0, rtol: 1e-7, "gatherRows[\(backend)]",
                        shape: "\(rows)×\(cols) from \(count) images")
        }
    }
}

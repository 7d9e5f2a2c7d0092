// Bias add (broadcast over rows, exact per element) and its backward pass (column sums, with and
// without accumulating into dbias).

import Dendrite
import Testing

struct BiasShape: Sendable, CustomTestStringConvertible {
    var rows: Int, cols: Int
    var testDescription: String { "\(rows)×\(cols)" }
}

enum BiasShapes {
    /// Odd widths around the vector widths, a single row/column, and the MLP's layers.
    static let all: [BiasShape] = [
        BiasShape(rows: 1, cols: 1), BiasShape(rows: 1, cols: 37), BiasShape(rows: 29, cols: 1),
        BiasShape(rows: 7, cols: 13), BiasShape(rows: 5, cols: 33), BiasShape(rows: 64, cols: 100),
        BiasShape(rows: 128, cols: 256), BiasShape(rows: 128, cols: 10), BiasShape(rows: 300, cols: 530),
        // Tall and narrow, as a convolution's: C sums bands of rows (the last ones short or empty here).
        BiasShape(rows: 8209, cols: 37), BiasShape(rows: 8192, cols: 512),
        // … with at most 8 columns (LeNet's 6 filters: a vector of doubles per row, eight bands at once).
        BiasShape(rows: 8209, cols: 6), BiasShape(rows: 8200, cols: 8), BiasShape(rows: 8227, cols: 1),
    ]
}

@Suite("bias")
struct BiasTests {
    @Test("bias add equals inp + bias per element (also in place)", arguments: TestBackends.all, BiasShapes.all)
    func biasAdd(backend: String, shape: BiasShape) throws {
        let be = try makeBackend(backend)
        let (rows, cols) = (shape.rows, shape.cols)
        let x = randomFloats(rows * cols, seed: seed(1, rows, cols), in: -3...3)
        let bias = randomFloats(cols, seed: seed(2, rows, cols))
        // out = inp + bias is one float add per element: the result is exact.
        var expected = [Double](repeating: 0, count: rows * cols)
        for r in 0..<rows { for c in 0..<cols { expected[r * cols + c] = Double(x[r * cols + c] + bias[c]) } }

        var out = [Float](repeating: .nan, count: rows * cols)
        be.elementwise.biasAdd(out: &out, input: x, bias: bias, rows: rows, cols: cols)
        expectClose(out, expected, atol: 0, rtol: 0, "biasAdd[\(backend)]", shape: shape.testDescription)

        var inPlace = x
        inPlace.withUnsafeMutableBufferPointer { p in
            be.elementwise.biasAdd(out: p.baseAddress!, input: p.baseAddress!, bias: bias, rows: rows, cols: cols)
        }
        expectClose(inPlace, expected, atol: 0, rtol: 0, "biasAdd in place[\(backend)]", shape: shape.testDescription)
    }

    /// Column sums: error bound of recursive float summation, (rows + 1)·u·Σ|d| (u = 2^-24),
    /// generous for implementations that accumulate in Double.
    @Test("bias backward = column sums, overwrite and accumulate", arguments: TestBackends.all, BiasShapes.all)
    func biasBackward(backend: String, shape: BiasShape) throws {
        let be = try makeBackend(backend)
        let (rows, cols) = (shape.rows, shape.cols)
        let dout = randomFloats(rows * cols, seed: seed(3, rows, cols), in: -2...2)
        let (sums, absSums) = Reference.columnSums(dout, rows: rows, cols: cols)
        let u = 1.0 / Double(1 << 24)

        var dbias = [Float](repeating: .nan, count: cols) // overwritten, never read
        be.elementwise.biasBackward(dbias: &dbias, dout: dout, rows: rows, cols: cols, accumulate: false)
        expectClose(dbias, sums, tolerance: { 2 * Double(rows + 1) * u * absSums[$0] + 1e-7 },
                    "biasBackward[\(backend)]", shape: shape.testDescription)

        let previous = randomFloats(cols, seed: seed(4, rows, cols), in: -5...5)
        var accumulated = previous
        be.elementwise.biasBackward(dbias: &accumulated, dout: dout, rows: rows, cols: cols, accumulate: true)
        let expectedAcc = (0..<cols).map { Double(previous[$0]) + sums[$0] }
        expectClose(accumulated, expectedAcc,
                    tolerance: { 2 * Double(rows + 2) * u * (absSums[$0] + abs(Double(previous[$0]))) + 1e-7 },
                    "biasBackward accumulate[\(backend)]", shape: shape.testDescription)
    }

    /// The C kernels' tall gradients: each of 32 bands of rows summed in Double in row order, the bands added
    /// in band order, then rounded: bit for bit, however the columns are vectorized.
    @Test("C bias backward of tall gradients sums bands of rows in order", arguments: TestBackends.c,
          BiasShapes.all.filter { $0.rows >= 8192 })
    func biasBackwardBands(backend: String, shape: BiasShape) throws {
        let be = try makeBackend(backend)
        let (rows, cols) = (shape.rows, shape.cols)
        let dout = randomFloats(rows * cols, seed: seed(6, rows, cols), in: -2...2)
        let bands = 32, band = (rows + bands - 1) / bands
        let expected = (0..<cols).map { c -> Double in
            let sums = (0..<bands).map { k -> Double in
                stride(from: min(k * band, rows), to: min(k * band + band, rows), by: 1)
                    .reduce(0.0) { $0 + Double(dout[$1 * cols + c]) }
            }
            return Double(Float(sums.dropFirst().reduce(sums[0], +)))
        }
        var dbias = [Float](repeating: .nan, count: cols)
        be.elementwise.biasBackward(dbias: &dbias, dout: dout, rows: rows, cols: cols, accumulate: false)
        expectClose(dbias, expected, atol: 0, rtol: 0, "biasBackward bands[\(backend)]", shape: shape.testDescription)
    }

    @Test("bias backward with rows = 0 writes zeros (or keeps dbias when accumulating)", arguments: TestBackends.all)
    func biasBackwardNoRows(backend: String) throws {
        let be = try makeBackend(backend)
        let cols = 19
        let dout: [Float] = [0]
        var dbias = [Float](repeating: .nan, count: cols)
        be.elementwise.biasBackward(dbias: &dbias, dout: dout, rows: 0, cols: cols, accumulate: false)
        expectClose(dbias, [Double](repeating: 0, count: cols), atol: 0, rtol: 0,
                    "biasBackward[\(backend)]", shape: "0×\(cols)")
        let previous = randomFloats(cols, seed: 5)
        var acc = previous
        be.elementwise.biasBackward(dbias: &acc, dout: dout, rows: 0, cols: cols, accumulate: true)
        expectClose(acc, previous.doubles, atol: 0, rtol: 0, "biasBackward accumulate[\(backend)]", shape: "0×\(cols)")
    }
}

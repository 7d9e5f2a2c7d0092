// Activations: forward against the Double reference (including large and special inputs), the
// fused bias + activation, backward from the forward output against the analytic derivative and
// against central finite differences (Double, on the reference forward; and Float, on the
// backend's own forward), plus in-place calls and outputs large enough to be streamed past the caches.
//
// Forward tolerance: 1e-6 + 4e-6·|f(x)| (the kernels' exp is within ~2 ulp, their rational tanh 5).

import CKernels
import Dendrite
import Foundation
import Testing

/// Activations as test arguments, with readable names (leaky slopes and ELU alpha shown).
struct ActivationCase: Sendable, CustomTestStringConvertible {
    var activation: Activation
    var testDescription: String {
        switch activation {
        case .leakyReLU(let a): "leaky-relu(\(a))"
        case .elu(let a): "elu(\(a))"
        default: activation.description
        }
    }
}

enum ActivationCases {
    static let all: [ActivationCase] = [
        .relu, .leakyReLU(alpha: 0.01), .leakyReLU(alpha: 0.2), .sigmoid, .tanh, .elu(alpha: 1), .elu(alpha: 0.5),
        .selu, .identity,
    ].map(ActivationCase.init)
}

private let forwardAtol = 1e-6, forwardRtol = 4e-6

/// Inputs: a random spread, exact zeros and small values around the kinks, and large magnitudes
/// where exp over/underflows (results must stay finite and correct). Count 1003: not a multiple
/// of any vector width, so tails are covered.
private func forwardInputs(seed s: UInt64) -> [Float] {
    var x = randomFloats(1003 - 24, seed: s, in: -8...8)
    x += [0, -0, 1e-7, -1e-7, 1e-3, -1e-3, 0.5, -0.5, 0.624, -0.624, 0.626, -0.626,
          20, -20, 50, -50, 87, -87, 89, -89, 100, -100, 1000, -1000]
    return x
}

@Suite("activations")
struct ActivationTests {
    @Test("forward matches the Double reference", arguments: TestBackends.all, ActivationCases.all)
    func forward(backend: String, act: ActivationCase) throws {
        let be = try makeBackend(backend)
        let x = forwardInputs(seed: 11)
        let expected = x.map { Reference.activation(Double($0), act.activation) }
        var out = [Float](repeating: .nan, count: x.count)
        be.elementwise.activationForward(out: &out, input: x, count: x.count, activation: act.activation)
        expectClose(out, expected, atol: forwardAtol, rtol: forwardRtol,
                    "activationForward[\(backend)] \(act)", shape: "n=\(x.count)")
        #expect(out.allSatisfy { $0.isFinite }, "activationForward[\(backend)] \(act): non-finite output")
        if case .tanh = act.activation {
            // The backward pass's 1 − y² must not turn negative, even where tanh rounds to ±1.
            #expect(out.allSatisfy { abs($0) <= 1 }, "activationForward[\(backend)] tanh: |y| > 1")
        }

        // In place (out == input) gives the same values.
        var inPlace = x
        inPlace.withUnsafeMutableBufferPointer { p in
            be.elementwise.activationForward(out: p.baseAddress!, input: p.baseAddress!, count: x.count, activation: act.activation)
        }
        expectBitwiseEqual(inPlace, out, "activationForward in place[\(backend)] \(act)", shape: "n=\(x.count)")
    }

    @Test("forward on a large buffer (threaded path) matches the reference", arguments: TestBackends.all,
          [ActivationCase(activation: .tanh), ActivationCase(activation: .selu)])
    func forwardLarge(backend: String, act: ActivationCase) throws {
        let be = try makeBackend(backend)
        let n = 200_003
        let x = randomFloats(n, seed: 12, in: -6...6)
        let expected = x.map { Reference.activation(Double($0), act.activation) }
        var out = [Float](repeating: .nan, count: n)
        be.elementwise.activationForward(out: &out, input: x, count: n, activation: act.activation)
        expectClose(out, expected, atol: forwardAtol, rtol: forwardRtol,
                    "activationForward[\(backend)] \(act)", shape: "n=\(n)")
    }

    @Test("fused bias + activation = f(inp + bias)", arguments: TestBackends.all, ActivationCases.all)
    func biasActivation(backend: String, act: ActivationCase) throws {
        let be = try makeBackend(backend)
        for (rows, cols) in [(1, 1), (7, 13), (37, 29), (128, 256), (128, 10)] {
            let x = randomFloats(rows * cols, seed: seed(13, rows, cols), in: -4...4)
            let bias = randomFloats(cols, seed: seed(14, rows, cols), in: -2...2)
            var expected = [Double](repeating: 0, count: rows * cols)
            for r in 0..<rows {
                for c in 0..<cols {
                    // The sum is a float add, as in the kernels; only f is evaluated in Double.
                    expected[r * cols + c] = Reference.activation(Double(x[r * cols + c] + bias[c]), act.activation)
                }
            }
            var out = [Float](repeating: .nan, count: rows * cols)
            be.elementwise.biasActivationForward(out: &out, input: x, bias: bias, rows: rows, cols: cols, activation: act.activation)
            expectClose(out, expected, atol: forwardAtol, rtol: forwardRtol,
                        "biasActivationForward[\(backend)] \(act)", shape: "\(rows)×\(cols)")

            var inPlace = x
            inPlace.withUnsafeMutableBufferPointer { p in
                be.elementwise.biasActivationForward(out: p.baseAddress!, input: p.baseAddress!, bias: bias, rows: rows, cols: cols,
                                         activation: act.activation)
            }
            expectBitwiseEqual(inPlace, out, "biasActivationForward in place[\(backend)] \(act)", shape: "\(rows)×\(cols)")
        }
    }

    /// Outputs of at least dk_streaming_min_bytes() that overlap no input are written with streaming
    /// stores; in-place outputs go through the caches. Both must give the same bits. Rows of 1003 floats
    /// start anywhere in a cache line, so the fused bias + activation writes partial lines at both ends
    /// of every row; the single-span kernels split their range between threads.
    @Test("outputs large enough to stream (dk_streaming_min_bytes) have the bits of in-place ones", arguments: TestBackends.c)
    func streamedOutputs(backend: String) throws {
        let be = try makeBackend(backend)
        let cols = 1003, rows = dk_streaming_min_bytes() / (MemoryLayout<Float>.size * cols) + 1, n = rows * cols
        let shape = "\(rows)×\(cols)"
        let x = randomFloats(n, seed: 15, in: -6...6), dout = randomFloats(n, seed: 16), bias = randomFloats(cols, seed: 17)
        var y = [Float](repeating: .nan, count: n), other = y
        for act in ActivationCases.all.map(\.activation) {
            be.elementwise.activationForward(out: &y, input: x, count: n, activation: act)
            expectBitwiseEqual(y, resultInPlace(x) { be.elementwise.activationForward(out: $0, input: $0, count: n, activation: act) },
                               "activationForward streamed[\(backend)] \(act)", shape: shape)
            be.elementwise.activationBackward(dinput: &other, doutput: dout, output: y, count: n, activation: act)
            expectBitwiseEqual(other, resultInPlace(dout) { be.elementwise.activationBackward(dinput: $0, doutput: $0, output: y, count: n, activation: act) },
                               "activationBackward streamed[\(backend)] \(act)", shape: shape)
            be.elementwise.biasActivationForward(out: &other, input: x, bias: bias, rows: rows, cols: cols, activation: act)
            expectBitwiseEqual(other, resultInPlace(x) { be.elementwise.biasActivationForward(out: $0, input: $0, bias: bias, rows: rows, cols: cols, activation: act) },
                               "biasActivationForward streamed[\(backend)] \(act)", shape: shape)
        }
    }

    /// Backward from the output: dinput = doutput·f'(x) with f' computed from y = f(x), checked
    /// against the analytic derivative and against central differences of the Double reference
    /// (h = 1e-6). Inputs stay ≥ 0.05 away from the kink at 0 and within ±6 (beyond that sigmoid
    /// and tanh saturate and f' is below Float's resolution of y).
    @Test("backward from the output vs analytic derivative and Double finite differences",
          arguments: TestBackends.all, ActivationCases.all)
    func backward(backend: String, act: ActivationCase) throws {
        let be = try makeBackend(backend)
        let n = 1001
        let x = randomFloatsAvoidingZero(n, seed: 21, magnitude: 6, gap: 0.05)
        let dout = randomFloats(n, seed: 22, in: -2...2)
        var y = [Float](repeating: 0, count: n)
        be.elementwise.activationForward(out: &y, input: x, count: n, activation: act.activation)
        var dinp = [Float](repeating: .nan, count: n)
        be.elementwise.activationBackward(dinput: &dinp, doutput: dout, output: y, count: n, activation: act.activation)

        let analytic = (0..<n).map { Double(dout[$0]) * Reference.activationDerivative(Double(x[$0]), act.activation) }
        let finiteDiff = (0..<n).map {
            Double(dout[$0]) * Reference.activationFiniteDifference(Double(x[$0]), act.activation)
        }
        // f' from a Float y: error ~ a few ulp of y, times |dout| ≤ 2.
        expectClose(dinp, analytic, atol: 2e-6, rtol: 1e-5,
                    "activationBackward[\(backend)] \(act) vs analytic", shape: "n=\(n)")
        expectClose(dinp, finiteDiff, atol: 2e-6, rtol: 1e-5,
                    "activationBackward[\(backend)] \(act) vs finite differences", shape: "n=\(n)")

        // In place: dinput == doutput.
        var inPlace = dout
        inPlace.withUnsafeMutableBufferPointer { p in
            be.elementwise.activationBackward(dinput: p.baseAddress!, doutput: p.baseAddress!, output: y, count: n,
                                  activation: act.activation)
        }
        expectBitwiseEqual(inPlace, dinp, "activationBackward in place[\(backend)] \(act)", shape: "n=\(n)")
    }

    /// Consistency of the backend with itself: its backward (from its own forward output) matches
    /// central differences of its own Float forward, eps = 1e-2 (truncation error ~eps²·|f'''|,
    /// rounding ~ulp/eps, both well below the 2e-3 tolerance).
    @Test("backward agrees with Float finite differences of the backend's forward",
          arguments: TestBackends.all, ActivationCases.all)
    func backwardVsOwnForward(backend: String, act: ActivationCase) throws {
        let be = try makeBackend(backend)
        let n = 517
        let eps: Float = 1e-2
        let x = randomFloatsAvoidingZero(n, seed: 23, magnitude: 4, gap: 0.05)
        let xPlus = x.map { $0 + eps }, xMinus = x.map { $0 - eps }
        var y = [Float](repeating: 0, count: n), yPlus = y, yMinus = y
        be.elementwise.activationForward(out: &y, input: x, count: n, activation: act.activation)
        be.elementwise.activationForward(out: &yPlus, input: xPlus, count: n, activation: act.activation)
        be.elementwise.activationForward(out: &yMinus, input: xMinus, count: n, activation: act.activation)
        let ones = [Float](repeating: 1, count: n)
        var grad = [Float](repeating: .nan, count: n)
        be.elementwise.activationBackward(dinput: &grad, doutput: ones, output: y, count: n, activation: act.activation)
        let fd = (0..<n).map { Double(yPlus[$0] - yMinus[$0]) / Double(xPlus[$0] - xMinus[$0]) }
        expectClose(grad, fd, atol: 2e-3, rtol: 2e-3,
                    "activationBackward[\(backend)] \(act) vs own forward", shape: "n=\(n)")
    }
}

// The C and Swift backends agree with each other, kernel by kernel, on one random MLP-sized
// problem (784-256-256-10, batch 128). Both are also checked against the references elsewhere;
// this catches a divergence on the exact shapes training uses.

import Dendrite
import Foundation
import Testing

enum AgreementKernel: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sgemmForward, sgemmWeightGradient, sgemmInputGradient
    case biasAdd, biasBackward, activations, biasActivation, activationBackward
    case softmax, logSoftmax, softmaxBackward, logSoftmaxBackward, crossEntropy, argmax
    case adam, sgd, addScale, sums, gatherRows
    var testDescription: String { rawValue }
}

/// Runs the same closure on the C and Swift backends with identical inputs.
private func both<T>(_ body: (Backend) -> T) throws -> (c: T, swift: T) {
    (body(try makeBackend("c")), body(try makeBackend("swift")))
}

/// Compares the Swift result with the C result (the C result plays "expected").
private func agree(_ c: [Float], _ swift: [Float], atol: Double, rtol: Double, _ what: String, shape: String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    expectClose(swift, c.doubles, atol: atol, rtol: rtol, "\(what) swift vs c", shape: shape,
                sourceLocation: sourceLocation)
}

@Suite("C and Swift agree")
struct BackendAgreementTests {
    static let (batch, input, hidden, classes) = (128, 784, 256, 10)

    @Test("on an MLP-sized problem", arguments: AgreementKernel.allCases)
    func agreement(kernel: AgreementKernel) throws {
        let (b, i, h, k) = (Self.batch, Self.input, Self.hidden, Self.classes)
        switch kernel {
        case .sgemmForward:
            try gemm(m: b, k: i, n: h, transA: false, transB: false, beta: 0)
            try gemm(m: b, k: h, n: k, transA: false, transB: false, beta: 0)
        case .sgemmWeightGradient:
            try gemm(m: i, k: b, n: h, transA: true, transB: false, beta: 1)
            try gemm(m: h, k: b, n: k, transA: true, transB: false, beta: 1)
        case .sgemmInputGradient:
            try gemm(m: b, k: h, n: h, transA: false, transB: true, beta: 0)
            try gemm(m: b, k: k, n: h, transA: false, transB: true, beta: 0)

        case .biasAdd:
            let x = randomFloats(b * h, seed: 71), bias = randomFloats(h, seed: 72)
            let r = try both { be -> [Float] in
                var out = [Float](repeating: .nan, count: b * h)
                be.elementwise.biasAdd(out: &out, input: x, bias: bias, rows: b, cols: h)
                return out
            }
            expectBitwiseEqual(r.swift, r.c, "biasAdd swift vs c", shape: "\(b)×\(h)")
        case .biasBackward:
            let d = randomFloats(b * h, seed: 73)
            let r = try both { be -> [Float] in
                var db = randomFloats(h, seed: 74)
                be.elementwise.biasBackward(dbias: &db, dout: d, rows: b, cols: h, accumulate: true)
                return db
            }
            agree(r.c, r.swift, atol: 1e-5, rtol: 1e-5, "biasBackward", shape: "\(b)×\(h)")
        case .activations:
            let x = randomFloats(b * h, seed: 75, in: -6...6)
            for act in ActivationCases.all {
                let r = try both { be -> [Float] in
                    var out = [Float](repeating: .nan, count: x.count)
                    be.elementwise.activationForward(out: &out, input: x, count: x.count, activation: act.activation)
                    return out
                }
                agree(r.c, r.swift, atol: 1e-6, rtol: 4e-6, "activationForward \(act)", shape: "n=\(x.count)")
            }
        case .biasActivation:
            let x = randomFloats(b * h, seed: 76, in: -4...4), bias = randomFloats(h, seed: 77)
            for act in ActivationCases.all {
                let r = try both { be -> [Float] in
                    var out = [Float](repeating: .nan, count: x.count)
                    be.elementwise.biasActivationForward(out: &out, input: x, bias: bias, rows: b, cols: h, activation: act.activation)
                    return out
                }
                agree(r.c, r.swift, atol: 1e-6, rtol: 4e-6, "biasActivationForward \(act)", shape: "\(b)×\(h)")
            }
        case .activationBackward:
            let x = randomFloats(b * h, seed: 78, in: -4...4), dout = randomFloats(b * h, seed: 79)
            for act in ActivationCases.all {
                // Same output y for both, from the reference, so only the backward pass is compared.
                let y = x.map { Float(Reference.activation(Double($0), act.activation)) }
                let r = try both { be -> [Float] in
                    var d = [Float](repeating: .nan, count: x.count)
                    be.elementwise.activationBackward(dinput: &d, doutput: dout, output: y, count: x.count, activation: act.activation)
                    return d
                }
                agree(r.c, r.swift, atol: 1e-6, rtol: 1e-5, "activationBackward \(act)", shape: "n=\(x.count)")
            }

        case .softmax:
            let x = randomFloats(b * k, seed: 80, in: -10...10)
            let r = try both { be -> [Float] in
                var out = [Float](repeating: .nan, count: x.count)
                be.losses.softmaxForward(out: &out, input: x, rows: b, cols: k)
                return out
            }
            agree(r.c, r.swift, atol: 1e-7, rtol: 2e-5, "softmaxForward", shape: "\(b)×\(k)")
        case .logSoftmax:
            let x = randomFloats(b * k, seed: 81, in: -10...10)
            let r = try both { be -> [Float] in
                var out = [Float](repeating: .nan, count: x.count)
                be.losses.logSoftmaxForward(out: &out, input: x, rows: b, cols: k)
                return out
            }
            agree(r.c, r.swift, atol: 2e-6, rtol: 2e-6, "logSoftmaxForward", shape: "\(b)×\(k)")
        case .softmaxBackward:
            let x = randomFloats(b * k, seed: 82, in: -3...3), dout = randomFloats(b * k, seed: 83)
            let y = Reference.rowwise(x, rows: b, cols: k, Reference.softmax).map { Float($0) }
            let r = try both { be -> [Float] in
                var d = [Float](repeating: .nan, count: x.count)
                be.losses.softmaxBackward(dinput: &d, doutput: dout, output: y, rows: b, cols: k)
                return d
            }
            agree(r.c, r.swift, atol: 3e-7, rtol: 1e-5, "softmaxBackward", shape: "\(b)×\(k)")
        case .logSoftmaxBackward:
            let x = randomFloats(b * k, seed: 84, in: -3...3), dout = randomFloats(b * k, seed: 85)
            let y = Reference.rowwise(x, rows: b, cols: k, Reference.logSoftmax).map { Float($0) }
            let r = try both { be -> [Float] in
                var d = [Float](repeating: .nan, count: x.count)
                be.losses.logSoftmaxBackward(dinput: &d, doutput: dout, output: y, rows: b, cols: k)
                return d
            }
            agree(r.c, r.swift, atol: 2e-6, rtol: 1e-5, "logSoftmaxBackward", shape: "\(b)×\(k)")
        case .crossEntropy:
            let x = randomFloats(b * k, seed: 86, in: -10...10)
            var g = SeededGenerator(seed: 87)
            let labels = (0..<b).map { _ in Int32(g.int(k)) }
            let r = try both { be -> ([Float], [Float], Double) in
                var losses = [Float](repeating: .nan, count: b), d = [Float](repeating: .nan, count: b * k)
                let mean = be.losses.softmaxCrossEntropy(losses: &losses, dlogits: &d, logits: x, labels: labels,
                                                  rows: b, cols: k, gradScale: 1 / Float(b))
                return (losses, d, mean)
            }
            agree(r.c.0, r.swift.0, atol: 2e-6, rtol: 2e-6, "crossEntropy losses", shape: "\(b)×\(k)")
            agree(r.c.1, r.swift.1, atol: 1e-9, rtol: 2e-5, "crossEntropy dlogits", shape: "\(b)×\(k)")
            #expect(abs(r.c.2 - r.swift.2) <= 2e-6 * (1 + abs(r.c.2)),
                    "crossEntropy mean: c \(r.c.2), swift \(r.swift.2)")
        case .argmax:
            var g = SeededGenerator(seed: 88)
            let x = (0..<b * k).map { _ in Float(g.int(8)) } // many ties
            let r = try both { be -> [Int32] in
                var out = [Int32](repeating: -1, count: b)
                be.losses.argmaxRows(out: &out, input: x, rows: b, cols: k)
                return out
            }
            #expect(r.c == r.swift, "argmaxRows: c \(preview(r.c)), swift \(preview(r.swift))")

        case .adam:
            let n = i * h + h // first layer's weights and bias
            let p0 = randomFloats(n, seed: 89), g0 = randomFloats(n, seed: 90)
            let r = try both { be -> [Float] in
                var p = p0, m = [Float](repeating: 0, count: n), v = m
                for step in 1...3 {
                    be.optimizers.adamStep(param: &p, m: &m, v: &v, grad: g0, count: n, lr: 1e-3, beta1: 0.9, beta2: 0.999,
                                eps: 1e-8, step: step)
                }
                return p + m + v
            }
            agree(r.c, r.swift, atol: 1e-7, rtol: 1e-6, "adamStep ×3 (param, m, v)", shape: "n=\(n)")
        case .sgd:
            let n = i * h + h
            let p0 = randomFloats(n, seed: 91), g0 = randomFloats(n, seed: 92)
            let r = try both { be -> [Float] in
                var p = p0, vel = [Float](repeating: 0, count: n)
                be.optimizers.sgdStep(param: &p, velocity: &vel, grad: g0, count: n, lr: 0.01, momentum: 0.9)
                be.optimizers.sgdStep(param: &p, velocity: &vel, grad: g0, count: n, lr: 0.01, momentum: 0.9)
                be.optimizers.sgdStep(param: &p, velocity: nil, grad: g0, count: n, lr: 0.01, momentum: 0)
                return p + vel
            }
            agree(r.c, r.swift, atol: 1e-7, rtol: 1e-6, "sgdStep (param, velocity)", shape: "n=\(n)")
        case .addScale:
            let n = i * h
            let y0 = randomFloats(n, seed: 93), x = randomFloats(n, seed: 94)
            let r = try both { be -> [Float] in
                var y = y0
                be.elementwise.addInPlace(&y, x, count: n)
                be.elementwise.scaleInPlace(&y, by: 0.3, count: n)
                return y
            }
            expectBitwiseEqual(r.swift, r.c, "addInPlace + scaleInPlace swift vs c", shape: "n=\(n)")
        case .sums:
            let n = i * h + h
            let x = randomFloats(n, seed: 95)
            let r = try both { be in (be.elementwise.sum(x, count: n), be.elementwise.sumOfSquares(x, count: n)) }
            let absSum = Reference.sum(x).absSum
            #expect(abs(r.c.0 - r.swift.0) <= 1e-12 * absSum, "sum: c \(r.c.0), swift \(r.swift.0)")
            #expect(abs(r.c.1 - r.swift.1) <= 1e-12 * r.c.1, "sumOfSquares: c \(r.c.1), swift \(r.swift.1)")
        case .gatherRows:
            var g = SeededGenerator(seed: 96)
            let count = 1000
            let images = (0..<count * i).map { _ in UInt8(truncatingIfNeeded: g.next()) }
            let indices = (0..<b).map { _ in Int32(g.int(count)) }
            let r = try both { be -> [Float] in
                var out = [Float](repeating: .nan, count: b * i)
                be.data.gatherRows(out: &out, images: images, indices: indices, rows: b, cols: i, scale: 1 / 255)
                return out
            }
            expectBitwiseEqual(r.swift, r.c, "gatherRows swift vs c", shape: "\(b)×\(i)")
        }
    }

    /// One MLP matmul on both backends. The tolerance scale Σ_k |a_ik b_kj| comes from the C
    /// sgemm of |A| and |B| (its own rounding is irrelevant at that scale).
    private func gemm(m: Int, k: Int, n: Int, transA: Bool, transB: Bool, beta: Float) throws {
        let a = randomFloats(m * k, seed: seed(97, m, k, n)), bm = randomFloats(k * n, seed: seed(98, m, k, n))
        let c0 = randomFloats(m * n, seed: seed(99, m, k, n))
        let lda = transA ? m : k, ldb = transB ? k : n
        let r = try both { be -> [Float] in
            var c = c0
            be.gemm.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: bm, ldb: ldb,
                     beta: beta, c: &c, ldc: n)
            return c
        }
        var scale = [Float](repeating: 0, count: m * n)
        try makeBackend("c").gemm.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1,
                                   a: a.map(abs), lda: lda, b: bm.map(abs), ldb: ldb, beta: 0, c: &scale, ldc: n)
        let shape = "\(m)×\(k)×\(n) \(transA ? "T" : "N")\(transB ? "T" : "N") beta \(beta)"
        // Each side is within 1e-5 of the exact value, so they are within 2e-5 of each other.
        expectClose(r.swift, r.c.doubles,
                    tolerance: { 2e-5 * (Double(scale[$0]) + Double(beta) * abs(Double(c0[$0]))) + 2e-6 },
                    "sgemm swift vs c", shape: shape)
    }
}

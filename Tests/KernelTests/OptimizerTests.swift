// Optimizer steps: Adam (PyTorch form) at step 1 and step 3 against values worked out by hand
// (in Double, written below), a multi-step run against the Double reference, and SGD with and
// without momentum.

import Dendrite
@testable import SwiftKernels
import Foundation
import Testing

@Suite("optimizers")
struct OptimizerTests {
    /// lr 0.1, betas 0.9/0.999, eps 1e-8, from m = v = 0. At step 1 the bias corrections cancel
    /// the (1 − β) factors: m̂ = g, v̂ = g², so p −= lr·g/(|g| + eps):
    ///   p 1.0,  g 0.5   → m 0.05,   v 0.00025, p = 1 − 0.1·0.5/(0.5 + 1e-8)       = 0.900000002
    ///   p −0.5, g −2    → m −0.2,   v 0.004,   p = −0.5 + 0.1·2/(2 + 1e-8)        = −0.4000000005
    ///   p 0.25, g 0.001 → m 1e-4,   v 1e-9,    p = 0.25 − 0.1·1e-3/(1e-3 + 1e-8) = 0.15000099999
    /// (the last one tells eps-after-sqrt, as specified, from eps-inside-sqrt: 0.1500005).
    /// The asserted numbers are the same formulas evaluated in Double with the hyperparameters the
    /// kernel actually receives (Float 0.9 = 0.89999998, 0.999 = 0.99900001, 0.1, 1e-8): with the
    /// decimal betas, step 3 would be off by ~1.6e-7, more than the tolerance.
    @Test("Adam step 1 against hand-computed values", arguments: TestBackends.all)
    func adamStep1(backend: String) throws {
        let be = try makeBackend(backend)
        var p: [Float] = [1.0, -0.5, 0.25]
        var m: [Float] = [0, 0, 0], v: [Float] = [0, 0, 0]
        let g: [Float] = [0.5, -2.0, 0.001]
        be.optimizers.adamStep(param: &p, m: &m, v: &v, grad: g, count: 3, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1)
        expectClose(p, [0.9000000005098838, -0.39999999900988387, 0.15000099849984533], atol: 3e-8, rtol: 2e-7,
                    "adamStep[\(backend)] step 1 param", shape: "n=3")
        expectClose(m, [0.050000011920928955, -0.20000004768371582, 0.00010000002859160417], atol: 0, rtol: 4e-7,
                    "adamStep[\(backend)] step 1 m", shape: "n=3")
        expectClose(v, [0.00024999678134918213, 0.003999948501586914, 9.999872203904104e-10], atol: 0, rtol: 4e-7,
                    "adamStep[\(backend)] step 1 v", shape: "n=3")
    }

    /// Step t = 3 from a given state, lr 0.1, betas 0.9/0.999, eps 1e-8.
    /// Corrections: 1 − 0.9³ = 0.271, 1 − 0.999³ = 0.002997001.
    ///   p 1.0,  m 0.1,  v 0.01, g 0.3:  m' = 0.09 + 0.03 = 0.12, v' = 0.00999 + 0.00009 = 0.01008,
    ///        m̂ = 0.442804428, v̂ = 3.363362241, p = 1 − 0.1·0.442804428/(1.833946628 + 1e-8) = 0.975855116
    ///   p −2.0, m −0.2, v 0.04, g 0.1:  m' = −0.18 + 0.01 = −0.17, v' = 0.03996 + 0.00001 = 0.03997,
    ///        m̂ = −0.627306273, v̂ = 13.336665553, p = −2 + 0.1·0.627306273/3.651939971 = −1.982822657
    ///   p 0.5,  m 0,    v 0,    g −1:   m' = −0.1, v' = 0.001,
    ///        m̂ = −0.369003690, v̂ = 0.333666889, p = 0.5 + 0.1·0.369003690/0.577639065 = 0.563881359
    /// (asserted: the same in Double with the Float hyperparameters, see step 1: 0.975855273,
    /// −1.982822771, 0.563881362).
    @Test("Adam step 3 against hand-computed values", arguments: TestBackends.all)
    func adamStep3(backend: String) throws {
        let be = try makeBackend(backend)
        var p: [Float] = [1.0, -2.0, 0.5]
        var m: [Float] = [0.1, -0.2, 0], v: [Float] = [0.01, 0.04, 0]
        let g: [Float] = [0.3, 0.1, -1.0]
        be.optimizers.adamStep(param: &p, m: &m, v: &v, grad: g, count: 3, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 3)
        expectClose(p, [0.9758552727002653, -1.9828227707923223, 0.5638813617708451], atol: 3e-8, rtol: 2e-7,
                    "adamStep[\(backend)] step 3 param", shape: "n=3")
        expectClose(m, [0.12000000730156923, -0.16999999538063992, -0.10000002384185791], atol: 0, rtol: 4e-7,
                    "adamStep[\(backend)] step 3 m", shape: "n=3")
        expectClose(v, [0.0100799987538903, 0.039969999493360504, 0.0009999871253967285], atol: 0, rtol: 4e-7,
                    "adamStep[\(backend)] step 3 v", shape: "n=3")
    }

    /// Moments that would fall below the smallest normal float are stored as 0 (subnormal arithmetic
    /// is slow), and smallest-normal ones are kept. 19 elements, so vector lanes and the scalar tail
    /// both see every case: with g = 0, m = ±1e-38 decays to ±9e-39 (flushed), while
    /// m = 2e-38 decays to 1.8e-38 (kept); v = 1.1e-38 decays below FLT_MIN (flushed), v = 1e-30 stays.
    /// A flushed m makes no update, so its weight is unchanged.
    @Test("Adam flushes subnormal moments to zero", arguments: TestBackends.all)
    func adamFlushesSubnormalMoments(backend: String) throws {
        let be = try makeBackend(backend)
        let mIn: [Float] = [1e-38, -1e-38, 2e-38, -2e-38, 0]
        let vIn: [Float] = [1.1e-38, 1.1e-38, 1e-30, 1e-30, 1.1e-38]
        let count = 19
        var p = [Float](repeating: 0.5, count: count)
        var m = (0..<count).map { mIn[$0 % 5] }, v = (0..<count).map { vIn[$0 % 5] }
        let g = [Float](repeating: 0, count: count)
        be.optimizers.adamStep(param: &p, m: &m, v: &v, grad: g, count: count, lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8,
                    step: 10)
        for i in 0..<count {
            let expectedM: Float = i % 5 == 0 || i % 5 == 1 || i % 5 == 4 ? 0 : 0.9 * mIn[i % 5]
            let expectedV: Float = i % 5 == 2 || i % 5 == 3 ? 0.999 * vIn[i % 5] : 0
            #expect(m[i] == expectedM, "adamStep[\(backend)] m[\(i)] = \(m[i]), expected \(expectedM)")
            #expect(v[i] == expectedV, "adamStep[\(backend)] v[\(i)] = \(v[i]), expected \(expectedV)")
            #expect(m[i].isZero || m[i].isNormal, "adamStep[\(backend)] m[\(i)] = \(m[i]) is subnormal")
            if expectedM == 0 { #expect(p[i] == 0.5, "adamStep[\(backend)] p[\(i)] moved: \(p[i])") }
        }
    }

    /// Five steps over 1003 elements (vector tails included) against the Double reference applied
    /// to the kernel's own Float state each step.
    @Test("Adam multi-step vs the Double reference", arguments: TestBackends.all)
    func adamSteps(backend: String) throws {
        let be = try makeBackend(backend)
        let n = 1003
        var p = randomFloats(n, seed: 51)
        var m = [Float](repeating: 0, count: n), v = m
        for step in 1...5 {
            let g = randomFloats(n, seed: seed(52, step), in: -2...2)
            let ref = Reference.adamStep(param: p, m: m, v: v, grad: g, lr: 1e-3, beta1: 0.9, beta2: 0.999,
                                         eps: 1e-8, step: step)
            be.optimizers.adamStep(param: &p, m: &m, v: &v, grad: g, count: n, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8,
                        step: step)
            expectClose(p, ref.param, atol: 1e-7, rtol: 1e-6, "adamStep[\(backend)] param", shape: "n=\(n) step \(step)")
            // m = b1·m + (1 − b1)·g can cancel: its rounding is relative to the terms (≤ 0.4 here).
            expectClose(m, ref.m, atol: 6e-8, rtol: 1e-6, "adamStep[\(backend)] m", shape: "n=\(n) step \(step)")
            expectClose(v, ref.v, atol: 1e-12, rtol: 1e-6, "adamStep[\(backend)] v", shape: "n=\(n) step \(step)")
        }
    }

    ///   p 1.0,  g 0.5,  lr 0.1 → 0.95
    ///   p −2.0, g −1,          → −1.9
    ///   p 0.5,  g 3            → 0.2
    @Test("SGD without momentum (velocity nil)", arguments: TestBackends.all)
    func sgdPlain(backend: String) throws {
        let be = try makeBackend(backend)
        var p: [Float] = [1.0, -2.0, 0.5]
        let g: [Float] = [0.5, -1.0, 3.0]
        be.optimizers.sgdStep(param: &p, velocity: nil, grad: g, count: 3, lr: 0.1, momentum: 0)
        expectClose(p, [0.95, -1.9, 0.2], atol: 1e-7, rtol: 1e-7, "sgdStep[\(backend)] no momentum", shape: "n=3")

        // Longer buffer, exact: p − lr·g is one multiply and one subtract in Float.
        let n = 1003
        let p0 = randomFloats(n, seed: 53), grad = randomFloats(n, seed: 54)
        var q = p0
        be.optimizers.sgdStep(param: &q, velocity: nil, grad: grad, count: n, lr: 0.01, momentum: 0)
        let expected = (0..<n).map { Double(p0[$0] - 0.01 * grad[$0]) }
        expectClose(q, expected, atol: 1e-7, rtol: 1e-7, "sgdStep[\(backend)] no momentum", shape: "n=\(n)")
    }

    /// Momentum 0.9, lr 0.1, two steps (vel = 0.9·vel + g; p −= lr·vel):
    ///   p 1.0:  g 0.5 then 0.25 → vel 0.5, p 0.95;  vel 0.45 + 0.25 = 0.7,  p 0.95 − 0.07  = 0.88
    ///   p −2.0: g −1 then 2     → vel −1,  p −1.9;  vel −0.9 + 2 = 1.1,     p −1.9 − 0.11  = −2.01
    ///   p 0.5:  g 3 then 0      → vel 3,   p 0.2;   vel 2.7,                p 0.2 − 0.27   = −0.07
    @Test("SGD with momentum", arguments: TestBackends.all)
    func sgdMomentum(backend: String) throws {
        let be = try makeBackend(backend)
        var p: [Float] = [1.0, -2.0, 0.5]
        var vel: [Float] = [0, 0, 0]
        be.optimizers.sgdStep(param: &p, velocity: &vel, grad: [0.5, -1.0, 3.0], count: 3, lr: 0.1, momentum: 0.9)
        expectClose(p, [0.95, -1.9, 0.2], atol: 1e-7, rtol: 1e-7, "sgdStep[\(backend)] momentum step 1", shape: "n=3")
        expectClose(vel, [0.5, -1, 3], atol: 1e-7, rtol: 1e-7, "sgdStep[\(backend)] velocity step 1", shape: "n=3")
        be.optimizers.sgdStep(param: &p, velocity: &vel, grad: [0.25, 2.0, 0.0], count: 3, lr: 0.1, momentum: 0.9)
        expectClose(p, [0.88, -2.01, -0.07], atol: 2e-7, rtol: 1e-7, "sgdStep[\(backend)] momentum step 2", shape: "n=3")
        expectClose(vel, [0.7, 1.1, 2.7], atol: 1e-7, rtol: 1e-7, "sgdStep[\(backend)] velocity step 2", shape: "n=3")

        // Longer buffer, three steps, against the Float formula evaluated in Double.
        let n = 1003
        var q = randomFloats(n, seed: 55)
        var u = [Float](repeating: 0, count: n)
        for step in 1...3 {
            let grad = randomFloats(n, seed: seed(56, step))
            let expectedVel = (0..<n).map { 0.9 * Double(u[$0]) + Double(grad[$0]) }
            let expectedP = (0..<n).map { Double(q[$0]) - 0.01 * expectedVel[$0] }
            be.optimizers.sgdStep(param: &q, velocity: &u, grad: grad, count: n, lr: 0.01, momentum: 0.9)
            expectClose(u, expectedVel, atol: 1e-7, rtol: 1e-6, "sgdStep[\(backend)] velocity", shape: "n=\(n) step \(step)")
            expectClose(q, expectedP, atol: 1e-7, rtol: 1e-6, "sgdStep[\(backend)] param", shape: "n=\(n) step \(step)")
        }
    }
}

@Suite("Swift kernels' vector square root")
struct VectorSquareRootTests {
    /// Adam's square root in the Swift kernels (Newton steps from a bit-level guess) against Double's,
    /// over normal floats from the smallest to the largest, with 0 and +∞ exact.
    @Test("within 4 ulps of the true root; 0 and +∞ exact")
    func matchesDouble() {
        var inputs: [Float] = [0, .infinity, .leastNormalMagnitude, .greatestFiniteMagnitude, 1, 2, 0.25, 1e-9]
        var x = Float.leastNormalMagnitude
        while x < Float.greatestFiniteMagnitude / 1.37 {
            inputs.append(x)
            x *= 1.37
        }
        while inputs.count % 8 != 0 { inputs.append(3) }
        for start in stride(from: 0, to: inputs.count, by: 8) {
            let lanes = SIMD8<Float>(inputs[start..<start + 8])
            let roots = squareRoot(nonNegative: lanes)
            for lane in 0..<8 {
                let input = lanes[lane], root = roots[lane]
                if input == 0 || input == .infinity {
                    #expect(root == input, "√\(input) gave \(root)")
                } else {
                    let exact = Double(input).squareRoot()
                    #expect(abs(Double(root) - exact) <= 4 * Double(Float(exact).ulp), "√\(input) gave \(root), exact \(exact)")
                }
            }
        }
    }
}

// The Swift kernels' AVX2 and AVX-512 builds side by side: the same bits. Both fuse multiply-adds and sum
// every GEMM element over k in the same order; the AVX-512 build's direct tile is 6×32 in 16-lane vectors
// instead of 6×16 in 8-lane ones, and its Winograd transforms take 16 channels at a time instead of 8,
// neither of which changes any lane's arithmetic. The shapes below cover the wide and half-width tiles,
// ragged edges, several K blocks, the swapped thin products, and the convolutions' in-place, greyscale and
// Winograd paths. (Each build is also checked against the references through TestBackends.all.)

import Dendrite
import Testing

@Suite struct SwiftBuildTests {
    @Test("AVX2 and AVX-512 builds give the same bits: GEMM in every layout, convolutions, dense epilogues")
    func vectorBuildsAgree() throws {
        guard SwiftKernelBuild.supported.contains(.avx512) else {
            print("SwiftBuildTests: skipped, this CPU lacks AVX-512")
            return
        }
        let results = [SwiftKernelBuild.avx2, .avx512].map { build in
            let backend = Backends.swift(build: build)
            return gemmResults(backend) + convolutionResults(backend)
        }
        expectBitwiseEqual(results[1], results[0], "swift avx512 vs avx2", shape: "every case, concatenated")
    }

    /// Products of every transpose, with beta 0 and 1: odd shapes (ragged tiles of both widths), N = 10 and 20
    /// (half-width tiles; swapped thin products), K = 500 (two K blocks).
    private func gemmResults(_ backend: Backend) -> [Float] {
        var all: [Float] = []
        for (m, k, n) in [(77, 60, 131), (200, 64, 10), (130, 500, 20), (9, 33, 47)] {
            for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = randomFloats(m * k, seed: 301), b = randomFloats(k * n, seed: 302)
                for beta: Float in [0, 1] {
                    var c = randomFloats(m * n, seed: 303)
                    backend.gemm.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a,
                                       lda: transA ? m : k, b: b, ldb: transB ? k : n, beta: beta, c: &c, ldc: n)
                    all += c
                }
            }
        }
        let (m, k, n) = (45, 70, 37)
        let x = randomFloats(m * k, seed: 304), w = randomFloats(k * n, seed: 305), bias = randomFloats(n, seed: 306)
        var out = [Float](repeating: .nan, count: m * n)
        backend.gemm.denseForward(out: &out, x: x, weight: w, bias: bias, m: m, n: n, k: k, activation: .elu(alpha: 1),
                                  epilogue: backend.elementwise)
        return all + out
    }

    /// Forward, input gradient and weight gradient of a Winograd layer (channels not a multiple of 16), a strided
    /// colour layer, and greyscale layers of 6 filters (pixel-row tiles; the weight gradient's block lanes, 8 or
    /// 16 blocks to a group, with a short last block).
    private func convolutionResults(_ backend: Backend) -> [Float] {
        var all: [Float] = []
        for (input, kernel, stride, padding, filters) in [
            (Shape(2, 13, 11, 20), 3, 1, Padding.same, 24),
            (Shape(3, 15, 14, 3), 5, 2, Padding.valid, 10),
            (Shape(2, 28, 28, 1), 5, 1, Padding.same, 6),
            (Shape(21, 19, 24, 1), 5, 1, Padding.same, 6),
        ] {
            let window = ConvolutionWindow(input: input, kernel: (kernel, kernel), stride: (stride, stride),
                                           padding: padding)
            let x = randomFloats(input.count, seed: 311), w = randomFloats(window.fieldSize * filters, seed: 312)
            let bias = randomFloats(filters, seed: 313), dout = randomFloats(window.pixels * filters, seed: 314)
            var out = [Float](repeating: .nan, count: window.pixels * filters)
            backend.gemm.convolutionForward(out: &out, input: x, weight: w, bias: bias, outChannels: filters,
                                            window: window, activation: .relu, unfolded: nil,
                                            unfold: backend.convolution, epilogue: backend.elementwise)
            var dx = [Float](repeating: .nan, count: x.count)
            backend.gemm.convolutionBackwardInputs(dinput: &dx, dout: dout, weight: w, outChannels: filters,
                                                   window: window, unfolded: nil, unfold: backend.convolution)
            var dw = randomFloats(w.count, seed: 315)
            backend.gemm.convolutionBackwardWeights(dweight: &dw, dout: dout, input: x, outChannels: filters,
                                                    window: window, accumulate: true, unfolded: nil)
            all += out + dx + dw
        }
        return all
    }
}

// Conv2D, pooling and dropout on every backend against Double-precision references, on odd shapes:
// stride 2, same/explicit padding, channels not a multiple of 8, batch 1, a pointwise (1×1) case.
// The ops run through the tape, so forward, input gradient and weight gradient are all checked;
// the loss is Σ out·r for a random r, so dL/dout = r.

import Dendrite
import Foundation
import Testing

struct ConvCase: Sendable, CustomTestStringConvertible {
    var n, h, w, c, filters, kh, kw, stride: Int
    var padding: Padding
    var testDescription: String {
        "\(n)×\(h)×\(w)×\(c) → \(filters) \(kh)x\(kw) stride \(stride) padding \(padding.text)"
    }

    static let all = [
        ConvCase(n: 1, h: 5, w: 6, c: 3, filters: 5, kh: 3, kw: 3, stride: 2, padding: .same),
        ConvCase(n: 2, h: 7, w: 5, c: 10, filters: 9, kh: 3, kw: 2, stride: 1, padding: .explicit(rows: 1, cols: 2)),
        ConvCase(n: 3, h: 4, w: 4, c: 4, filters: 3, kh: 1, kw: 1, stride: 1, padding: .valid),
        ConvCase(n: 2, h: 6, w: 6, c: 1, filters: 6, kh: 5, kw: 5, stride: 1, padding: .same),
        ConvCase(n: 2, h: 8, w: 7, c: 9, filters: 17, kh: 3, kw: 3, stride: 2, padding: .valid),
    ]
}

/// The window geometry of a case along one dimension, as Keras defines it.
private func geometry(_ size: Int, _ kernel: Int, _ stride: Int, _ padding: Padding, vertical: Bool) -> (before: Int, out: Int) {
    switch padding {
    case .valid: return (0, (size - kernel) / stride + 1)
    case .same:
        let out = (size + stride - 1) / stride
        return (max((out - 1) * stride + kernel - size, 0) / 2, out)
    case .explicit(let rows, let cols):
        let p = vertical ? rows : cols
        return (p, (size + 2 * p - kernel) / stride + 1)
    }
}

/// Direct convolution in Double: out, then dx, dw, db for dL/dout = r.
private func referenceConv(_ tc: ConvCase, x: [Float], w: [Float], b: [Float], r: [Float])
    -> (out: [Double], dx: [Double], dw: [Double], db: [Double]) {
    let (pt, oh) = geometry(tc.h, tc.kh, tc.stride, tc.padding, vertical: true)
    let (pl, ow) = geometry(tc.w, tc.kw, tc.stride, tc.padding, vertical: false)
    var out = [Double](repeating: 0, count: tc.n * oh * ow * tc.filters)
    var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: w.count)
    var db = [Double](repeating: 0, count: tc.filters)
    for n in 0..<tc.n {
        for oy in 0..<oh {
            for ox in 0..<ow {
                for o in 0..<tc.filters {
                    let index = ((n * oh + oy) * ow + ox) * tc.filters + o
                    var sum = Double(b[o])
                    let g = Double(r[index])
                    db[o] += g
                    for ky in 0..<tc.kh {
                        for kx in 0..<tc.kw {
                            let iy = oy * tc.stride - pt + ky, ix = ox * tc.stride - pl + kx
                            guard iy >= 0 && iy < tc.h && ix >= 0 && ix < tc.w else { continue }
                            for c in 0..<tc.c {
                                let xi = ((n * tc.h + iy) * tc.w + ix) * tc.c + c
                                let wi = ((ky * tc.kw + kx) * tc.c + c) * tc.filters + o
                                sum += Double(x[xi]) * Double(w[wi])
                                dx[xi] += g * Double(w[wi])
                                dw[wi] += g * Double(x[xi])
                            }
                        }
                    }
                    out[index] = sum
                }
            }
        }
    }
    return (out, dx, dw, db)
}

/// Runs `body` on a recording tape, then backward from Σ out·r; returns out and the gradients of `inputs`.
func runWithRandomCotangent(_ backend: Backend, inputs: [Variable], seed s: UInt64,
                            _ body: (Tape) -> Variable) -> (out: [Float], r: [Float], grads: [[Float]]) {
    let tape = Tape(backend: backend)
    let out = body(tape)
    let count = out.value.count
    let r = randomFloats(count, seed: s)
    let rv = Variable(Tensor(shape: Shape(count, 1), values: r))
    let loss = tape.matmul(tape.reshape(out, to: Shape(1, count)), rv)
    tape.backward(from: loss)
    return (out.value.scalars, r, inputs.map { $0.grad?.scalars ?? [] })
}

@Suite("Conv2D against a Double reference")
struct ConvolutionTests {
    @Test(arguments: TestBackends.all, ConvCase.all)
    func conv(backendName: String, tc: ConvCase) throws {
        let backend = try makeBackend(backendName)
        let xs = randomFloats(tc.n * tc.h * tc.w * tc.c, seed: seed(1, tc.c, tc.h))
        let ws = randomFloats(tc.kh * tc.kw * tc.c * tc.filters, seed: seed(2, tc.filters, tc.kh))
        let bs = randomFloats(tc.filters, seed: seed(3, tc.filters))
        let x = Variable(Tensor(shape: Shape(tc.n, tc.h, tc.w, tc.c), values: xs), requiresGrad: true)
        let w = Variable(Tensor(shape: Shape(tc.kh, tc.kw, tc.c, tc.filters), values: ws), requiresGrad: true)
        let b = Variable(Tensor(shape: Shape([tc.filters]), values: bs), requiresGrad: true)
        let got = runWithRandomCotangent(backend, inputs: [x, w, b], seed: seed(4, tc.n)) { tape in
            tape.conv2d(x, w, b, stride: (tc.stride, tc.stride), padding: tc.padding, .identity)
        }
        let expected = referenceConv(tc, x: xs, w: ws, b: bs, r: got.r)
        let what = "conv2d[\(backendName)]", shape = tc.testDescription
        expectClose(got.out, expected.out, atol: 1e-5, rtol: 1e-5, what + " forward", shape: shape)
        expectClose(got.grads[0], expected.dx, atol: 1e-5, rtol: 1e-5, what + " dx", shape: shape)
        expectClose(got.grads[1], expected.dw, atol: 1e-5, rtol: 1e-5, what + " dweight", shape: shape)
        expectClose(got.grads[2], expected.db, atol: 1e-5, rtol: 1e-5, what + " dbias", shape: shape)
    }

    /// The fused activation: conv + relu equals relu of the plain convolution.
    @Test(arguments: TestBackends.all)
    func fusedRelu(backendName: String) throws {
        let backend = try makeBackend(backendName)
        let tc = ConvCase.all[1]
        let x = Variable(Tensor(shape: Shape(tc.n, tc.h, tc.w, tc.c), values: randomFloats(tc.n * tc.h * tc.w * tc.c, seed: 5)))
        let w = Variable(Tensor(shape: Shape(tc.kh, tc.kw, tc.c, tc.filters),
                                values: randomFloats(tc.kh * tc.kw * tc.c * tc.filters, seed: 6)))
        let b = Variable(Tensor(shape: Shape([tc.filters]), values: randomFloats(tc.filters, seed: 7)))
        let tape = Tape(backend: backend)
        let plain = tape.conv2d(x, w, b, stride: (1, 1), padding: tc.padding, .identity).value.scalars
        let fused = tape.conv2d(x, w, b, stride: (1, 1), padding: tc.padding, .relu).value.scalars
        expectBitwiseEqual(fused, plain.map { max($0, 0) }, "conv2d relu[\(backendName)]", shape: tc.testDescription)
    }
}

// MARK: - Pooling

struct PoolCase: Sendable, CustomTestStringConvertible {
    var n, h, w, c, size, stride: Int
    var padding: Padding
    var testDescription: String { "\(n)×\(h)×\(w)×\(c) pool \(size) stride \(stride) padding \(padding.text)" }

    static let all = [
        PoolCase(n: 1, h: 6, w: 6, c: 3, size: 2, stride: 2, padding: .valid),
        PoolCase(n: 2, h: 7, w: 5, c: 11, size: 3, stride: 2, padding: .same),
        PoolCase(n: 2, h: 5, w: 6, c: 9, size: 3, stride: 1, padding: .explicit(rows: 1, cols: 1)),
        // Windows that tile the image, with a row and a column left over, and more than 64 channels.
        PoolCase(n: 2, h: 7, w: 9, c: 70, size: 2, stride: 2, padding: .valid),
        // The same with fewer channels than a vector (LeNet's 6), and with 3×3 windows.
        PoolCase(n: 3, h: 9, w: 7, c: 6, size: 2, stride: 2, padding: .valid),
        PoolCase(n: 2, h: 8, w: 10, c: 5, size: 3, stride: 3, padding: .valid),
        // Tiling windows padded after the image only ('same' over odd sizes): the last row and column of
        // windows cut to one pixel, averaged over what they cover.
        PoolCase(n: 2, h: 7, w: 5, c: 4, size: 2, stride: 2, padding: .same),
        // 2×2 windows over fewer channels than 16 go a lane per input float: one, three, eight (a whole
        // vector on the narrower paths, which keep the channel loop for it), fifteen channels, and a row
        // longer than the kernel's 256-lane segments; rows and columns left over.
        PoolCase(n: 3, h: 11, w: 13, c: 1, size: 2, stride: 2, padding: .valid),
        PoolCase(n: 3, h: 7, w: 13, c: 3, size: 2, stride: 2, padding: .valid),
        PoolCase(n: 2, h: 6, w: 10, c: 8, size: 2, stride: 2, padding: .valid),
        PoolCase(n: 2, h: 5, w: 9, c: 15, size: 2, stride: 2, padding: .valid),
        PoolCase(n: 2, h: 5, w: 91, c: 7, size: 2, stride: 2, padding: .valid),
    ]

    /// Windows that tile the image: each input pixel in at most one window.
    static let tiled = all.filter { $0.size == $0.stride && $0.padding == .valid }
}

/// Max or average pooling in Double (windows skip padding; max's gradient goes to the first largest).
private func referencePool(_ tc: PoolCase, max isMax: Bool, x: [Float], r: [Float]) -> (out: [Double], dx: [Double]) {
    let (pt, oh) = geometry(tc.h, tc.size, tc.stride, tc.padding, vertical: true)
    let (pl, ow) = geometry(tc.w, tc.size, tc.stride, tc.padding, vertical: false)
    var out = [Double](repeating: 0, count: tc.n * oh * ow * tc.c), dx = [Double](repeating: 0, count: x.count)
    for n in 0..<tc.n {
        for oy in 0..<oh {
            for ox in 0..<ow {
                for c in 0..<tc.c {
                    var members: [Int] = []
                    for ky in 0..<tc.size {
                        for kx in 0..<tc.size {
                            let iy = oy * tc.stride - pt + ky, ix = ox * tc.stride - pl + kx
                            if iy >= 0 && iy < tc.h && ix >= 0 && ix < tc.w { members.append(((n * tc.h + iy) * tc.w + ix) * tc.c + c) }
                        }
                    }
                    let index = ((n * oh + oy) * ow + ox) * tc.c + c
                    if isMax {
                        let best = members.max { x[$0] < x[$1] || (x[$0] == x[$1] && $0 > $1) }!
                        out[index] = Double(x[best])
                        dx[best] += Double(r[index])
                    } else {
                        out[index] = members.reduce(0) { $0 + Double(x[$1]) } / Double(members.count)
                        for m in members { dx[m] += Double(r[index]) / Double(members.count) }
                    }
                }
            }
        }
    }
    return (out, dx)
}

@Suite("Pooling against a Double reference")
struct PoolingTests {
    @Test(arguments: TestBackends.all, PoolCase.all)
    func pools(backendName: String, tc: PoolCase) throws {
        let backend = try makeBackend(backendName)
        let xs = randomFloats(tc.n * tc.h * tc.w * tc.c, seed: seed(11, tc.c))
        for kind in [PoolKind.max, .average] {
            let x = Variable(Tensor(shape: Shape(tc.n, tc.h, tc.w, tc.c), values: xs), requiresGrad: true)
            let got = runWithRandomCotangent(backend, inputs: [x], seed: seed(12, tc.h)) { tape in
                tape.pool2d(x, kind, size: (tc.size, tc.size), stride: (tc.stride, tc.stride), padding: tc.padding)
            }
            let expected = referencePool(tc, max: kind == .max, x: xs, r: got.r)
            let what = "\(kind)pool[\(backendName)]"
            expectClose(got.out, expected.out, atol: 1e-6, rtol: 1e-6, what + " forward", shape: tc.testDescription)
            expectClose(got.grads[0], expected.dx, atol: 1e-6, rtol: 1e-5, what + " dx", shape: tc.testDescription)
        }
    }

    @Test(arguments: TestBackends.all)
    func globalAveragePool(backendName: String) throws {
        let backend = try makeBackend(backendName)
        let tc = PoolCase(n: 3, h: 4, w: 5, c: 10, size: 0, stride: 1, padding: .valid)
        let xs = randomFloats(tc.n * tc.h * tc.w * tc.c, seed: 13)
        let x = Variable(Tensor(shape: Shape(tc.n, tc.h, tc.w, tc.c), values: xs), requiresGrad: true)
        let got = runWithRandomCotangent(backend, inputs: [x], seed: 14) { $0.globalAveragePool(x) }
        var out = [Double](repeating: 0, count: tc.n * tc.c), dx = [Double](repeating: 0, count: xs.count)
        let pixels = Double(tc.h * tc.w)
        for i in 0..<xs.count {
            let n = i / (tc.h * tc.w * tc.c), c = i % tc.c
            out[n * tc.c + c] += Double(xs[i]) / pixels
            dx[i] = Double(got.r[n * tc.c + c]) / pixels
        }
        expectClose(got.out, out, atol: 1e-6, rtol: 1e-5, "globalAveragePool[\(backendName)]", shape: "3×4×5×10")
        expectClose(got.grads[0], dx, atol: 1e-7, rtol: 1e-5, "globalAveragePool[\(backendName)] dx", shape: "3×4×5×10")
    }

    /// Max pool backward through a ReLU equals max pool backward, then the ReLU's derivative, bit for bit: on
    /// a ReLU's output with zeros (windows all zero among them), -0, and gradients of both signs and -0.
    @Test(arguments: TestBackends.all, PoolCase.all)
    func maxPoolThroughReLU(backendName: String, tc: PoolCase) throws {
        let backend = try makeBackend(backendName)
        let count = tc.n * tc.h * tc.w * tc.c
        // About two thirds of the inputs ≤ 0, so that many windows hold no positive value; then relu.
        var x = randomFloats(count, seed: seed(15, tc.c), in: -2...1).map { $0 < 0 ? Float(0) : $0 }
        for i in stride(from: 0, to: count, by: 7) where x[i] == 0 { x[i] = -0.0 }
        let window = ConvolutionWindow(input: Shape(tc.n, tc.h, tc.w, tc.c), kernel: (tc.size, tc.size),
                                       stride: (tc.stride, tc.stride), padding: tc.padding)
        var dout = randomFloats(tc.n * window.outputHeight * window.outputWidth * tc.c, seed: seed(16, tc.h))
        for i in stride(from: 0, to: dout.count, by: 5) { dout[i] = -0.0 }
        var pooled = [Float](repeating: .nan, count: count), twoPasses = pooled, onePass = pooled
        backend.convolution.maxPoolBackward(dinput: &pooled, dout: dout, input: x, window: window)
        backend.elementwise.activationBackward(dinput: &twoPasses, doutput: pooled, output: x, count: count, activation: .relu)
        backend.convolution.maxPoolReLUBackward(dinput: &onePass, dout: dout, input: x, window: window)
        expectBitwiseEqual(onePass, twoPasses, "maxpool relu backward[\(backendName)]", shape: tc.testDescription)
    }

    /// Max pool backward over windows that tile the image, with many exact ties (inputs from a few values, ±0
    /// among them) and gradients of -0: each window's gradient goes to its first maximum in row-major order,
    /// as the general kernel picks it, bit for bit; through a ReLU, only where that maximum is positive.
    @Test(arguments: TestBackends.all, PoolCase.tiled)
    func maxPoolTies(backendName: String, tc: PoolCase) throws {
        let backend = try makeBackend(backendName)
        let count = tc.n * tc.h * tc.w * tc.c
        let levels: [Float] = [-1, -0.0, 0, 1]
        let x = randomFloats(count, seed: seed(21, tc.c), in: 0...3.99).map { levels[Int($0)] }
        let window = ConvolutionWindow(input: Shape(tc.n, tc.h, tc.w, tc.c), kernel: (tc.size, tc.size),
                                       stride: (tc.stride, tc.stride), padding: tc.padding)
        var dout = randomFloats(tc.n * window.outputHeight * window.outputWidth * tc.c, seed: seed(22, tc.h))
        for i in stride(from: 0, to: dout.count, by: 3) { dout[i] = -0.0 }
        var plain = [Float](repeating: .nan, count: count), throughReLU = plain
        backend.convolution.maxPoolBackward(dinput: &plain, dout: dout, input: x, window: window)
        backend.convolution.maxPoolReLUBackward(dinput: &throughReLU, dout: dout, input: x, window: window)
        let expected = referencePool(tc, max: true, x: x, r: dout).dx.map { Float($0) }
        expectBitwiseEqual(plain, expected, "maxpool backward ties[\(backendName)]", shape: tc.testDescription)
        expectBitwiseEqual(throughReLU, zip(x, expected).map { $0 > 0 ? $1 : 0 },
                           "maxpool relu backward ties[\(backendName)]", shape: tc.testDescription)
    }

    /// Max pool forward with many exact ties (±0 among them), -∞ and NaN: each window's value is its first
    /// maximum in row-major order, a NaN never winning and -FLT_MAX where nothing exceeds it, bit for bit, as
    /// the general kernel's scan finds it (whichever way the tiling kernels go over the lanes).
    @Test(arguments: TestBackends.all, PoolCase.all)
    func maxPoolForwardTies(backendName: String, tc: PoolCase) throws {
        let backend = try makeBackend(backendName)
        let levels: [Float] = [-.infinity, -1, -0.0, 0, 1, .nan]
        let x = randomFloats(tc.n * tc.h * tc.w * tc.c, seed: seed(24, tc.c), in: 0...5.99).map { levels[Int($0)] }
        let window = ConvolutionWindow(input: Shape(tc.n, tc.h, tc.w, tc.c), kernel: (tc.size, tc.size),
                                       stride: (tc.stride, tc.stride), padding: tc.padding)
        let (oh, ow) = (window.outputHeight, window.outputWidth)
        var expected = [Float](repeating: 0, count: tc.n * oh * ow * tc.c)
        for n in 0..<tc.n {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for c in 0..<tc.c {
                        var best = -Float.greatestFiniteMagnitude
                        for ky in 0..<tc.size {
                            for kx in 0..<tc.size {
                                let iy = oy * tc.stride - window.padTop + ky, ix = ox * tc.stride - window.padLeft + kx
                                guard iy >= 0 && iy < tc.h && ix >= 0 && ix < tc.w else { continue }
                                let s = x[((n * tc.h + iy) * tc.w + ix) * tc.c + c]
                                if s > best { best = s }
                            }
                        }
                        expected[((n * oh + oy) * ow + ox) * tc.c + c] = best
                    }
                }
            }
        }
        var out = [Float](repeating: .nan, count: expected.count)
        backend.convolution.maxPoolForward(out: &out, input: x, window: window)
        expectBitwiseEqual(out, expected, "maxpool forward ties[\(backendName)]", shape: tc.testDescription)
    }

    /// Average pool backward over windows that tile the image, with gradients of -0 among them: each pixel of a
    /// window gets 0 + its share (d × 1/(size²), +0 for a share of -0), pixels of no window 0, bit for bit, as
    /// when the share is added to a zeroed image.
    @Test(arguments: TestBackends.all, PoolCase.tiled)
    func avgPoolTiledBackward(backendName: String, tc: PoolCase) throws {
        let backend = try makeBackend(backendName)
        let window = ConvolutionWindow(input: Shape(tc.n, tc.h, tc.w, tc.c), kernel: (tc.size, tc.size),
                                       stride: (tc.stride, tc.stride), padding: tc.padding)
        let (oh, ow) = (window.outputHeight, window.outputWidth)
        var dout = randomFloats(tc.n * oh * ow * tc.c, seed: seed(23, tc.h))
        for i in stride(from: 0, to: dout.count, by: 3) { dout[i] = -0.0 }
        var got = [Float](repeating: .nan, count: tc.n * tc.h * tc.w * tc.c)
        backend.convolution.avgPoolBackward(dinput: &got, dout: dout, window: window)
        let scale = 1 / Float(tc.size * tc.size)
        var expected = [Float](repeating: 0, count: got.count)
        for n in 0..<tc.n {
            for y in 0..<(oh * tc.size) {
                for x in 0..<(ow * tc.size) {
                    for c in 0..<tc.c {
                        let d = dout[((n * oh + y / tc.size) * ow + x / tc.size) * tc.c + c]
                        expected[((n * tc.h + y) * tc.w + x) * tc.c + c] = 0 + d * scale
                    }
                }
            }
        }
        expectBitwiseEqual(got, expected, "avgpool backward, tiled[\(backendName)]", shape: tc.testDescription)
    }

    /// A ReLU convolution read only by a max pool: the pool applies the derivative (Pool2DOp), and every
    /// gradient keeps the bits of the ReLU applied as its own op, whose output the pool does not fold into.
    @Test(arguments: TestBackends.all)
    func convReLUMaxPoolGradients(backendName: String) throws {
        let backend = try makeBackend(backendName)
        let (n, h, w, c, filters) = (2, 9, 8, 3, 20)
        let xs = randomFloats(n * h * w * c, seed: 17), ws = randomFloats(3 * 3 * c * filters, seed: 18)
        let bs = randomFloats(filters, seed: 19, in: -1...0.2) // many outputs ≤ 0
        func gradients(fused: Bool) -> [[Float]] {
            let x = Variable(Tensor(shape: Shape(n, h, w, c), values: xs), requiresGrad: true)
            let weight = Variable(Tensor(shape: Shape(3, 3, c, filters), values: ws), requiresGrad: true)
            let bias = Variable(Tensor(shape: Shape([filters]), values: bs), requiresGrad: true)
            let got = runWithRandomCotangent(backend, inputs: [x, weight, bias], seed: 20) { tape in
                let y = fused ? tape.conv2d(x, weight, bias, stride: (1, 1), padding: .valid, .relu)
                              : tape.activation(tape.conv2d(x, weight, bias, stride: (1, 1), padding: .valid, .identity), .relu)
                // 3×3 windows: the pool folds in the ReLU's derivative, but is not one whose gradients the
                // convolution takes whole (those of 2×2 windows of stride 2, checked below).
                return tape.pool2d(y, .max, size: (3, 3), stride: (2, 2), padding: .valid)
            }
            return got.grads
        }
        let fused = gradients(fused: true), separate = gradients(fused: false)
        for (i, name) in ["dx", "dweight", "dbias"].enumerated() {
            expectBitwiseEqual(fused[i], separate[i], "conv relu maxpool \(name)[\(backendName)]", shape: "2×9×8×3, 20 filters")
        }
    }

    /// A ReLU convolution read only by a 2×2 max pool: the C and Swift kernels take all its gradients straight
    /// from the pool's (Pool2DOp), in their own order; they must match the unfused path (the ReLU as its own op,
    /// which the pool does not fold into) to float rounding. First layers (input without a gradient) and inner
    /// ones; one channel and several (kernel rows of 9 to 64 floats); odd output sizes (a row and column no window
    /// covers); batches smaller than the kernels' 16 parts; 1 to 8 kernel rows.
    @Test(arguments: TestBackends.all, [
        (n: 1, h: 6, w: 6, c: 1, filters: 6, kh: 5, kw: 5, padding: Padding.same, inputGradient: false),
        (n: 17, h: 9, w: 11, c: 1, filters: 16, kh: 3, kw: 3, padding: .valid, inputGradient: true),
        (n: 3, h: 7, w: 8, c: 1, filters: 1, kh: 1, kw: 8, padding: .same, inputGradient: false),
        (n: 18, h: 12, w: 10, c: 2, filters: 7, kh: 8, kw: 2, padding: .valid, inputGradient: true),
        (n: 5, h: 14, w: 14, c: 6, filters: 16, kh: 5, kw: 5, padding: .valid, inputGradient: true),
        (n: 2, h: 9, w: 8, c: 13, filters: 32, kh: 3, kw: 4, padding: .same, inputGradient: true),
    ])
    func convReLUMaxPoolFusedBackward(backendName: String, tc: (n: Int, h: Int, w: Int, c: Int, filters: Int, kh: Int,
                                                                 kw: Int, padding: Padding, inputGradient: Bool)) throws {
        let backend = try makeBackend(backendName)
        let xs = randomFloats(tc.n * tc.h * tc.w * tc.c, seed: 21), ws = randomFloats(tc.kh * tc.kw * tc.c * tc.filters, seed: 22)
        let bs = randomFloats(tc.filters, seed: 23, in: -1...0.2) // many outputs ≤ 0, windows with no winner
        let shape = "\(tc.n)×\(tc.h)×\(tc.w)×\(tc.c) → \(tc.filters) \(tc.kh)x\(tc.kw) \(tc.padding.text)"
        let window = ConvolutionWindow(input: Shape(tc.n, tc.h, tc.w, tc.c), kernel: (tc.kh, tc.kw), stride: (1, 1),
                                       padding: tc.padding)
        if backendName.hasPrefix("c") || backendName.hasPrefix("swift") {
            #expect(backend.gemm.convolutionReLUMaxPoolBackwardApplies(window, outChannels: tc.filters),
                    "\(backendName) takes the fused path for \(shape)")
        }
        func gradients(fused: Bool) -> [[Float]] {
            let x = Variable(Tensor(shape: Shape(tc.n, tc.h, tc.w, tc.c), values: xs), requiresGrad: tc.inputGradient)
            let weight = Variable(Tensor(shape: Shape(tc.kh, tc.kw, tc.c, tc.filters), values: ws), requiresGrad: true)
            let bias = Variable(Tensor(shape: Shape([tc.filters]), values: bs), requiresGrad: true)
            return runWithRandomCotangent(backend, inputs: [weight, bias, x], seed: 24) { tape in
                let y = fused ? tape.conv2d(x, weight, bias, stride: (1, 1), padding: tc.padding, .relu)
                              : tape.activation(tape.conv2d(x, weight, bias, stride: (1, 1), padding: tc.padding, .identity), .relu)
                return tape.pool2d(y, .max, size: (2, 2), stride: (2, 2), padding: .valid)
            }.grads
        }
        let fused = gradients(fused: true), separate = gradients(fused: false)
        for (i, name) in ["dweight", "dbias", "dx"].enumerated() where i < 2 || tc.inputGradient {
            expectClose(fused[i], separate[i].map(Double.init), atol: 1e-5, rtol: 1e-5,
                        "conv relu maxpool, fused backward, \(name)[\(backendName)]", shape: shape)
        }
    }

    /// A 2×2 max pool with 'same' padding over an odd-sized ReLU convolution output cuts its last windows
    /// short: not the fused backward's windows, so the gradients keep the bits of the separate passes.
    @Test(arguments: TestBackends.all)
    func convReLUMaxPoolCutWindows(backendName: String) throws {
        let backend = try makeBackend(backendName)
        let (n, h, w, c, filters) = (2, 9, 7, 2, 5)
        let xs = randomFloats(n * h * w * c, seed: 25), ws = randomFloats(3 * 3 * c * filters, seed: 26)
        let bs = randomFloats(filters, seed: 27, in: -1...0.2)
        func gradients(fused: Bool) -> [[Float]] {
            let x = Variable(Tensor(shape: Shape(n, h, w, c), values: xs), requiresGrad: true)
            let weight = Variable(Tensor(shape: Shape(3, 3, c, filters), values: ws), requiresGrad: true)
            let bias = Variable(Tensor(shape: Shape([filters]), values: bs), requiresGrad: true)
            return runWithRandomCotangent(backend, inputs: [x, weight, bias], seed: 28) { tape in
                let y = fused ? tape.conv2d(x, weight, bias, stride: (1, 1), padding: .valid, .relu)
                              : tape.activation(tape.conv2d(x, weight, bias, stride: (1, 1), padding: .valid, .identity), .relu)
                return tape.pool2d(y, .max, size: (2, 2), stride: (2, 2), padding: .same)  // 7×5 → 4×3
            }.grads
        }
        let fused = gradients(fused: true), separate = gradients(fused: false)
        for (i, name) in ["dx", "dweight", "dbias"].enumerated() {
            expectBitwiseEqual(fused[i], separate[i], "conv relu maxpool 'same' \(name)[\(backendName)]", shape: "2×9×7×2, 5 filters")
        }
    }
}

// MARK: - Dropout

@Suite("Dropout")
struct DropoutTests {
    /// Kept values are scaled by 1/(1 - rate), about `rate` of them are dropped, the backward pass
    /// drops the same ones, and every backend draws the same mask for a key.
    @Test(arguments: [Float(0.25), 0.5])
    func masks(rate: Float) throws {
        let count = 10_007
        let x = randomFloatsAvoidingZero(count, seed: 21, magnitude: 1, gap: 0.01)
        var masks: [[Float]] = []
        for name in TestBackends.all {
            let backend = try makeBackend(name)
            var out = [Float](repeating: .nan, count: count)
            backend.regularization.dropout(out: &out, input: x, count: count, rate: rate, key: 0x1234_5678_9ABC, first: 0)
            let dropped = out.filter { $0 == 0 }.count
            #expect(abs(Double(dropped) / Double(count) - Double(rate)) < 0.02,
                    "dropout[\(name)] rate \(rate): dropped \(dropped) of \(count)")
            for i in 0..<count where out[i] != 0 {
                #expect(out[i] == x[i] * (1 / (1 - rate)), "dropout[\(name)]: element \(i) is \(out[i]) for input \(x[i])")
                break
            }
            masks.append(out)
            var other = [Float](repeating: .nan, count: count)
            backend.regularization.dropout(out: &other, input: x, count: count, rate: rate, key: 0x1234_5678_9ABD, first: 0)
            #expect(other != out, "dropout[\(name)]: two keys gave the same mask")
        }
        for (name, mask) in zip(TestBackends.all, masks).dropFirst() {
            expectBitwiseEqual(mask, masks[0], "dropout[\(name)] vs c", shape: "n=\(count)")
        }
        // Elements l and 16 + l of a block share a hash (one half each): their drops must still be
        // independent, both dropped about rate² of the time.
        let blocks = count / 32
        let both = (0..<blocks * 16).filter { masks[0][$0 / 16 * 32 + $0 % 16] == 0 && masks[0][$0 / 16 * 32 + 16 + $0 % 16] == 0 }
        #expect(abs(Double(both.count) / Double(blocks * 16) - Double(rate * rate)) < 0.02,
                "dropout rate \(rate): both halves of a hash dropped \(both.count) of \(blocks * 16) times")
    }

    /// The mask against a scalar reference of the documented hash, where a range starts off a block
    /// of 32 and where the indices wrap past 2^32 (a data-parallel rank's share starts anywhere).
    @Test(arguments: [0, 5, 1 << 20 | 17, (1 << 32) - 40])
    func againstReference(first: Int) throws {
        let count = 1_001, rate: Float = 0.3, key: UInt64 = 0xFEED_0000_BEEF
        func mix(_ v: UInt32) -> UInt32 {
            var h = v ^ (v >> 16)
            h = h &* 0x85EB_CA6B
            h ^= h >> 13
            h = h &* 0xC2B2_AE35
            return h ^ (h >> 16)
        }
        func keep(_ i: Int) -> Bool {
            let j = UInt32(truncatingIfNeeded: first + i)
            let h = mix(mix((j / 32 * 16 + j % 16) ^ UInt32(truncatingIfNeeded: key)) &+ UInt32(key >> 32))
            return (j & 16 == 0 ? h & 0xFFFF : h >> 16) >= UInt32(rate * 65536)
        }
        let x = randomFloatsAvoidingZero(count, seed: 24, magnitude: 1, gap: 0.01)
        let expected = (0..<count).map { keep($0) ? x[$0] * (1 / (1 - rate)) : 0 }
        for name in TestBackends.all {
            var out = [Float](repeating: .nan, count: count)
            try makeBackend(name).regularization.dropout(out: &out, input: x, count: count, rate: rate, key: key, first: first)
            expectBitwiseEqual(out, expected, "dropout[\(name)] first \(first) vs reference", shape: "n=\(count)")
        }
    }

    /// In evaluation (the tape not recording) dropout is the identity; in training the gradient
    /// passes where the value did.
    @Test(arguments: TestBackends.all)
    func trainingAndEvaluation(backendName: String) throws {
        let backend = try makeBackend(backendName)
        let xs = randomFloatsAvoidingZero(301, seed: 22, magnitude: 1, gap: 0.01)
        let x = Variable(Tensor(shape: Shape(7, 43), values: xs), requiresGrad: true)
        let evaluation = Tape(backend: backend)
        evaluation.isRecording = false
        #expect(evaluation.dropout(x, rate: 0.5).value.scalars == xs)
        let got = runWithRandomCotangent(backend, inputs: [x], seed: 23) { $0.dropout(x, rate: 0.5) }
        for i in 0..<xs.count {
            let expected: Float = got.out[i] == 0 ? 0 : got.r[i] * 2
            #expect(got.grads[0][i] == expected, "dropout[\(backendName)] dx[\(i)]: \(got.grads[0][i]), expected \(expected)")
        }
    }
}

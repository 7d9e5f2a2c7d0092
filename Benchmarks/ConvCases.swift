import Dendrite

/// Convolutions at the presets' shapes (batch 128) and a VGG-style 3×3 64→64 layer on 32×32 images
/// (batch 32: its unfolded input alone is 75 MB), each as the three parts of a training step:
/// forward (the product with bias and ReLU), input gradient and weight gradient, through the backend's
/// convolution products (see `GEMMKernels`). Work is the products' FLOPs, also where the C backend computes
/// the layer by Winograd's F(4×4, 3×3) with a quarter of the multiplications (`cnn conv2`, `vgg`): there the
/// share of the FMA peak can pass 100 %.
/// Then pooling, dropout and batch norm at the `cnn` and `cnn-bn` presets' shapes, whose work is bytes.
enum ConvCases {
    struct Layer {
        var name: String, input: Shape, filters: Int, kernel: Int, padding: Padding
    }

    static let layers = [
        Layer(name: "cnn conv1", input: Shape(128, 28, 28, 1), filters: 32, kernel: 3, padding: .valid),
        Layer(name: "cnn conv2", input: Shape(128, 26, 26, 32), filters: 64, kernel: 3, padding: .valid),
        Layer(name: "lenet5 conv1", input: Shape(128, 28, 28, 1), filters: 6, kernel: 5, padding: .same),
        Layer(name: "lenet5 conv2", input: Shape(128, 14, 14, 6), filters: 16, kernel: 5, padding: .valid),
        Layer(name: "vgg 3x3 64→64", input: Shape(32, 32, 32, 64), filters: 64, kernel: 3, padding: .same),
    ]

    static func all(quick: Bool) -> [BenchCase] {
        (quick ? Array(layers.prefix(2)) : layers).flatMap(convCases) + poolCases()
    }

    static func convCases(_ layer: Layer) -> [BenchCase] {
        let window = ConvolutionWindow(input: layer.input, kernel: (layer.kernel, layer.kernel), stride: (1, 1),
                                       padding: layer.padding)
        let m = window.pixels, k = window.fieldSize, n = layer.filters
        let flops = 2 * Double(m) * Double(n) * Double(k)
        let shape = "\(layer.name) \(dims(layer.input[0], layer.input[1], layer.input[2], layer.input[3]))→\(n)"
        struct Buffers {
            let x, col, weight, bias, out: FloatBuffer
            init(_ count: Int, _ m: Int, _ k: Int, _ n: Int) {
                x = FloatBuffer(count: count, seed: 1)
                col = FloatBuffer(count: m * k, seed: 2)
                weight = FloatBuffer(count: k * n, in: -0.1...0.1, seed: 3)
                bias = FloatBuffer(count: n, seed: 4)
                out = FloatBuffer(count: m * n, seed: 5)
            }
        }
        func make(_ part: String, _ body: @escaping (Backend, Buffers) -> Void) -> BenchCase {
            BenchCase(name: "conv \(part) \(shape)", group: "conv", work: .flops(flops), includesOpenBLAS: true) {
                let buffers = Buffers(layer.input.count, m, k, n)
                return { backend in { body(backend, buffers) } }
            }
        }
        // The backend's convolution products, as a training step calls them: the C kernels' Winograd or implicit
        // GEMM, or im2col into the whole buffer, the products and col2im for the others.
        func unfolded(_ backend: Backend, _ b: Buffers) -> UnsafeMutablePointer<Float>? {
            backend.gemm.convolutionNeedsUnfoldedInput(window, outChannels: n) ? b.col.pointer : nil
        }
        return [
            make("forward") { backend, b in
                backend.gemm.convolutionForward(out: b.out.pointer, input: b.x.readOnly, weight: b.weight.readOnly,
                                                bias: b.bias.readOnly, outChannels: n, window: window, activation: .relu,
                                                unfolded: unfolded(backend, b), unfold: backend.convolution,
                                                epilogue: backend.elementwise)
            },
            make("input grad") { backend, b in
                backend.gemm.convolutionBackwardInputs(dinput: b.x.pointer, dout: b.out.readOnly, weight: b.weight.readOnly,
                                                       outChannels: n, window: window, unfolded: unfolded(backend, b),
                                                       unfold: backend.convolution)
            },
            make("weight grad") { backend, b in
                // The whole-buffer path reads the buffer its forward filled; the implicit GEMM unfolds again.
                backend.gemm.convolutionBackwardWeights(dweight: b.weight.pointer, dout: b.out.readOnly, input: b.x.readOnly,
                                                        outChannels: n, window: window, accumulate: false,
                                                        unfolded: unfolded(backend, b).map { UnsafePointer($0) })
            },
        ]
    }

    /// The `cnn` preset's max pool (128×24×24×64 → 12×12) and its dropout (128×12×12×64).
    static func poolCases() -> [BenchCase] {
        let input = Shape(128, 24, 24, 64)
        let window = ConvolutionWindow(input: input, kernel: (2, 2), stride: (2, 2), padding: .valid)
        let big = input.count, small = window.pixels * 64, b = 4.0
        func make(_ name: String, _ bytes: Double, _ body: @escaping (Backend, FloatBuffer, FloatBuffer, FloatBuffer) -> Void)
            -> BenchCase {
            BenchCase(name: name, group: "conv", work: .bytes(bytes)) {
                let x = FloatBuffer(count: big, seed: 1), y = FloatBuffer(count: small, seed: 2), dx = FloatBuffer(count: big)
                return { backend in { body(backend, x, y, dx) } }
            }
        }
        return [
            make("maxpool 2 forward \(dims(128, 24, 24, 64))", b * Double(big + small)) { backend, x, y, _ in
                backend.convolution.maxPoolForward(out: y.pointer, input: x.readOnly, window: window)
            },
            make("maxpool 2 backward \(dims(128, 24, 24, 64))", b * Double(2 * big + small)) { backend, x, y, dx in
                backend.convolution.maxPoolBackward(dinput: dx.pointer, dout: y.readOnly, input: x.readOnly, window: window)
            },
            make("avgpool 2 forward \(dims(128, 24, 24, 64))", b * Double(big + small)) { backend, x, y, _ in
                backend.convolution.avgPoolForward(out: y.pointer, input: x.readOnly, window: window)
            },
            make("avgpool 2 backward \(dims(128, 24, 24, 64))", b * Double(big + small)) { backend, _, y, dx in
                backend.convolution.avgPoolBackward(dinput: dx.pointer, dout: y.readOnly, window: window)
            },
            make("dropout 0.25 \(dims(128, 12, 12, 64))", b * Double(2 * small)) { backend, _, y, dx in
                backend.regularization.dropout(out: dx.pointer, input: y.readOnly, count: small, rate: 0.25, key: 7, first: 0)
            },
        ] + batchNormCases(rows: window.batch * window.height * window.width, channels: input[3])
    }

    /// The `cnn-bn` preset's batch norm after its second convolution (128×24×24 rows of 64 channels), training
    /// mode. Work is the bytes its passes move: statistics read the input twice (mean, then squared deviations)
    /// and the forward reads and writes it; the backward's sums read input and gradient, then its second pass
    /// reads both and writes the input gradient.
    static func batchNormCases(rows: Int, channels: Int) -> [BenchCase] {
        let count = rows * channels, b = 4.0
        struct Buffers {
            let x, y, dy, mean, variance, invstd, gamma, beta, dgamma, dbeta: FloatBuffer
            init(count: Int, channels: Int) {
                (x, y, dy) = (FloatBuffer(count: count, seed: 1), FloatBuffer(count: count), FloatBuffer(count: count, seed: 2))
                (mean, variance) = (FloatBuffer(count: channels), FloatBuffer(count: channels))
                invstd = FloatBuffer(count: channels, in: 0.5...2, seed: 3)
                (gamma, beta) = (FloatBuffer(count: channels, seed: 4), FloatBuffer(count: channels, seed: 5))
                (dgamma, dbeta) = (FloatBuffer(count: channels), FloatBuffer(count: channels))
            }
        }
        func make(_ name: String, _ bytes: Double, _ body: @escaping (Backend, Buffers) -> Void) -> BenchCase {
            BenchCase(name: "batchnorm \(name) \(dims(rows, channels))", group: "conv", work: .bytes(bytes)) {
                let buffers = Buffers(count: count, channels: channels)
                return { backend in { body(backend, buffers) } }
            }
        }
        return [
            make("statistics + forward", b * Double(4 * count)) { backend, t in
                let kernels = backend.regularization
                kernels.batchNormStatistics(mean: t.mean.pointer, variance: t.variance.pointer, input: t.x.readOnly,
                                            rows: rows, channels: channels)
                kernels.batchNormForward(out: t.y.pointer, input: t.x.readOnly, mean: t.mean.readOnly,
                                         invstd: t.invstd.readOnly, gamma: t.gamma.readOnly, beta: t.beta.readOnly,
                                         rows: rows, channels: channels)
            },
            make("backward", b * Double(5 * count)) { backend, t in
                backend.regularization.batchNormBackward(dinput: t.y.pointer, dgamma: t.dgamma.pointer,
                                                         dbeta: t.dbeta.pointer, dout: t.dy.readOnly, input: t.x.readOnly,
                                                         mean: t.mean.readOnly, invstd: t.invstd.readOnly,
                                                         gamma: t.gamma.readOnly, rows: rows, channels: channels)
            },
        ]
    }
}

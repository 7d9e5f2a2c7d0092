import Dendrite

/// Every kernel but matmul: activations and softmaxes at the MLP's hidden (128×256) and logits (128×10)
/// shapes plus a large 4096×4096 one that leaves the caches; optimizers over the first layer's weights;
/// the small helpers at the shapes training calls them with. All are memory-bound, so work is bytes.
enum KernelCases {
    static let activations: [Activation] = [.relu, .leakyReLU(), .sigmoid, .tanh, .elu(), .selu]
    static let bytesPerFloat = 4.0

    static func all(quick: Bool) -> [BenchCase] {
        // 4096×4096 buffers are 64 MiB each and take long per call: skipped by --quick.
        let shapes = quick ? [(128, 256), (128, 10)] : [(128, 256), (128, 10), (4096, 4096)]
        var cases: [BenchCase] = []
        for (rows, cols) in shapes {
            for activation in activations { cases += activationCases(activation, rows, cols) }
        }
        for (rows, cols) in shapes { cases += softmaxCases(rows, cols) }
        return cases + optimizerCases() + helperCases()
    }

    /// Input in [-4, 4] reaches both sides of every nonlinearity; the backward pass gets the real
    /// forward output, since derivatives are computed from it.
    static func activationCases(_ activation: Activation, _ rows: Int, _ cols: Int) -> [BenchCase] {
        let n = rows * cols, shape = dims(rows, cols), floats = Double(n) * bytesPerFloat
        struct Buffers {
            let input: FloatBuffer, output: FloatBuffer, bias: FloatBuffer, dout: FloatBuffer
            init(_ n: Int, _ cols: Int, _ activation: Activation) {
                input = FloatBuffer(count: n, in: -4...4, seed: 1)
                output = FloatBuffer(count: n, seed: 2)
                bias = FloatBuffer(count: cols, seed: 3)
                dout = FloatBuffer(count: n, seed: 4)
                Backends.c.elementwise.activationForward(out: output.pointer, input: input.readOnly, count: n, activation: activation)
            }
        }
        return [
            BenchCase(name: "\(activation) forward \(shape)", group: "activation", work: .bytes(2 * floats)) {
                let buffers = Buffers(n, cols, activation), out = FloatBuffer(count: n)
                return { backend in
                    { backend.elementwise.activationForward(out: out.pointer, input: buffers.input.readOnly, count: n, activation: activation) }
                }
            },
            BenchCase(name: "\(activation) backward \(shape)", group: "activation", work: .bytes(3 * floats)) {
                let buffers = Buffers(n, cols, activation), dinput = FloatBuffer(count: n)
                return { backend in
                    {
                        backend.elementwise.activationBackward(dinput: dinput.pointer, doutput: buffers.dout.readOnly,
                                                   output: buffers.output.readOnly, count: n, activation: activation)
                    }
                }
            },
            BenchCase(name: "\(activation) bias+act \(shape)", group: "activation",
                      work: .bytes(2 * floats + Double(cols) * bytesPerFloat)) {
                let buffers = Buffers(n, cols, activation), out = FloatBuffer(count: n)
                return { backend in
                    {
                        backend.elementwise.biasActivationForward(out: out.pointer, input: buffers.input.readOnly,
                                                      bias: buffers.bias.readOnly, rows: rows, cols: cols,
                                                      activation: activation)
                    }
                }
            },
        ]
    }

    static func softmaxCases(_ rows: Int, _ cols: Int) -> [BenchCase] {
        let n = rows * cols, shape = dims(rows, cols), floats = Double(n) * bytesPerFloat
        /// Logits in [-8, 8] and the forward outputs the backward passes start from.
        func logitsAndOutput(_ forward: (Backend, UnsafeMutablePointer<Float>, UnsafePointer<Float>) -> Void)
            -> (FloatBuffer, FloatBuffer) {
            let logits = FloatBuffer(count: n, in: -8...8, seed: 1), output = FloatBuffer(count: n)
            forward(Backends.c, output.pointer, logits.readOnly)
            return (logits, output)
        }
        func softmax(_ b: Backend, _ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>) {
            b.losses.softmaxForward(out: out, input: x, rows: rows, cols: cols)
        }
        func logSoftmax(_ b: Backend, _ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>) {
            b.losses.logSoftmaxForward(out: out, input: x, rows: rows, cols: cols)
        }
        return [
            BenchCase(name: "softmax forward \(shape)", group: "softmax", work: .bytes(2 * floats)) {
                let (logits, out) = logitsAndOutput(softmax)
                return { backend in { softmax(backend, out.pointer, logits.readOnly) } }
            },
            BenchCase(name: "softmax backward \(shape)", group: "softmax", work: .bytes(3 * floats)) {
                let (_, output) = logitsAndOutput(softmax)
                let dout = FloatBuffer(count: n, seed: 4), dinput = FloatBuffer(count: n)
                return { backend in
                    { backend.losses.softmaxBackward(dinput: dinput.pointer, doutput: dout.readOnly, output: output.readOnly, rows: rows, cols: cols) }
                }
            },
            BenchCase(name: "log-softmax forward \(shape)", group: "softmax", work: .bytes(2 * floats)) {
                let (logits, out) = logitsAndOutput(logSoftmax)
                return { backend in { logSoftmax(backend, out.pointer, logits.readOnly) } }
            },
            BenchCase(name: "log-softmax backward \(shape)", group: "softmax", work: .bytes(3 * floats)) {
                let (_, output) = logitsAndOutput(logSoftmax)
                let dout = FloatBuffer(count: n, seed: 4), dinput = FloatBuffer(count: n)
                return { backend in
                    { backend.losses.logSoftmaxBackward(dinput: dinput.pointer, doutput: dout.readOnly, output: output.readOnly, rows: rows, cols: cols) }
                }
            },
            // As training calls it: per-row losses and the gradient in one pass.
            BenchCase(name: "softmax-CE \(shape)", group: "softmax",
                      work: .bytes(2 * floats + 8 * Double(rows))) {
                let logits = FloatBuffer(count: n, in: -8...8, seed: 1), dlogits = FloatBuffer(count: n)
                let losses = FloatBuffer(count: rows), labels = randomLabels(count: rows, classes: cols)
                return { backend in
                    {
                        _ = labels.withUnsafeBufferPointer { labels in
                            backend.losses.softmaxCrossEntropy(losses: losses.pointer, dlogits: dlogits.pointer,
                                                        logits: logits.readOnly, labels: labels.baseAddress!,
                                                        rows: rows, cols: cols, gradScale: 1 / Float(rows))
                        }
                    }
                }
            },
        ]
    }

    /// Over the largest parameter, layer 1's 784×256 weights. Adam reads and writes p, m, v and reads g.
    static func optimizerCases() -> [BenchCase] {
        let n = 784 * 256, shape = dims(784, 256), floats = Double(n) * bytesPerFloat
        func state() -> [FloatBuffer] { (1...4).map { FloatBuffer(count: n, in: 0...1, seed: UInt64($0)) } }
        return [
            BenchCase(name: "adam \(shape)", group: "optimizer", work: .bytes(7 * floats)) {
                let s = state()
                return { backend in
                    {
                        backend.optimizers.adamStep(param: s[0].pointer, m: s[1].pointer, v: s[2].pointer, grad: s[3].readOnly,
                                         count: n, lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 100)
                    }
                }
            },
            adamOverModel(sweep: true),
            adamOverModel(sweep: false),
            BenchCase(name: "sgd momentum \(shape)", group: "optimizer", work: .bytes(5 * floats)) {
                let s = state()
                return { backend in
                    { backend.optimizers.sgdStep(param: s[0].pointer, velocity: s[1].pointer, grad: s[2].readOnly, count: n, lr: 0.01, momentum: 0.9) }
                }
            },
        ]
    }

    /// Adam over every parameter of the lab's MLP (269,322 floats in six tensors), as the optimizer runs it:
    /// one call over the parameter arena, or (`sweep: false`) one call per tensor window of the same arena.
    static func adamOverModel(sweep: Bool) -> BenchCase {
        let shapes = try! TrainingConfiguration().model.parameterShapes(inputShape: TrainingCases.exampleShape,
                                                                        classes: TrainingCases.classes).map { Shape($0.shape) }
        let (offsets, count) = Arena.layout(shapes)
        let floats = Double(shapes.reduce(0) { $0 + $1.count }) * bytesPerFloat
        return BenchCase(name: "adam, lab MLP, " + (sweep ? "one call over the arena" : "a call per tensor"),
                         group: "optimizer", work: .bytes(7 * floats)) {
            let s = (1...4).map { FloatBuffer(count: count, in: 0...1, seed: UInt64($0)) }
            let ranges = sweep ? [(0, count)] : zip(offsets, shapes).map { ($0, $1.count) }
            return { backend in
                {
                    for (offset, n) in ranges {
                        backend.optimizers.adamStep(param: s[0].pointer + offset, m: s[1].pointer + offset,
                                                    v: s[2].pointer + offset, grad: s[3].readOnly + offset, count: n,
                                                    lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 100)
                    }
                }
            }
        }
    }

    /// The remaining kernels of a training step, at the shapes it calls them with.
    static func helperCases() -> [BenchCase] {
        let hidden = 128 * 256, weights = 784 * 256, b = bytesPerFloat
        func unary(_ name: String, _ n: Int, bytesPerElement: Double,
                   _ call: @escaping (Backend, UnsafeMutablePointer<Float>, UnsafePointer<Float>) -> Void) -> BenchCase {
            BenchCase(name: name, group: "other", work: .bytes(bytesPerElement * Double(n))) {
                let y = FloatBuffer(count: n, seed: 1), x = FloatBuffer(count: n, seed: 2)
                return { backend in { call(backend, y.pointer, x.readOnly) } }
            }
        }
        return [
            unary("bias add \(dims(128, 256))", hidden, bytesPerElement: 2 * b) { backend, y, x in
                backend.elementwise.biasAdd(out: y, input: x, bias: x, rows: 128, cols: 256)
            },
            unary("bias backward \(dims(128, 256))", hidden, bytesPerElement: b) { backend, y, x in
                backend.elementwise.biasBackward(dbias: y, dout: x, rows: 128, cols: 256, accumulate: false)
            },
            unary("add in place \(dims(784, 256))", weights, bytesPerElement: 3 * b) { backend, y, x in
                backend.elementwise.addInPlace(y, x, count: weights)
            },
            // Scaling by 1 keeps the values bounded however many calls run.
            unary("scale in place \(dims(784, 256))", weights, bytesPerElement: 2 * b) { backend, y, _ in
                backend.elementwise.scaleInPlace(y, by: 1, count: weights)
            },
            unary("sum \(dims(784, 256))", weights, bytesPerElement: b) { backend, _, x in
                _ = backend.elementwise.sum(x, count: weights)
            },
            unary("sum of squares \(dims(784, 256))", weights, bytesPerElement: b) { backend, _, x in
                _ = backend.elementwise.sumOfSquares(x, count: weights)
            },
            BenchCase(name: "argmax rows \(dims(128, 10))", group: "other", work: .bytes(b * 128 * 10)) {
                let logits = FloatBuffer(count: 128 * 10)
                var predictions = [Int32](repeating: 0, count: 128)
                return { backend in
                    { predictions.withUnsafeMutableBufferPointer { backend.losses.argmaxRows(out: $0.baseAddress!, input: logits.readOnly, rows: 128, cols: 10) } }
                }
            },
            // A batch of 128 random images out of 60,000: one byte read and one float written per pixel.
            BenchCase(name: "gather rows \(dims(128, 784))", group: "other", work: .bytes((1 + b) * 128 * 784)) {
                var generator = SeededGenerator(seed: 5)
                let images = (0..<60_000 * 784).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                let indices = randomLabels(count: 128, classes: 60_000), out = FloatBuffer(count: 128 * 784)
                return { backend in
                    {
                        images.withUnsafeBufferPointer { images in
                            indices.withUnsafeBufferPointer { indices in
                                backend.data.gatherRows(out: out.pointer, images: images.baseAddress!, indices: indices.baseAddress!,
                                                   rows: 128, cols: 784, scale: 1 / 255)
                            }
                        }
                    }
                }
            },
        ]
    }
}

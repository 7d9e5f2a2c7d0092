// conv2d: out (N, OH, OW, OC) = f(col · weight + bias), with x (N, H, W, C) NHWC, weight
// (KH, KW, C, OC) as in Keras (viewed as a (KH·KW·C, OC) matrix), col = im2col(x) (N·OH·OW, KH·KW·C).
// The backend's convolution products compute it: the C kernels unfold a cache-sized chunk at a time (implicit
// GEMM), or, for 3×3 stride-1 layers of 16 channels and more, by Winograd's F(4×4, 3×3) (profiled as
// conv2d.winograd.*, with the FLOPs of the products it stands for); others need col whole, in a tape buffer the
// op keeps for the backward. A 1×1 stride-1 unpadded convolution is the dense layer's products on x itself.
// Backward: dz = dout·f'(out) (from the output alone), dbias = Σ_pixels dz, dweight = colᵀ·dz, then
// dx = col2im(dz·weightᵀ) (written over col when there is one: no longer needed). A max pool that is the
// output's only reader may apply a ReLU's f' as it writes dout (see Pool2DOp): then dz is dout itself; or compute
// all of this op's gradients itself, leaving the output without a gradient (this backward then does nothing).

extension Tape {
    /// A 2-D convolution of `x` (N, H, W, C) with `weight` (KH, KW, C, OC), then `activation(· + bias)`.
    public func conv2d(_ x: Variable, _ weight: Variable, _ bias: Variable, stride: (Int, Int), padding: Padding,
                       _ activation: Activation) -> Variable {
        let xs = x.value.shape, ws = weight.value.shape
        precondition(xs.rank == 4 && ws.rank == 4 && ws[2] == xs[3],
                     "conv2d: x must be (N, H, W, C) and weight (KH, KW, C, OC), got x \(xs), weight \(ws)")
        precondition(bias.value.count == ws[3], "conv2d: bias must have \(ws[3]) elements, got \(bias.value.shape)")
        let window = ConvolutionWindow(input: xs, kernel: (ws[0], ws[1]), stride: stride, padding: padding)
        let m = window.pixels, k = window.fieldSize, n = ws[3]
        precondition(m > 0, "conv2d: a \(ws[0])×\(ws[1]) window with stride \(stride) and padding \(padding.text) "
                     + "leaves no output pixels of x \(xs)")
        let out = output(Shape(xs[0], window.outputHeight, window.outputWidth, n),
                         requiresGrad: tracksGradient(x, weight) || tracksGradient(bias))
        let y = out.value.mutablePointer
        let unfolded: Variable?
        if window.isPointwise {
            unfolded = nil
            profiled(profiler, "conv2d.forward", .forward, m: m, n: n, k: k, flops: 2 * Double(m * n * k)) {
                backend.gemm.denseForward(out: y, x: x.value.pointer, weight: weight.value.pointer,
                                          bias: bias.value.pointer, m: m, n: n, k: k, activation: activation,
                                          epilogue: backend.elementwise)
            }
        } else {
            unfolded = backend.gemm.convolutionNeedsUnfoldedInput(window, outChannels: n) ? output(Shape(m, k), requiresGrad: false) : nil
            let col = unfolded?.value.mutablePointer
            let winograd = backend.gemm.convolutionUsesWinograd(window, outChannels: n, activation: activation)
            profiled(profiler, winograd ? "conv2d.winograd.forward" : "conv2d.forward", .forward, m: m, n: n, k: k, flops: 2 * Double(m * n * k)) {
                backend.gemm.convolutionForward(out: y, input: x.value.pointer, weight: weight.value.pointer,
                                                bias: bias.value.pointer, outChannels: n, window: window,
                                                activation: activation, unfolded: col, unfold: backend.convolution,
                                                epilogue: backend.elementwise)
            }
        }
        if out.requiresGrad {
            let op = makeOp(Conv2DOp.self)
            (op.x, op.weight, op.bias, op.out, op.unfolded, op.window, op.activation) =
                (x, weight, bias, out, unfolded, window, activation)
            op.derivativeApplied = false
            record(op)
        }
        return out
    }
}

final class Conv2DOp: TapeOp {
    var x: Variable!, weight: Variable!, bias: Variable!, out: Variable!
    /// im2col(x) when the backend's products need it whole (never for a pointwise convolution).
    var unfolded: Variable?
    var window = ConvolutionWindow.empty
    var activation = Activation.identity
    /// The output's gradient already carries the activation's derivative: its only reader, a max pool,
    /// applied the ReLU's as it wrote it (then the gradient is dz, not the output's own).
    var derivativeApplied = false

    var output: Variable { out }
    var diagnosticName: String { "conv2d \(activation).forward (\(weight.name))" }
    func forEachInput(_ body: (Variable) -> Void) { body(x); body(weight); body(bias) }

    func backward(on tape: Tape) {
        guard out.hasGradient else { return }
        let dz: UnsafePointer<Float>
        if activation == .identity || derivativeApplied {
            dz = UnsafePointer(out.grad!.mutablePointer)
        } else {
            let scratch = tape.output(out.value.shape, requiresGrad: false).value.mutablePointer
            tape.activationDerivative(out: out, activation, into: scratch)
            dz = UnsafePointer(scratch)
        }
        let window = window, m = window.pixels, k = window.fieldSize, n = weight.value.shape[3]
        if bias.requiresGrad { tape.accumulateBiasGradient(bias, dout: dz, shape: Shape(m, n)) }
        let backend = tape.backend
        let winograd = !window.isPointwise
            && backend.gemm.convolutionUsesWinograd(window, outChannels: n, activation: .identity)
        if weight.requiresGrad {
            let accumulate = weight.hasGradient
            let dweight = weight.gradientBuffer()
            let input = x.value.pointer, col = unfolded.map { UnsafePointer($0.value.mutablePointer) }
            profiled(tape.profiler, winograd ? "conv2d.winograd.backward.weights" : "conv2d.backward.weights", .backward, m: k, n: n, k: m, flops: 2 * Double(m * n * k)) {
                if window.isPointwise {
                    backend.gemm.sgemm(transA: true, transB: false, m: k, n: n, k: m, alpha: 1, a: input, lda: k,
                                       b: dz, ldb: n, beta: accumulate ? 1 : 0, c: dweight, ldc: n)
                } else {
                    backend.gemm.convolutionBackwardWeights(dweight: dweight, dout: dz, input: input, outChannels: n,
                                                            window: window, accumulate: accumulate, unfolded: col)
                }
            }
            weight.hasGradient = true
        }
        guard x.requiresGrad else { return }
        let w = weight.value.pointer
        let dcol = unfolded?.value.mutablePointer  // its last reader was the weight gradient above
        tape.contributeGradient(to: x) { dx in
            profiled(tape.profiler, winograd ? "conv2d.winograd.backward.inputs" : "conv2d.backward.inputs", .backward, m: m, n: k, k: n, flops: 2 * Double(m * n * k)) {
                if window.isPointwise {
                    backend.gemm.sgemm(transA: false, transB: true, m: m, n: k, k: n, alpha: 1, a: dz, lda: n,
                                       b: w, ldb: n, beta: 0, c: dx, ldc: k)
                } else {
                    backend.gemm.convolutionBackwardInputs(dinput: dx, dout: dz, weight: w, outChannels: n,
                                                           window: window, unfolded: dcol, unfold: backend.convolution)
                }
            }
        }
    }
}

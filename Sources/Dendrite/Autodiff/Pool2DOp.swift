// max / average pooling: out (N, OH, OW, C) = the max or mean of each window of x (N, H, W, C),
// padding left out of the windows. Global average pooling is average pooling with one window the
// size of the image, its output viewed as (N, C).
// Backward: max pooling adds dout at each window's first largest input (recomputed from x); average
// pooling spreads dout evenly over each window's elements. A max pool whose input is a ReLU convolution's
// output, read by nothing else, also applies the ReLU's derivative as it writes (keeping dout only where
// the maximum is > 0), which saves the convolution a pass over its output and its gradient; same bits.
// That input's gradient is then the one that reaches the convolution's sum, not the ReLU output's own
// (they differ where the output is 0). When the pool's 2×2 windows of stride 2 tile the convolution's
// output, the backend may go further and take all the convolution's gradients straight from the pool's (a
// quarter of the multiply-adds, no output gradient written; summed in another order, so other bits than the
// separate passes).

public enum PoolKind: Sendable {
    case max, average
}

extension Tape {
    /// Max or average pooling of `x` (N, H, W, C) with a `size` window moved by `stride`.
    public func pool2d(_ x: Variable, _ kind: PoolKind, size: (Int, Int), stride: (Int, Int), padding: Padding) -> Variable {
        let xs = x.value.shape
        precondition(xs.rank == 4, "pool2d: x must be (N, H, W, C), got \(xs)")
        let window = ConvolutionWindow(input: xs, kernel: size, stride: stride, padding: padding)
        precondition(window.outputHeight > 0 && window.outputWidth > 0,
                     "pool2d: a \(size.0)×\(size.1) window leaves no output pixels of x \(xs)")
        return pool(x, kind, window, outputShape: Shape(xs[0], window.outputHeight, window.outputWidth, xs[3]))
    }

    /// The mean over each image's pixels: x (N, H, W, C) → (N, C).
    public func globalAveragePool(_ x: Variable) -> Variable {
        let xs = x.value.shape
        precondition(xs.rank == 4, "globalAveragePool: x must be (N, H, W, C), got \(xs)")
        let window = ConvolutionWindow(input: xs, kernel: (xs[1], xs[2]), stride: (1, 1), padding: .valid)
        return pool(x, .average, window, outputShape: Shape(xs[0], xs[3]))
    }

    private func pool(_ x: Variable, _ kind: PoolKind, _ window: ConvolutionWindow, outputShape: Shape) -> Variable {
        let out = output(outputShape, requiresGrad: tracksGradient(x))
        let y = out.value.mutablePointer
        let bytes = 4 * Double(x.value.count + outputShape.count)
        switch kind {
        case .max:
            profiled(profiler, "maxpool.forward", .forward, m: window.pixels, n: window.channels, bytes: bytes) {
                backend.convolution.maxPoolForward(out: y, input: x.value.pointer, window: window)
            }
        case .average:
            profiled(profiler, "avgpool.forward", .forward, m: window.pixels, n: window.channels, bytes: bytes) {
                backend.convolution.avgPoolForward(out: y, input: x.value.pointer, window: window)
            }
        }
        if out.requiresGrad {
            let op = makeOp(Pool2DOp.self)
            (op.x, op.out, op.kind, op.window) = (x, out, kind, window)
            record(op)
        }
        return out
    }
}

final class Pool2DOp: TapeOp {
    var x: Variable!, out: Variable!
    var kind = PoolKind.max
    var window = ConvolutionWindow.empty

    var output: Variable { out }
    var diagnosticName: String { kind == .max ? "maxpool.forward" : "avgpool.forward" }
    func forEachInput(_ body: (Variable) -> Void) { body(x) }

    func backward(on tape: Tape) {
        guard out.hasGradient, x.requiresGrad else { return }
        let dout = UnsafePointer(out.grad!.mutablePointer)
        let backend = tape.backend, window = window, input = x.value.pointer
        let bytes = 4 * Double(2 * x.value.count + out.value.count)
        if kind == .max, x.readers == 1, !x.hasGradient,
           let producer = tape.recordedOp(producing: x) as? Conv2DOp, producer.activation == .relu {
            if takeConvolutionGradients(of: producer, on: tape) { return }
            profiled(tape.profiler, "maxpool_relu.backward", .backward, m: window.pixels, n: window.channels, bytes: bytes) {
                backend.convolution.maxPoolReLUBackward(dinput: x.gradientBuffer(), dout: dout, input: input, window: window)
            }
            x.hasGradient = true
            producer.derivativeApplied = true
            return
        }
        tape.contributeGradient(to: x) { dx in
            switch kind {
            case .max:
                profiled(tape.profiler, "maxpool.backward", .backward, m: window.pixels, n: window.channels, bytes: bytes) {
                    backend.convolution.maxPoolBackward(dinput: dx, dout: dout, input: input, window: window)
                }
            case .average:
                profiled(tape.profiler, "avgpool.backward", .backward, m: window.pixels, n: window.channels, bytes: bytes) {
                    backend.convolution.avgPoolBackward(dinput: dx, dout: dout, window: window)
                }
            }
        }
    }

    /// A ReLU convolution's gradients straight from this pool's, when the pool's 2×2 windows of stride 2 tile
    /// the convolution's output: the backend's fused kernel (weight, bias and, if wanted, input gradients), after
    /// which the convolution has no output gradient to go back from. False (nothing done) where the backend or
    /// the layers do not allow it.
    private func takeConvolutionGradients(of conv: Conv2DOp, on tape: Tape) -> Bool {
        let n = conv.weight.value.shape[3], backend = tape.backend
        // Windows that tile the output from its corner, none cut short ('same' padding past an odd size would).
        guard window.kernelHeight == 2, window.kernelWidth == 2, window.strideHeight == 2, window.strideWidth == 2,
              window.padTop == 0, window.padLeft == 0, window.outputHeight == window.height / 2,
              window.outputWidth == window.width / 2, conv.weight.requiresGrad, conv.bias.requiresGrad,
              backend.gemm.convolutionReLUMaxPoolBackwardApplies(conv.window, outChannels: n) else { return false }
        let (input, weight, bias, convWindow) = (conv.x!, conv.weight!, conv.bias!, conv.window)
        let (accumulateWeight, accumulateBias) = (weight.hasGradient, bias.hasGradient)
        let dweight = weight.gradientBuffer(), dbias = bias.gradientBuffer()
        let dpool = UnsafePointer(out.grad!.mutablePointer), output = x.value.pointer
        let field = convWindow.fieldSize, pooled = window.pixels
        // The multiply-adds done: each pooled gradient into a window, for the weights and, if wanted, the input.
        let flops = 2 * Double(pooled * n * field) * (input.requiresGrad ? 2 : 1)
        func run(_ dinput: UnsafeMutablePointer<Float>?) {
            profiled(tape.profiler, "conv2d_relu_maxpool.backward", .backward, m: field, n: n, k: pooled, flops: flops) {
                backend.gemm.convolutionReLUMaxPoolBackward(
                    dinput: dinput, dweight: dweight, dbias: dbias, dpool: dpool, output: output,
                    input: input.value.pointer, weight: weight.value.pointer, outChannels: n, window: convWindow,
                    accumulateWeight: accumulateWeight, accumulateBias: accumulateBias)
            }
        }
        if input.requiresGrad { tape.contributeGradient(to: input) { run($0) } } else { run(nil) }
        weight.hasGradient = true
        bias.hasGradient = true
        return true
    }
}

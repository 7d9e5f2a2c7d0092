// Activations: forward f(x), fused f(x + bias), and backward from the forward output alone
// (every supported f has a derivative that is a function of y = f(x)).
//
// All three run the same SIMD8 lane code on full vectors and on tails (`loadPartial`), so an
// element's value does not depend on how the count splits into vectors or workers. `out` may
// equal `input` and `dinput` may equal `doutput`: each element is read before it is written.

extension SwiftKernels {
    /// Same numbering as the C enum `dk_activation`.
    public enum ActivationKind: Int32, Sendable {
        case identity = 0
        case relu = 1
        /// alpha = negative slope (> 0).
        case leakyReLU = 2
        case sigmoid = 3
        case tanh = 4
        /// alpha = scale of the negative branch (> 0).
        case elu = 5
        /// Fixed constants, alpha is ignored.
        case selu = 6
    }

    @inline(__always) static var seluAlpha: Float { 1.6732632423543772 }
    @inline(__always) static var seluScale: Float { 1.0507009873554805 }

    /// Elements per worker below which threading costs more than it saves.
    private static var activationGrain: Int { 1 << 15 }

    /// out[i] = f(input[i]) for count elements; out may equal input.
    public static func activationForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int,
                                         kind: ActivationKind, alpha: Float) {
        parallelRanges(count: count, grain: activationGrain,
                       ActivationForward(out: out, input: input, kind: kind, alpha: alpha))
    }

    private struct ActivationForward: RangeWork {
        let out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, kind: ActivationKind, alpha: Float

        func run(_ range: Range<Int>) {
            forwardSpan(out + range.lowerBound, input + range.lowerBound, nil, range.count, kind, alpha)
        }
    }

    /// out[r,c] = f(input[r,c] + bias[c]) for (rows, cols) buffers; out may equal input.
    public static func biasActivationForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                             bias: UnsafePointer<Float>, rows: Int, cols: Int,
                                             kind: ActivationKind, alpha: Float) {
        guard cols > 0 else { return }
        withWholeVectorRows(rows: rows, cols: cols, bias: bias) { groups, groupCols, groupBias in
            parallelRows(rows: groups, cols: groupCols, grain: activationGrain,
                         BiasActivationForward(out: out, input: input, bias: groupBias, cols: groupCols, kind: kind,
                                               alpha: alpha))
        } tail: { first in
            for r in first..<rows { forwardSpan(out + r * cols, input + r * cols, bias, cols, kind, alpha) }
        }
    }

    private struct BiasActivationForward: RowWork {
        let out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, bias: UnsafePointer<Float>, cols: Int, kind: ActivationKind, alpha: Float

        func run(row r: Int) {
            forwardSpan(out + r * cols, input + r * cols, bias, cols, kind, alpha)
        }
    }

    /// dinput[i] = doutput[i] · f'(x_i), with f' computed from output[i] = f(x_i).
    /// dinput may equal doutput.
    public static func activationBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                                          output: UnsafePointer<Float>, count: Int,
                                          kind: ActivationKind, alpha: Float) {
        parallelRanges(count: count, grain: activationGrain,
                       ActivationBackward(dinput: dinput, doutput: doutput, output: output, kind: kind, alpha: alpha))
    }

    private struct ActivationBackward: RangeWork {
        let dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>, output: UnsafePointer<Float>, kind: ActivationKind, alpha: Float

        func run(_ range: Range<Int>) {
            let dx = dinput + range.lowerBound, dy = doutput + range.lowerBound, y = output + range.lowerBound
            let n = range.count
            switch kind {
            case .identity: if dx != UnsafeMutablePointer(mutating: dy) { dx.update(from: dy, count: n) }
            case .relu: mapBackward(dx, dy, y, n, ReLUGradient())
            case .leakyReLU: mapBackward(dx, dy, y, n, LeakyReLUGradient(alpha: alpha))
            case .sigmoid: mapBackward(dx, dy, y, n, SigmoidGradient())
            case .tanh: mapBackward(dx, dy, y, n, TanhGradient())
            case .elu: mapBackward(dx, dy, y, n, ELUGradient(alpha: alpha))
            case .selu: mapBackward(dx, dy, y, n, SELUGradient())
            }
        }
    }

    // MARK: - Lane functions
    // Types rather than closures: handed to the loops below as closures, Swift outlined them (each
    // loop calls its function twice, for full vectors and for the tail) and called them once per
    // vector; an @inline(__always) method is inlined at every call.

    /// f(x) in vector lanes.
    protocol LaneMap { func callAsFunction(_ x: Vec) -> Vec }
    /// dy·f'(x) in vector lanes, from y = f(x).
    protocol LaneGradient { func callAsFunction(_ dy: Vec, _ y: Vec) -> Vec }

    /// A LaneMap also written for 16 lanes, the same operations lane by lane: the AVX-512 build does such a
    /// cheap map in half the instructions, which matters where it is applied to every output of a product
    /// with few multiply-adds per output (a greyscale convolution's bias and ReLU).
    protocol WideLaneMap: LaneMap { func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float> }

    private struct Identity: WideLaneMap {
        @inline(__always) func callAsFunction(_ x: Vec) -> Vec { x }
        @inline(__always) func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float> { x }
    }

    private struct ReLU: WideLaneMap {
        @inline(__always) func callAsFunction(_ x: Vec) -> Vec { x.replacing(with: 0, where: x .< 0) }
        @inline(__always) func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float> { x.replacing(with: 0, where: x .< 0) }
    }

    private struct LeakyReLU: WideLaneMap {
        let alpha: Float
        @inline(__always) func callAsFunction(_ x: Vec) -> Vec { x.replacing(with: x * alpha, where: x .< 0) }
        @inline(__always) func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float> {
            x.replacing(with: x * alpha, where: x .< 0)
        }
    }

    /// 1/(1 + e^−x), the C kernels' formula: e^−x is +inf below x ≈ −88.4, which gives 0.
    private struct Sigmoid: LaneMap {
        @inline(__always) func callAsFunction(_ x: Vec) -> Vec { 1 / (1 + vexp(-x)) }
    }

    private struct Tanh: LaneMap { @inline(__always) func callAsFunction(_ x: Vec) -> Vec { vtanh(x) } }

    private struct ELU: LaneMap {
        let alpha: Float
        @inline(__always) func callAsFunction(_ x: Vec) -> Vec { x.replacing(with: alpha * vexpm1(x), where: x .< 0) }
    }

    private struct SELU: LaneMap {
        @inline(__always) func callAsFunction(_ x: Vec) -> Vec {
            seluScale * x.replacing(with: seluAlpha * vexpm1(x), where: x .< 0)
        }
    }

    private struct ReLUGradient: LaneGradient {
        @inline(__always) func callAsFunction(_ dy: Vec, _ y: Vec) -> Vec { dy.replacing(with: 0, where: .!(y .> 0)) }
    }

    private struct LeakyReLUGradient: LaneGradient {
        let alpha: Float
        @inline(__always) func callAsFunction(_ dy: Vec, _ y: Vec) -> Vec {
            dy.replacing(with: dy * alpha, where: .!(y .> 0))
        }
    }

    private struct SigmoidGradient: LaneGradient {
        @inline(__always) func callAsFunction(_ dy: Vec, _ y: Vec) -> Vec { dy * (y * (1 - y)) }
    }

    /// (1 − y)(1 + y) rather than 1 − y²: no cancellation as |y| → 1.
    private struct TanhGradient: LaneGradient {
        @inline(__always) func callAsFunction(_ dy: Vec, _ y: Vec) -> Vec { dy * ((1 - y) * (1 + y)) }
    }

    /// x ≤ 0: y = a(e^x − 1), so f' = a·e^x = y + a.
    private struct ELUGradient: LaneGradient {
        let alpha: Float
        @inline(__always) func callAsFunction(_ dy: Vec, _ y: Vec) -> Vec {
            dy.replacing(with: dy * (y + alpha), where: .!(y .> 0))
        }
    }

    /// x ≤ 0: y = s·a(e^x − 1), so f' = s·a·e^x = y + s·a.
    private struct SELUGradient: LaneGradient {
        @inline(__always) func callAsFunction(_ dy: Vec, _ y: Vec) -> Vec {
            (dy * seluScale).replacing(with: dy * (y + seluScale * seluAlpha), where: .!(y .> 0))
        }
    }

    // MARK: - Loops

    /// y[i] = f(x[i] (+ bias[i])) for n elements.
    static func forwardSpan(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                            _ bias: UnsafePointer<Float>?, _ n: Int, _ kind: ActivationKind, _ alpha: Float) {
        switch kind {
        case .identity:
            if let bias { mapForward(y, x, bias, n, Identity()) } else if y != UnsafeMutablePointer(mutating: x) {
                y.update(from: x, count: n)
            }
        case .relu: mapForward(y, x, bias, n, ReLU())
        case .leakyReLU: mapForward(y, x, bias, n, LeakyReLU(alpha: alpha))
        case .sigmoid: mapForward(y, x, bias, n, Sigmoid())
        case .tanh: mapForward(y, x, bias, n, Tanh())
        case .elu: mapForward(y, x, bias, n, ELU(alpha: alpha))
        case .selu: mapForward(y, x, bias, n, SELU())
        }
    }

    @inline(__always)
    private static func mapForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                   _ bias: UnsafePointer<Float>?, _ n: Int, _ f: some LaneMap) {
        mapForward(y, x, bias, n, from: 0, f)
    }

    /// `mapForward`, 16 lanes at a time while 16 are left.
    @inline(__always)
    private static func mapForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                   _ bias: UnsafePointer<Float>?, _ n: Int, _ f: some WideLaneMap) {
        @inline(__always) func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
            UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
        }
        var i = 0
        if let bias {
            while i + 16 <= n {
                UnsafeMutableRawPointer(y + i).storeBytes(of: f(load16(x + i) + load16(bias + i)), as: SIMD16<Float>.self)
                i += 16
            }
        } else {
            while i + 16 <= n {
                UnsafeMutableRawPointer(y + i).storeBytes(of: f(load16(x + i)), as: SIMD16<Float>.self)
                i += 16
            }
        }
        mapForward(y, x, bias, n, from: i, f)
    }

    /// Elements [i, n) of `mapForward`, 8 lanes at a time.
    @inline(__always)
    private static func mapForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                   _ bias: UnsafePointer<Float>?, _ n: Int, from start: Int, _ f: some LaneMap) {
        var i = start
        if let bias {
            while i + 8 <= n {
                store(y + i, f(load(x + i) + load(bias + i)))
                i += 8
            }
            if i < n { storePartial(y + i, f(loadPartial(x + i, n - i) + loadPartial(bias + i, n - i)), n - i) }
        } else {
            while i + 8 <= n {
                store(y + i, f(load(x + i)))
                i += 8
            }
            if i < n { storePartial(y + i, f(loadPartial(x + i, n - i)), n - i) }
        }
    }

    @inline(__always)
    private static func mapBackward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                                    _ n: Int, _ f: some LaneGradient) {
        var i = 0
        while i + 8 <= n {
            store(dx + i, f(load(dy + i), load(y + i)))
            i += 8
        }
        if i < n { storePartial(dx + i, f(loadPartial(dy + i, n - i), loadPartial(y + i, n - i)), n - i) }
    }
}

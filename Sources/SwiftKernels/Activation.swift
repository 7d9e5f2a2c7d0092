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
            forwardRange(out + range.lowerBound, input + range.lowerBound, range.count, kind, alpha)
        }
    }

    /// out[r,c] = f(input[r,c] + bias[c]) for (rows, cols) buffers; out may equal input.
    public static func biasActivationForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                             bias: UnsafePointer<Float>, rows: Int, cols: Int,
                                             kind: ActivationKind, alpha: Float) {
        guard cols > 0 else { return }
        parallelRows(rows: rows, cols: cols, grain: activationGrain,
                     BiasActivationForward(out: out, input: input, bias: bias, cols: cols, kind: kind, alpha: alpha))
    }

    private struct BiasActivationForward: RowWork {
        let out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, bias: UnsafePointer<Float>, cols: Int, kind: ActivationKind, alpha: Float

        func run(row r: Int) {
            let x = input + r * cols, y = out + r * cols
            switch kind {
            case .identity: biasRow(y, x, bias, cols) { $0 }
            case .relu: biasRow(y, x, bias, cols) { relu($0) }
            case .leakyReLU: biasRow(y, x, bias, cols) { leakyReLU($0, alpha) }
            case .sigmoid: biasRow(y, x, bias, cols) { sigmoid($0) }
            case .tanh: biasRow(y, x, bias, cols) { vtanh($0) }
            case .elu: biasRow(y, x, bias, cols) { elu($0, alpha) }
            case .selu: biasRow(y, x, bias, cols) { selu($0) }
            }
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
            case .relu: mapBackward(dx, dy, y, n) { dy, y in dy.replacing(with: 0, where: .!(y .> 0)) }
            case .leakyReLU: mapBackward(dx, dy, y, n) { dy, y in dy.replacing(with: dy * alpha, where: .!(y .> 0)) }
            case .sigmoid: mapBackward(dx, dy, y, n) { dy, y in dy * (y * (1 - y)) }
            // (1 − y)(1 + y) rather than 1 − y²: no cancellation as |y| → 1.
            case .tanh: mapBackward(dx, dy, y, n) { dy, y in dy * ((1 - y) * (1 + y)) }
            // x ≤ 0: y = a(e^x − 1), so f' = a·e^x = y + a.
            case .elu: mapBackward(dx, dy, y, n) { dy, y in dy.replacing(with: dy * (y + alpha), where: .!(y .> 0)) }
            // x ≤ 0: y = s·a(e^x − 1), so f' = s·a·e^x = y + s·a.
            case .selu:
                mapBackward(dx, dy, y, n) { dy, y in
                    (dy * seluScale).replacing(with: dy * (y + seluScale * seluAlpha), where: .!(y .> 0))
                }
            }
        }
    }

    // MARK: - Lane functions

    @inline(__always) static func relu(_ x: Vec) -> Vec { x.replacing(with: 0, where: x .< 0) }

    @inline(__always) static func leakyReLU(_ x: Vec, _ alpha: Float) -> Vec {
        x.replacing(with: x * alpha, where: x .< 0)
    }

    /// With e = exp(−|x|) ≤ 1: 1/(1 + e) for x ≥ 0 and e/(1 + e) for x < 0, so exp never
    /// overflows and tiny (even subnormal) results for very negative x stay accurate.
    @inline(__always) static func sigmoid(_ x: Vec) -> Vec {
        let e = vexp(-vabs(x))
        let r = 1 / (1 + e)
        return r.replacing(with: e * r, where: x .< 0)
    }

    @inline(__always) static func elu(_ x: Vec, _ alpha: Float) -> Vec {
        x.replacing(with: alpha * vexpm1(x), where: x .< 0)
    }

    @inline(__always) static func selu(_ x: Vec) -> Vec {
        seluScale * x.replacing(with: seluAlpha * vexpm1(x), where: x .< 0)
    }

    // MARK: - Loops

    private static func forwardRange(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int,
                                     _ kind: ActivationKind, _ alpha: Float) {
        switch kind {
        case .identity: if y != UnsafeMutablePointer(mutating: x) { y.update(from: x, count: n) }
        case .relu: mapForward(y, x, n) { relu($0) }
        case .leakyReLU: mapForward(y, x, n) { leakyReLU($0, alpha) }
        case .sigmoid: mapForward(y, x, n) { sigmoid($0) }
        case .tanh: mapForward(y, x, n) { vtanh($0) }
        case .elu: mapForward(y, x, n) { elu($0, alpha) }
        case .selu: mapForward(y, x, n) { selu($0) }
        }
    }

    @inline(__always)
    private static func mapForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int,
                                   _ f: (Vec) -> Vec) {
        var i = 0
        while i + 8 <= n {
            store(y + i, f(load(x + i)))
            i += 8
        }
        if i < n { storePartial(y + i, f(loadPartial(x + i, n - i)), n - i) }
    }

    @inline(__always)
    private static func biasRow(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                                _ n: Int, _ f: (Vec) -> Vec) {
        var i = 0
        while i + 8 <= n {
            store(y + i, f(load(x + i) + load(bias + i)))
            i += 8
        }
        if i < n { storePartial(y + i, f(loadPartial(x + i, n - i) + loadPartial(bias + i, n - i)), n - i) }
    }

    @inline(__always)
    private static func mapBackward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                                    _ n: Int, _ f: (_ dy: Vec, _ y: Vec) -> Vec) {
        var i = 0
        while i + 8 <= n {
            store(dx + i, f(load(dy + i), load(y + i)))
            i += 8
        }
        if i < n { storePartial(dx + i, f(loadPartial(dy + i, n - i), loadPartial(y + i, n - i)), n - i) }
    }
}

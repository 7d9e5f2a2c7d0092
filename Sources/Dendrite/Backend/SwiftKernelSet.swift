/// What ``SwiftBackend`` needs of a compiled kernel module. `SwiftKernels` and `SwiftKernelsAVX2` are
/// the same sources built twice, so their namespaces conform as they are.
protocol SwiftKernelSet {
    associatedtype Kind: RawRepresentable where Kind.RawValue == Int32
    associatedtype Window: KernelWindow
    static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>,
                      lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int)
    static func biasAdd(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                        rows: Int, cols: Int)
    static func biasBackward(dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, rows: Int, cols: Int,
                             accumulate: Bool)
    static func activationForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int,
                                  kind: Kind, alpha: Float)
    static func biasActivationForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                      bias: UnsafePointer<Float>, rows: Int, cols: Int, kind: Kind, alpha: Float)
    static func activationBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                                   output: UnsafePointer<Float>, count: Int, kind: Kind, alpha: Float)
    static func softmaxForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: Int, cols: Int)
    static func logSoftmaxForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: Int, cols: Int)
    static func softmaxBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                                output: UnsafePointer<Float>, rows: Int, cols: Int)
    static func logSoftmaxBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                                   output: UnsafePointer<Float>, rows: Int, cols: Int)
    static func softmaxCrossEntropy(losses: UnsafeMutablePointer<Float>, dlogits: UnsafeMutablePointer<Float>?,
                                    logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                                    rows: Int, cols: Int, gradScale: Float) -> Double
    static func argmaxRows(out: UnsafeMutablePointer<Int32>, input: UnsafePointer<Float>, rows: Int, cols: Int)
    static func adamStep(param: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                         v: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>, count: Int,
                         lr: Float, beta1: Float, beta2: Float, eps: Float, step: Int)
    static func sgdStep(param: UnsafeMutablePointer<Float>, velocity: UnsafeMutablePointer<Float>?,
                        grad: UnsafePointer<Float>, count: Int, lr: Float, momentum: Float)
    static func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int)
    static func scaleInPlace(_ y: UnsafeMutablePointer<Float>, by a: Float, count: Int)
    static func sum(_ x: UnsafePointer<Float>, count: Int) -> Double
    static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double
    static func gatherRows(out: UnsafeMutablePointer<Float>, images: UnsafePointer<UInt8>,
                           indices: UnsafePointer<Int32>, rows: Int, cols: Int, scale: Float)
    static func im2col(col: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: Window)
    static func col2im(dinput: UnsafeMutablePointer<Float>, dcol: UnsafePointer<Float>, window: Window)
    static func convolutionForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                   weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outChannels: Int,
                                   window: Window, activation: Kind, alpha: Float)
    static func winogradApplies(window: Window, outChannels: Int) -> Bool
    static func winogradForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outChannels: Int,
                                window: Window, activation: Kind, alpha: Float)
    static func winogradBackwardWeights(dweight: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                        input: UnsafePointer<Float>, outChannels: Int, window: Window, beta: Float)
    static func winogradBackwardInputs(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                       weight: UnsafePointer<Float>, outChannels: Int, window: Window)
    static func convolutionBackwardWeights(dweight: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                           input: UnsafePointer<Float>, outChannels: Int, window: Window, beta: Float)
    static func convolutionBackwardInputs(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                          weight: UnsafePointer<Float>, outChannels: Int, window: Window)
    static func convolutionReLUMaxPoolBackwardApplies(window: Window, outChannels: Int) -> Bool
    static func convolutionReLUMaxPoolBackward(
        dinput: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
        dpool: UnsafePointer<Float>, output: UnsafePointer<Float>, input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, outChannels: Int, window: Window, accumulateWeight: Bool, accumulateBias: Bool)
    static func maxPoolForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: Window)
    static func maxPoolBackward(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                input: UnsafePointer<Float>, window: Window)
    static func maxPoolReLUBackward(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                    input: UnsafePointer<Float>, window: Window)
    static func avgPoolForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: Window)
    static func avgPoolBackward(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, window: Window)
    static func dropout(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int, rate: Float,
                        key: UInt64, first: Int)
    static func batchNormStatistics(mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>,
                                    input: UnsafePointer<Float>, rows: Int, channels: Int)
    static func batchNormForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                                 invstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                 rows: Int, channels: Int)
    static func batchNormBackward(dinput: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>,
                                  dbeta: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, input: UnsafePointer<Float>,
                                  mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                  rows: Int, channels: Int)
}

extension SwiftKernelSet {
    /// The module's own activation enum for an activation (the numbering is shared with CKernels).
    static func kind(_ activation: Activation) -> Kind { Kind(rawValue: Int32(activation.cKind.rawValue))! }
}

/// Bias, activations, and the elementwise arithmetic and reductions the tape and the trainer need.
public protocol ElementwiseKernels: AnyObject, Sendable {
    func biasAdd(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                 rows: Int, cols: Int)
    func biasBackward(dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, rows: Int, cols: Int,
                      accumulate: Bool)

    func activationForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int,
                           activation: Activation)
    func biasActivationForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>, rows: Int, cols: Int, activation: Activation)
    /// dinput = doutput · f'(x), from the forward output alone.
    func activationBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                            output: UnsafePointer<Float>, count: Int, activation: Activation)

    func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int)
    func scaleInPlace(_ y: UnsafeMutablePointer<Float>, by a: Float, count: Int)
    func sum(_ x: UnsafePointer<Float>, count: Int) -> Double
    func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double
}

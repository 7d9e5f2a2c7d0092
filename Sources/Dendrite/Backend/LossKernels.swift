/// Softmax, log-softmax, the softmax cross-entropy loss, and the predictions (row argmax).
public protocol LossKernels: AnyObject, Sendable {
    func softmaxForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: Int, cols: Int)
    func logSoftmaxForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: Int, cols: Int)
    func softmaxBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                         output: UnsafePointer<Float>, rows: Int, cols: Int)
    func logSoftmaxBackward(dinput: UnsafeMutablePointer<Float>, doutput: UnsafePointer<Float>,
                            output: UnsafePointer<Float>, rows: Int, cols: Int)
    /// Per-row losses, optional gradient (softmax − onehot)·gradScale, returns the mean loss.
    /// `dlogits` may be `logits` itself (in place).
    func softmaxCrossEntropy(losses: UnsafeMutablePointer<Float>, dlogits: UnsafeMutablePointer<Float>?,
                             logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                             rows: Int, cols: Int, gradScale: Float) -> Double
    func argmaxRows(out: UnsafeMutablePointer<Int32>, input: UnsafePointer<Float>, rows: Int, cols: Int)
}

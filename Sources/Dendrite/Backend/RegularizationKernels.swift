/// The training-only layers' kernels: dropout and batch normalization. Contracts: `dk_dropout` and
/// `dk_batchnorm_*` in `CKernels.h`.
public protocol RegularizationKernels: AnyObject, Sendable {
    /// out[i] = keep(key, first + i) ? input[i] / (1 - rate) : 0, the mask a hash of (key, index): the
    /// backward pass is the same call on the gradient. out may equal input. `first` places the elements
    /// in the whole batch (where a data-parallel rank's share starts; 0 for one process).
    func dropout(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int, rate: Float, key: UInt64,
                 first: Int)

    /// mean[c] and the biased variance[c] of input (rows, channels).
    func batchNormStatistics(mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>,
                             input: UnsafePointer<Float>, rows: Int, channels: Int)
    /// out = (input − mean)·invstd·gamma + beta per channel.
    func batchNormForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                          invstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                          rows: Int, channels: Int)
    /// dgamma = Σ dout·x̂, dbeta = Σ dout (overwritten), dinput with batch statistics.
    func batchNormBackward(dinput: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>,
                           dbeta: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, input: UnsafePointer<Float>,
                           mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                           rows: Int, channels: Int)
}

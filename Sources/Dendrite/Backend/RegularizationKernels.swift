/// Dropout (and the other training-only layers' kernels). Contract: `dk_dropout` in `CKernels.h`.
public protocol RegularizationKernels: AnyObject, Sendable {
    /// out[i] = keep(key, i) ? input[i] / (1 - rate) : 0, the mask a hash of (key, i): the backward
    /// pass is the same call on the gradient. out may equal input.
    func dropout(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int, rate: Float, key: UInt64)
}

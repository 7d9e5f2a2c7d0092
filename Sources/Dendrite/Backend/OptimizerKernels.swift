/// Parameter updates, each over one contiguous range (a tensor, or a whole parameter arena).
public protocol OptimizerKernels: AnyObject, Sendable {
    /// Adam in PyTorch's form; moments below the smallest normal float are stored as 0 (subnormals are slow).
    func adamStep(param: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                  v: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>, count: Int,
                  lr: Float, beta1: Float, beta2: Float, eps: Float, step: Int)
    func sgdStep(param: UnsafeMutablePointer<Float>, velocity: UnsafeMutablePointer<Float>?,
                 grad: UnsafePointer<Float>, count: Int, lr: Float, momentum: Float)
}

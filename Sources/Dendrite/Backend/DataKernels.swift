/// Turning stored examples into a batch.
public protocol DataKernels: AnyObject, Sendable {
    /// out[r,:] = images[indices[r],:]·scale, bytes to floats.
    func gatherRows(out: UnsafeMutablePointer<Float>, images: UnsafePointer<UInt8>,
                    indices: UnsafePointer<Int32>, rows: Int, cols: Int, scale: Float)
}


/// Turning stored examples into a batch.
public protocol DataKernels: AnyObject, Sendable {
    /// out[r,:] = images[indices[r],:]·scale, bytes to floats.
    func gatherRows(out: UnsafeMutablePointer<Float>, images: UnsafePointer<UInt8>,
                    indices: UnsafePointer<Int32>, rows: Int, cols: Int, scale: Float)
    /// A hint: rows `indices[0..<rows]` of `images` will be gathered soon, so the caches may fetch them
    /// now, while other work runs. Backends without a way to ask may ignore it.
    func prefetchRows(images: UnsafePointer<UInt8>, indices: UnsafePointer<Int32>, rows: Int, cols: Int)
}

extension DataKernels {
    /// Swift has no prefetch instruction; loading the rows instead would wait for them.
    public func prefetchRows(images: UnsafePointer<UInt8>, indices: UnsafePointer<Int32>, rows: Int, cols: Int) {}
}


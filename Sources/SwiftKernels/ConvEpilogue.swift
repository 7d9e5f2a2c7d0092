// A convolution forward's bias and activation, applied by each worker to the output pixels it has just
// written, while they are still in its cache. As a pass of its own after the products, it read and wrote
// the whole output once more through memory: on 2 threads that took longer than the products of a
// greyscale first layer, and its time swung with the machine's memory traffic.
//
// Bits: the lane code of biasActivationForward (Activation.swift), whose value for an element does not
// depend on how the elements split into spans, so they are the separate pass's.

extension SwiftKernels {
    /// f(x + bias) over whole output pixels of `channels` floats each.
    struct ConvolutionEpilogue {
        let kind: ActivationKind, alpha: Float, channels: Int
        /// The bias repeated over `patternPixels` pixels (nil without a bias), so that one call covers a
        /// run of pixels: a call per pixel cost as much as the products of a 32-filter greyscale layer.
        let pattern: UnsafePointer<Float>?, patternPixels: Int

        /// Floats of scratch `init` may use.
        static let scratchFloats = 512

        /// Nil when there is nothing to apply (no bias, identity).
        init?(bias: UnsafePointer<Float>?, kind: ActivationKind, alpha: Float, channels n: Int,
              scratch: UnsafeMutablePointer<Float>) {
            guard bias != nil || kind != .identity else { return nil }
            (self.kind, self.alpha, channels) = (kind, alpha, n)
            guard let bias else {
                (pattern, patternPixels) = (nil, Int.max)
                return
            }
            guard n <= Self.scratchFloats / 2 else {
                (pattern, patternPixels) = (bias, 1)
                return
            }
            patternPixels = Self.scratchFloats / n
            for i in 0..<(patternPixels * n) { scratch[i] = bias[i % n] }
            pattern = UnsafePointer(scratch)
        }

        /// Applies it to `pixels` consecutive pixels at `out`.
        @inline(__always)
        func apply(_ out: UnsafeMutablePointer<Float>, pixels: Int) {
            var p = 0
            while p < pixels {
                let count = min(patternPixels, pixels - p), at = out + p * channels
                forwardSpan(at, at, pattern, count * channels, kind, alpha)
                p += count
            }
        }
    }
}

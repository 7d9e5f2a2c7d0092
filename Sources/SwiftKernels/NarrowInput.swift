// The input gradient of convolutions with few filters (LeNet-5's second layer: 16 filters of 5x5 over 6
// channels): the Swift counterpart of CKernels/conv_narrow_input.c. The unfolded gradients
// dcol = dout · weightᵀ are a product whose K is the filter count, a sliver of a tile's work per store,
// written out a chunk at a time and read back to be added into the windows. Here four pixels' unfolded
// gradients are made at once, two field vectors at a time, from their dout values broadcast against the
// transposed weights, and added into their windows while they are in L1.
//
// Bits: an unfolded element is one multiply-add chain over the filters in order from zero, as the
// product's tile computes it (K, at most `narrowInputMaxFilters`, is one K block; a multiply-add's two
// factors commute), and `addWindows` adds the pixels in order, as after the product; so the results
// equal the chunked path's for any thread count.

extension SwiftKernels {
    /// Filters up to which `convolutionBackwardInputs` takes this path.
    static let narrowInputMaxFilters = 32
    /// Pixels made together: four chains per field vector, eight in flight.
    private static let narrowPixels = 4

    /// Whether `convolutionBackwardInputs` takes this path: the FMA builds, whose tiles take every shape
    /// (so the chains to match are fused multiply-adds from zero), few filters, and a field of at least
    /// the pair of vectors a pass makes (the `cnn` preset's greyscale 3x3, 9 floats, ran slower here than
    /// through the product); greyscale layers with up to 8 filters take the image-row lanes.
    static func narrowInputApplies(window w: Window, n: Int) -> Bool {
        Direct.takesEveryShape && n <= narrowInputMaxFilters
            && w.kernelH * w.kernelW * w.channels >= 2 * TileVector.scalarCount && !imageRowLanesApply(window: w, n: n)
    }

    /// Floats between the transposed weights' rows and between unfolded gradients: the field in whole
    /// pairs of vectors, zeros past it.
    static func narrowInputStride(field k: Int) -> Int {
        let pair = 2 * TileVector.scalarCount
        return (k + pair - 1) / pair * pair
    }

    /// Floats of the transposed weights (`narrowInputWeights`).
    static func narrowInputWeightFloats(field k: Int, n: Int) -> Int { n * narrowInputStride(field: k) }
    /// Floats of a worker's scratch: its transposed weights, then a few pixels' unfolded gradients.
    static func narrowInputScratchFloats(field k: Int, n: Int) -> Int {
        narrowInputWeightFloats(field: k, n: n) + narrowPixels * narrowInputStride(field: k)
    }

    /// transposed[f·stride + j] = weight[j·n + f], zeros for j past the field.
    static func narrowInputWeights(_ transposed: UnsafeMutablePointer<Float>, weight: UnsafePointer<Float>, k: Int,
                                   n: Int) {
        let stride = narrowInputStride(field: k)
        for f in 0..<n {
            for j in 0..<stride { transposed[f * stride + j] = j < k ? weight[j * n + f] : 0 }
        }
    }

    /// Adds one image's input gradient into `target` (zero, laid out as `source` reads it): dout (pixels, n)
    /// of the image, the transposed weights, and `scratch` for `narrowInputScratchFloats` floats.
    static func narrowInputImage(target: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                 transposed: UnsafePointer<Float>, n: Int, k: Int, source: ImageSource,
                                 scratch: UnsafeMutablePointer<Float>) {
        let stride = narrowInputStride(field: k), pixels = source.w.pixels
        var p = 0
        while p < pixels {
            let count = min(narrowPixels, pixels - p)
            // Pixels past the image's last repeat it, unused, so four rows are always read.
            let d0 = dout + p * n, last = count - 1
            let d1 = d0 + min(1, last) * n, d2 = d0 + min(2, last) * n, d3 = d0 + min(3, last) * n
            var v = 0
            while v < stride {
                var a0 = TileVector(), a1 = TileVector(), a2 = TileVector(), a3 = TileVector()
                var b0 = TileVector(), b1 = TileVector(), b2 = TileVector(), b3 = TileVector()
                var w = transposed + v
                for f in 0..<n {
                    let raw = UnsafeRawPointer(w)
                    let low = raw.loadUnaligned(as: TileVector.self)
                    let high = raw.loadUnaligned(fromByteOffset: 4 * TileVector.scalarCount, as: TileVector.self)
                    var x = TileVector(repeating: d0[f])
                    a0.multiplyAdd(x, low); b0.multiplyAdd(x, high)
                    x = TileVector(repeating: d1[f])
                    a1.multiplyAdd(x, low); b1.multiplyAdd(x, high)
                    x = TileVector(repeating: d2[f])
                    a2.multiplyAdd(x, low); b2.multiplyAdd(x, high)
                    x = TileVector(repeating: d3[f])
                    a3.multiplyAdd(x, low); b3.multiplyAdd(x, high)
                    w += stride
                }
                let out = UnsafeMutableRawPointer(scratch + v), half = 4 * TileVector.scalarCount, row = 4 * stride
                out.storeBytes(of: a0, as: TileVector.self)
                out.storeBytes(of: b0, toByteOffset: half, as: TileVector.self)
                out.storeBytes(of: a1, toByteOffset: row, as: TileVector.self)
                out.storeBytes(of: b1, toByteOffset: row + half, as: TileVector.self)
                out.storeBytes(of: a2, toByteOffset: 2 * row, as: TileVector.self)
                out.storeBytes(of: b2, toByteOffset: 2 * row + half, as: TileVector.self)
                out.storeBytes(of: a3, toByteOffset: 3 * row, as: TileVector.self)
                out.storeBytes(of: b3, toByteOffset: 3 * row + half, as: TileVector.self)
                v += 2 * TileVector.scalarCount
            }
            for i in 0..<count { source.addWindows(pixels: p + i, p + i + 1, from: scratch + i * stride, into: target) }
            p += count
        }
    }
}

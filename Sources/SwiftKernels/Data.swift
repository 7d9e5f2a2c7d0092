// Batch assembly from a uint8 dataset: rows of pixels gathered by index and scaled to Float.

extension SwiftKernels {
    /// Elements per worker below which threading costs more than it saves.
    private static var gatherGrain: Int { 1 << 16 }

    /// out[r,:] = Float(images[indices[r],:]) · scale. images is (count, cols) bytes, out is (rows, cols).
    public static func gatherRows(out: UnsafeMutablePointer<Float>, images: UnsafePointer<UInt8>,
                                  indices: UnsafePointer<Int32>, rows: Int, cols: Int, scale: Float) {
        guard cols > 0 else { return }
        parallelRows(rows: rows, cols: cols, grain: gatherGrain,
                     GatherRows(out: out, images: images, indices: indices, cols: cols, scale: scale))
    }

    private struct GatherRows: RowWork {
        let out: UnsafeMutablePointer<Float>, images: UnsafePointer<UInt8>, indices: UnsafePointer<Int32>
        let cols: Int, scale: Float

        func run(row r: Int) {
            let src = images + Int(indices[r]) * cols, dst = out + r * cols
            var c = 0
            while c + 8 <= cols {
                let bytes = UnsafeRawPointer(src + c).loadUnaligned(as: SIMD8<UInt8>.self)
                store(dst + c, Vec(SIMD8<Int32>(truncatingIfNeeded: bytes)) * scale)
                c += 8
            }
            while c < cols {
                dst[c] = Float(src[c]) * scale
                c += 1
            }
        }
    }
}

// In-place elementwise updates on flat buffers (memory-bound; threaded only for large counts).

extension SwiftKernels {
    /// Elements per worker below which threading costs more than it saves.
    private static var elementwiseGrain: Int { 1 << 17 }

    /// y[i] += x[i]
    public static func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        parallelRanges(count: count, grain: elementwiseGrain, AddInPlace(y: y, x: x))
    }

    private struct AddInPlace: RangeWork {
        let y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>

        func run(_ range: Range<Int>) {
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                store(y + i, load(y + i) + load(x + i))
                i += 8
            }
            while i < range.upperBound {
                y[i] += x[i]
                i += 1
            }
        }
    }

    /// y[i] *= a
    public static func scaleInPlace(_ y: UnsafeMutablePointer<Float>, by a: Float, count: Int) {
        parallelRanges(count: count, grain: elementwiseGrain, ScaleInPlace(y: y, a: a))
    }

    private struct ScaleInPlace: RangeWork {
        let y: UnsafeMutablePointer<Float>, a: Float

        func run(_ range: Range<Int>) {
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                store(y + i, load(y + i) * a)
                i += 8
            }
            while i < range.upperBound {
                y[i] *= a
                i += 1
            }
        }
    }
}

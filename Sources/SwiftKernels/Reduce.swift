// Whole-buffer reductions accumulated in Double.
//
// Determinism: the buffer is cut into chunks whose size depends on the count alone; each chunk is
// summed by one worker in a fixed lane order, and the chunk partials are added in chunk order.
// The thread count only decides which worker sums which chunk. NaN and Inf propagate, so
// sumOfSquares doubles as a finiteness check.

extension SwiftKernels {
    /// At most this many chunks, so the partials fit a small stack buffer.
    private static var maxChunks: Int { 128 }
    /// Chunks are at least this long, so small buffers are one chunk and one worker.
    private static var minChunk: Int { 1 << 15 }

    /// Σ x[i], accumulated in Double.
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Double {
        reduce(x, count: count, squares: false)
    }

    /// Σ x[i]², accumulated in Double.
    public static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
        reduce(x, count: count, squares: true)
    }

    private static func reduce(_ x: UnsafePointer<Float>, count: Int, squares: Bool) -> Double {
        guard count > 0 else { return 0 }
        // Chunk length: a multiple of 8 fixed by count, giving at most maxChunks chunks.
        let chunk = (max(minChunk, (count + maxChunks - 1) / maxChunks) + 7) & ~7
        let chunks = (count + chunk - 1) / chunk
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: chunks) { partials in
            let base = partials.baseAddress!
            let workers = min(chunks, threads)
            parallelFor(workers: workers, ChunkSums(partials: base, x: x, count: count, squares: squares,
                                                    chunk: chunk, chunks: chunks, workers: workers))
            var total = 0.0
            for j in 0..<chunks { total += base[j] }
            return total
        }
    }

    /// Writes partials[j] for each chunk j of a contiguous block of chunks per task.
    private struct ChunkSums: ParallelWork {
        let partials: UnsafeMutablePointer<Double>, x: UnsafePointer<Float>, count: Int, squares: Bool
        let chunk: Int, chunks: Int, workers: Int

        func run(task w: Int) {
            for j in (chunks * w / workers)..<(chunks * (w + 1) / workers) {
                let lo = j * chunk
                partials[j] = squares ? chunkSum(x + lo, min(chunk, count - lo)) { $0 * $0 }
                                      : chunkSum(x + lo, min(chunk, count - lo)) { $0 }
            }
        }
    }

    /// Σ f(x[i]) over one chunk: 8 Double lanes, then the lanes in order, then the scalar tail.
    @inline(__always)
    private static func chunkSum(_ x: UnsafePointer<Float>, _ n: Int, _ f: (SIMD8<Double>) -> SIMD8<Double>) -> Double {
        var acc0 = SIMD8<Double>(), acc1 = SIMD8<Double>()
        var i = 0
        // Two accumulators so consecutive adds do not wait on each other.
        while i + 16 <= n {
            acc0 += f(SIMD8<Double>(load(x + i)))
            acc1 += f(SIMD8<Double>(load(x + i + 8)))
            i += 16
        }
        if i + 8 <= n {
            acc0 += f(SIMD8<Double>(load(x + i)))
            i += 8
        }
        var total = (acc0 + acc1).sum()
        while i < n {
            total += f(SIMD8<Double>(repeating: Double(x[i])))[0]
            i += 1
        }
        return total
    }
}

// Batch normalization over the last dimension of (rows, channels) buffers, with the contracts of
// dk_batchnorm_* (CKernels.h): reductions give each worker a block of channels and sum every
// channel over the rows in order, in Double; elementwise passes split rows. Results do not depend
// on the thread count.

extension SwiftKernels {
    /// mean[c] and the biased variance[c] of input (rows, channels).
    public static func batchNormStatistics(mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>,
                                           input: UnsafePointer<Float>, rows: Int, channels: Int) {
        overChannels(rows: rows, channels: channels,
                     ChannelSums(first: mean, second: variance, input: input, dout: nil, mean: nil, invstd: nil,
                                 rows: rows, channels: channels))
    }

    /// out = (input − mean)·invstd·gamma + beta per channel; out may equal input.
    public static func batchNormForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                        mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>,
                                        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, rows: Int, channels: Int) {
        parallelRows(rows: rows, cols: channels, grain: 1 << 16,
                     NormalizeRows(out: out, input: input, mean: mean, invstd: invstd, gamma: gamma, beta: beta,
                                   channels: channels))
    }

    /// dgamma = Σ dout·x̂, dbeta = Σ dout (overwritten); dinput = gamma·invstd·(dout − dbeta/rows − x̂·dgamma/rows).
    public static func batchNormBackward(dinput: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>,
                                         dbeta: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                         input: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                                         invstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>, rows: Int, channels: Int) {
        overChannels(rows: rows, channels: channels,
                     ChannelSums(first: dgamma, second: dbeta, input: input, dout: dout, mean: mean, invstd: invstd,
                                 rows: rows, channels: channels))
        parallelRows(rows: rows, cols: channels, grain: 1 << 16,
                     BackwardRows(dinput: dinput, dout: dout, input: input, mean: mean, invstd: invstd, gamma: gamma,
                                  dgamma: dgamma, dbeta: dbeta, count: Float(rows), channels: channels))
    }

    /// Channels per block of a reduction.
    private static var channelBlock: Int { 16 }

    private static func overChannels(rows: Int, channels: Int, _ sums: ChannelSums) {
        guard rows > 0 && channels > 0 else { return }
        let blocks = (channels + channelBlock - 1) / channelBlock
        let workers = min(blocks, workerCount(count: rows * channels, grain: 1 << 16))
        parallelFor(workers: workers, ChannelSplit(sums: sums, blocks: blocks, workers: workers))
    }

    private struct ChannelSplit: ParallelWork {
        let sums: ChannelSums, blocks: Int, workers: Int
        func run(task w: Int) {
            for block in (blocks * w / workers)..<(blocks * (w + 1) / workers) { sums.run(block: block) }
        }
    }

    /// Statistics (dout nil: first = mean, second = variance) or backward sums (first = Σ dout·x̂, second = Σ dout).
    private struct ChannelSums {
        let first: UnsafeMutablePointer<Float>, second: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>
        let dout: UnsafePointer<Float>?, mean: UnsafePointer<Float>?, invstd: UnsafePointer<Float>?
        let rows: Int, channels: Int

        func run(block: Int) {
            let c0 = block * channelBlock, width = min(channelBlock, channels - c0)
            if width == 16 { return runWhole(c0) }
            for c in c0..<(c0 + width) {
                var a = 0.0, b = 0.0
                if let dout, let mean, let invstd {
                    for r in 0..<rows {
                        let d = dout[r * channels + c]
                        a += Double(d * ((input[r * channels + c] - mean[c]) * invstd[c]))
                        b += Double(d)
                    }
                } else {
                    for r in 0..<rows { a += Double(input[r * channels + c]) }
                    let m = a / Double(rows)
                    for r in 0..<rows {
                        let d = Double(input[r * channels + c]) - m
                        b += d * d
                    }
                    (a, b) = (m, b / Double(rows))
                }
                first[c] = Float(a)
                second[c] = Float(b)
            }
        }

        /// A whole block of 16 channels as `run` computes each channel (the same Float arithmetic, the same
        /// Double sums over the rows in order), a row of the block at a time: one contiguous load per row
        /// instead of 16 strided walks down the columns.
        private func runWhole(_ c0: Int) {
            @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
                UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
            }
            var a = SIMD16<Double>(), b = SIMD16<Double>()
            if let dout, let mean, let invstd {
                let m = load(mean + c0), s = load(invstd + c0)
                for r in 0..<rows {
                    let d = load(dout + r * channels + c0)
                    a += SIMD16<Double>(d * ((load(input + r * channels + c0) - m) * s))
                    b += SIMD16<Double>(d)
                }
            } else {
                for r in 0..<rows { a += SIMD16<Double>(load(input + r * channels + c0)) }
                let m = a / Double(rows)
                for r in 0..<rows {
                    let d = SIMD16<Double>(load(input + r * channels + c0)) - m
                    b += d * d
                }
                (a, b) = (m, b / Double(rows))
            }
            UnsafeMutableRawPointer(first + c0).storeBytes(of: SIMD16<Float>(a), as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(second + c0).storeBytes(of: SIMD16<Float>(b), as: SIMD16<Float>.self)
        }
    }

    private struct NormalizeRows: RowWork {
        let out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, mean: UnsafePointer<Float>
        let invstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, channels: Int

        func run(row r: Int) {
            let x = input + r * channels, y = out + r * channels
            for c in 0..<channels { y[c] = (x[c] - mean[c]) * invstd[c] * gamma[c] + beta[c] }
        }
    }

    private struct BackwardRows: RowWork {
        let dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, input: UnsafePointer<Float>
        let mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>
        let dgamma: UnsafePointer<Float>, dbeta: UnsafePointer<Float>, count: Float, channels: Int

        func run(row r: Int) {
            let x = input + r * channels, d = dout + r * channels, dx = dinput + r * channels
            for c in 0..<channels {
                let xhat = (x[c] - mean[c]) * invstd[c]
                dx[c] = gamma[c] * invstd[c] * (d[c] - dbeta[c] / count - xhat * (dgamma[c] / count))
            }
        }
    }
}

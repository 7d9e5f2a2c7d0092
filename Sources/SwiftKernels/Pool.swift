// Max and average pooling on NHWC images, forward and backward, with the contracts of
// dk_maxpool_* / dk_avgpool_* (CKernels.h): windows skip padding; forward passes split output rows
// between workers, backward passes give each image to one worker (zero, then add every window's
// share in a fixed order), so results do not depend on the thread count.

extension SwiftKernels {
    /// out (batch, outH, outW, channels) = each window's largest input, per channel.
    public static func maxPoolForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: Window) {
        parallelRows(rows: window.batch * window.pixels, cols: window.channels * window.kernelH * window.kernelW,
                     grain: 1 << 15, PoolForward(out: out, input: input, w: window, average: false))
    }

    /// out = each window's mean over its input elements (padding not counted).
    public static func avgPoolForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: Window) {
        parallelRows(rows: window.batch * window.pixels, cols: window.channels * window.kernelH * window.kernelW,
                     grain: 1 << 15, PoolForward(out: out, input: input, w: window, average: true))
    }

    private struct PoolForward: RowWork {
        let out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, w: Window, average: Bool

        func run(row r: Int) {
            let image = input + (r / w.pixels) * w.imageCount
            let (y0, y1, x0, x1) = w.clipped((r % w.pixels) / w.outW, (r % w.pixels) % w.outW)
            let c = w.channels, dst = out + r * c
            dst.update(repeating: average ? 0 : -Float.greatestFiniteMagnitude, count: c)
            for y in y0..<y1 {
                for x in x0..<x1 {
                    let src = image + (y * w.width + x) * c
                    var i = 0
                    while i + 8 <= c {
                        store(dst + i, average ? load(dst + i) + load(src + i) : vmax(load(dst + i), load(src + i)))
                        i += 8
                    }
                    while i < c {
                        dst[i] = average ? dst[i] + src[i] : (src[i] > dst[i] ? src[i] : dst[i])
                        i += 1
                    }
                }
            }
            if average {
                let scale = 1 / Float((y1 - y0) * (x1 - x0))
                for i in 0..<c { dst[i] *= scale }
            }
        }
    }

    /// dinput (batch, height, width, channels) = dout added, per window and channel, at the window's
    /// first largest input (overwrites). input is the forward input.
    public static func maxPoolBackward(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                       input: UnsafePointer<Float>, window: Window) {
        parallelRows(rows: window.batch, cols: window.imageCount, grain: 1,
                     PoolBackward(dinput: dinput, dout: dout, input: input, w: window, throughReLU: false))
    }

    /// maxPoolBackward then the ReLU's derivative on its result, in one pass: for input = relu(z), the
    /// gradient reaching z (dout kept only where the window's largest input is > 0; overwrites).
    public static func maxPoolReLUBackward(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                           input: UnsafePointer<Float>, window: Window) {
        parallelRows(rows: window.batch, cols: window.imageCount, grain: 1,
                     PoolBackward(dinput: dinput, dout: dout, input: input, w: window, throughReLU: true))
    }

    /// dinput = dout / (window's element count) added at each element of each window (overwrites).
    public static func avgPoolBackward(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, window: Window) {
        parallelRows(rows: window.batch, cols: window.imageCount, grain: 1,
                     PoolBackward(dinput: dinput, dout: dout, input: nil, w: window, throughReLU: false))
    }

    private struct PoolBackward: RowWork {
        let dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, input: UnsafePointer<Float>?, w: Window
        /// Max pool: keep only the gradients of positive maxima (the ReLU's derivative: dinput starts at +0).
        let throughReLU: Bool

        func run(row image: Int) {
            let c = w.channels
            let dimage = dinput + image * w.imageCount
            dimage.update(repeating: 0, count: w.imageCount)
            for oy in 0..<w.outH {
                for ox in 0..<w.outW {
                    let (y0, y1, x0, x1) = w.clipped(oy, ox)
                    let d = dout + ((image * w.outH + oy) * w.outW + ox) * c
                    if let input {
                        let source = input + image * w.imageCount
                        for ch in 0..<c {
                            var best = -Float.greatestFiniteMagnitude, at = y0 * w.width + x0
                            for y in y0..<y1 {
                                for x in x0..<x1 where source[(y * w.width + x) * c + ch] > best {
                                    best = source[(y * w.width + x) * c + ch]
                                    at = y * w.width + x
                                }
                            }
                            if !throughReLU || source[at * c + ch] > 0 { dimage[at * c + ch] += d[ch] }
                        }
                    } else {
                        let scale = 1 / Float((y1 - y0) * (x1 - x0))
                        for y in y0..<y1 {
                            for x in x0..<x1 { addVector(dimage + (y * w.width + x) * c, d, count: c, scale: scale) }
                        }
                    }
                }
            }
        }
    }
}

// Max and average pooling on NHWC images, forward and backward, with the contracts of
// dk_maxpool_* / dk_avgpool_* (CKernels.h): windows skip padding; forward passes split rows of output
// pixels between workers, backward passes give each image to one worker (zero, then add every window's
// share in a fixed order), so results do not depend on the thread count.

extension SwiftKernels {
    /// out (batch, outH, outW, channels) = each window's largest input, per channel.
    public static func maxPoolForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: Window) {
        parallelRows(rows: window.batch * window.outH, cols: window.outW * window.channels * window.kernelH * window.kernelW,
                     grain: 1 << 15, PoolForward(out: out, input: input, w: window, average: false))
    }

    /// out = each window's mean over its input elements (padding not counted).
    public static func avgPoolForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: Window) {
        parallelRows(rows: window.batch * window.outH, cols: window.outW * window.channels * window.kernelH * window.kernelW,
                     grain: 1 << 15, PoolForward(out: out, input: input, w: window, average: true))
    }

    private struct PoolForward: RowWork {
        let out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, w: Window, average: Bool

        /// One output row (image, oy) of pixels.
        func run(row r: Int) {
            let image = input + (r / w.outH) * w.imageCount, oy = r % w.outH
            let c = w.channels
            for ox in 0..<w.outW {
                let (y0, y1, x0, x1) = w.clipped(oy, ox)
                let dst = out + (r * w.outW + ox) * c
                let scale = average ? 1 / Float((y1 - y0) * (x1 - x0)) : 1
                // 8 channels at a time, then the rest (all of them in a layer of fewer than 8) in one partial
                // vector; each lane runs over the window in the same order as a scalar loop would.
                var i = 0
                while i < c {
                    let lanes = min(8, c - i)
                    var acc = Vec(repeating: average ? 0 : -Float.greatestFiniteMagnitude)
                    for y in y0..<y1 {
                        for x in x0..<x1 {
                            let src = image + (y * w.width + x) * c + i
                            let v = lanes == 8 ? load(src) : loadPartial(src, lanes)
                            acc = average ? acc + v : vmax(acc, v)
                        }
                    }
                    if average { acc *= scale }
                    if lanes == 8 { store(dst + i, acc) } else { storePartial(dst + i, acc, lanes) }
                    i += 8
                }
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
                        var i = 0
                        while i < c {
                            addAtFirstLargest(dimage + i, source + i, d + i, lanes: min(8, c - i), y0, y1, x0, x1)
                            i += 8
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

        /// For `lanes` channels (from `source` and `dimage`, at the channel's offset) of one window: adds
        /// dout `d` at the window's first largest input, as a search in window order that keeps a value
        /// only when it is strictly larger than the best so far (from -greatestFiniteMagnitude, so the
        /// window's first position when nothing exceeds that); through the ReLU only when that input is
        /// positive. Channels in the lanes: the largest value first, then each position in order takes the
        /// lanes whose first equal value it holds.
        @inline(__always)
        private func addAtFirstLargest(_ dimage: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>,
                                       _ d: UnsafePointer<Float>, lanes: Int, _ y0: Int, _ y1: Int, _ x0: Int, _ x1: Int) {
            let c = w.channels
            @inline(__always) func at(_ y: Int, _ x: Int) -> Int { (y * w.width + x) * c }
            @inline(__always) func read(_ p: UnsafePointer<Float>) -> Vec { lanes == 8 ? load(p) : loadPartial(p, lanes) }
            let start = Vec(repeating: -Float.greatestFiniteMagnitude)
            var best = start
            for y in y0..<y1 {
                for x in x0..<x1 { best = vmax(best, read(source + at(y, x))) }
            }
            let found = best .> start, gradient = read(d)
            let everyLane = SIMDMask<SIMD8<Int32>>(repeating: true)
            let passes = throughReLU ? best .> Vec() : everyLane
            var pending = everyLane
            for y in y0..<y1 {
                for x in x0..<x1 {
                    let chosen = pending .& ((read(source + at(y, x)) .== best) .| .!found)
                    pending = pending .& .!chosen
                    let target = dimage + at(y, x), current = read(target)
                    let updated = current.replacing(with: current + gradient, where: chosen .& passes)
                    if lanes == 8 { store(target, updated) } else { storePartial(target, updated, lanes) }
                }
            }
        }
    }
}

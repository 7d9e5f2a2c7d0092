// Convolution's data movement on NHWC images: im2col and its adjoint col2im, with the contracts of
// dk_im2col / dk_col2im (CKernels.h). The products are sgemm calls made by the caller.
// im2col splits output rows between workers; col2im gives each image to one worker, which sums its
// overlapping windows in a fixed order, so results do not depend on the thread count.

extension SwiftKernels {
    /// A sliding window over NHWC images (dk_window): input (batch, height, width, channels), window
    /// (kernelH, kernelW) moved by (strideH, strideW) over the input padded with padTop rows above and
    /// padLeft columns to the left; output (batch, outH, outW, ·).
    public struct Window: Sendable {
        public var batch, height, width, channels: Int
        public var kernelH, kernelW, strideH, strideW, padTop, padLeft: Int
        public var outH, outW: Int

        public init(batch: Int, height: Int, width: Int, channels: Int, kernelH: Int, kernelW: Int,
                    strideH: Int, strideW: Int, padTop: Int, padLeft: Int, outH: Int, outW: Int) {
            (self.batch, self.height, self.width, self.channels) = (batch, height, width, channels)
            (self.kernelH, self.kernelW, self.strideH, self.strideW) = (kernelH, kernelW, strideH, strideW)
            (self.padTop, self.padLeft, self.outH, self.outW) = (padTop, padLeft, outH, outW)
        }

        var imageCount: Int { height * width * channels }
        var pixels: Int { outH * outW }

        /// The kernel columns kx0..<kx1 of output column ox that fall inside the image (possibly none).
        @inline(__always)
        func validColumns(_ ox: Int) -> (Int, Int) {
            let xs = ox * strideW - padLeft
            let kx0 = min(max(-xs, 0), kernelW)
            return (kx0, max(min(width - xs, kernelW), kx0))
        }

        /// The window of output pixel (oy, ox) clipped to the input: rows y0..<y1, columns x0..<x1.
        @inline(__always)
        func clipped(_ oy: Int, _ ox: Int) -> (y0: Int, y1: Int, x0: Int, x1: Int) {
            let ys = oy * strideH - padTop, xs = ox * strideW - padLeft
            return (max(ys, 0), min(ys + kernelH, height), max(xs, 0), min(xs + kernelW, width))
        }
    }
}

extension SwiftKernels {
    /// col (batch·outH·outW, kernelH·kernelW·channels) = each output pixel's receptive field in
    /// (ky, kx, c) order, zeros over padding; input is (batch, height, width, channels).
    public static func im2col(col: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: Window) {
        let rowLength = window.kernelH * window.kernelW * window.channels
        guard rowLength > 0 else { return }
        parallelRows(rows: window.batch * window.pixels, cols: rowLength, grain: 1 << 16,
                     Im2Col(col: col, input: input, w: window, rowLength: rowLength))
    }

    private struct Im2Col: RowWork {
        let col: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, w: Window, rowLength: Int

        func run(row r: Int) {
            let image = input + (r / w.pixels) * w.imageCount
            let oy = (r % w.pixels) / w.outW, ox = (r % w.pixels) % w.outW
            let c = w.channels
            var dst = col + r * rowLength
            // Along a row of the window the in-bounds pixels are contiguous in NHWC: one copy each.
            let (kx0, kx1) = w.validColumns(ox)
            let left = kx0 * c, span = (kx1 - kx0) * c, right = (w.kernelW - kx1) * c
            for ky in 0..<w.kernelH {
                let iy = oy * w.strideH - w.padTop + ky
                if iy < 0 || iy >= w.height {
                    dst.update(repeating: 0, count: w.kernelW * c)
                } else {
                    let ix0 = ox * w.strideW - w.padLeft + kx0
                    dst.update(repeating: 0, count: left)
                    (dst + left).update(from: image + (iy * w.width + ix0) * c, count: span)
                    (dst + left + span).update(repeating: 0, count: right)
                }
                dst += w.kernelW * c
            }
        }
    }

    /// dinput (batch, height, width, channels) = the sum of the elements of dcol copied from each
    /// input element by im2col (overwrites dinput).
    public static func col2im(dinput: UnsafeMutablePointer<Float>, dcol: UnsafePointer<Float>, window: Window) {
        parallelRows(rows: window.batch, cols: window.imageCount, grain: 1, Col2Im(dinput: dinput, dcol: dcol, w: window))
    }

    private struct Col2Im: RowWork {
        let dinput: UnsafeMutablePointer<Float>, dcol: UnsafePointer<Float>, w: Window

        func run(row image: Int) {
            let c = w.channels
            let out = dinput + image * w.imageCount
            out.update(repeating: 0, count: w.imageCount)
            var src = dcol + image * w.pixels * w.kernelH * w.kernelW * c
            for oy in 0..<w.outH {
                for ox in 0..<w.outW {
                    let (kx0, kx1) = w.validColumns(ox)
                    for ky in 0..<w.kernelH {
                        let iy = oy * w.strideH - w.padTop + ky
                        if iy >= 0 && iy < w.height {
                            let ix0 = ox * w.strideW - w.padLeft + kx0
                            addVector(out + (iy * w.width + ix0) * c, src + kx0 * c, count: (kx1 - kx0) * c)
                        }
                        src += w.kernelW * c
                    }
                }
            }
        }
    }

    /// y[i] += x[i] for a short vector (one pixel's channels).
    @inline(__always)
    static func addVector(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int, scale: Float = 1) {
        var i = 0
        while i + 8 <= count {
            store(y + i, mulAdd(load(x + i), Vec(repeating: scale), load(y + i)))
            i += 8
        }
        while i < count {
            y[i] += x[i] * scale
            i += 1
        }
    }
}

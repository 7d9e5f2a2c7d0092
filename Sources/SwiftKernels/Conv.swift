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

extension SwiftKernels.Window {
    /// Writes columns c0..<c1 of unfolded row `r` (pixel r's receptive field in (ky, kx, c) order, zeros
    /// over padding) to dst[0..<c1-c0]. Along a row of the window the in-bounds pixels are contiguous in
    /// NHWC: each field row is zeros, one run copied from the image, zeros.
    @inline(__always)
    func unfold(row r: Int, columns c0: Int, _ c1: Int, from input: UnsafePointer<Float>,
                to dst: UnsafeMutablePointer<Float>) {
        let image = input + (r / pixels) * imageCount
        let oy = (r % pixels) / outW, ox = (r % pixels) % outW
        let run = kernelW * channels
        let (kx0, kx1) = validColumns(ox)
        let lo = kx0 * channels, hi = kx1 * channels
        // Image offset of field column 0 of a field row (negative left of the image: only [lo, hi) is read).
        let x0 = (ox * strideW - padLeft) * channels
        var col = c0, out = dst
        while col < c1 {
            let ky = col / run, from = col - ky * run, to = min(run, c1 - ky * run)
            let iy = oy * strideH - padTop + ky
            if iy < 0 || iy >= height {
                fillZeros(out, to - from)
            } else {
                let copyFrom = min(max(from, lo), to), copyTo = max(min(to, hi), copyFrom)
                fillZeros(out, copyFrom - from)
                copyFloats(out + (copyFrom - from), image + iy * width * channels + x0 + copyFrom, copyTo - copyFrom)
                fillZeros(out + (copyTo - from), to - copyTo)
            }
            out += to - from
            col += to - from
        }
    }

    /// Adds unfolded rows p0..<p1 of one image (pixel indices within it; `src` holds row p0 first) into
    /// that image's gradient `out`, rows in order and each row's field in order, as col2im does.
    @inline(__always)
    func addUnfolded(rows p0: Int, _ p1: Int, from src: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let c = channels
        var src = src
        for p in p0..<p1 {
            let oy = p / outW, ox = p % outW
            let (kx0, kx1) = validColumns(ox)
            for ky in 0..<kernelH {
                let iy = oy * strideH - padTop + ky
                if iy >= 0 && iy < height {
                    let ix0 = ox * strideW - padLeft + kx0
                    SwiftKernels.addVector(out + (iy * width + ix0) * c, src + kx0 * c, count: (kx1 - kx0) * c)
                }
                src += kernelW * c
            }
        }
    }
}

/// dst[0..<count] = src[0..<count], in vectors: the runs are short (a few floats for a greyscale
/// field), where a memmove call per run costs more than the copy.
@inline(__always)
func copyFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ count: Int) {
    var i = 0
    while i + 8 <= count {
        store(dst + i, load(src + i))
        i += 8
    }
    if i < count { storePartial(dst + i, loadPartial(src + i, count - i), count - i) }
}

/// dst[0..<count] = 0, in vectors (short runs, as for `copyFloats`).
@inline(__always)
func fillZeros(_ dst: UnsafeMutablePointer<Float>, _ count: Int) {
    var i = 0
    while i + 8 <= count {
        store(dst + i, Vec())
        i += 8
    }
    if i < count { storePartial(dst + i, Vec(), count - i) }
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
            w.unfold(row: r, columns: 0, rowLength, from: input, to: col + r * rowLength)
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
            let out = dinput + image * w.imageCount
            out.update(repeating: 0, count: w.imageCount)
            w.addUnfolded(rows: 0, w.pixels, from: dcol + image * w.pixels * w.kernelH * w.kernelW * w.channels,
                          into: out)
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
        if i < count {
            // A multiply, then an add, as the scalar loop this replaced (the vector part above fuses them).
            let rest = count - i
            storePartial(y + i, loadPartial(y + i, rest) + loadPartial(x + i, rest) * Vec(repeating: scale), rest)
        }
    }
}

/// The data movement of convolutions, and pooling, on NHWC images: a convolution is ``im2col(col:input:window:)``
/// then a GEMM with the `(kh·kw·in, out)` weight (its backward: GEMMs, then ``col2im(dinput:dcol:window:)``).
/// Contracts: `dk_im2col`, `dk_col2im`, `dk_maxpool_*`, `dk_avgpool_*` in `CKernels.h`.
public protocol ConvolutionKernels: AnyObject, Sendable {
    func im2col(col: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: ConvolutionWindow)
    func col2im(dinput: UnsafeMutablePointer<Float>, dcol: UnsafePointer<Float>, window: ConvolutionWindow)
    func maxPoolForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: ConvolutionWindow)
    func maxPoolBackward(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, input: UnsafePointer<Float>,
                         window: ConvolutionWindow)
    /// maxPoolBackward then the ReLU's derivative, in one pass, bit for bit: for input = relu(z), the gradient
    /// reaching z.
    func maxPoolReLUBackward(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, input: UnsafePointer<Float>,
                             window: ConvolutionWindow)
    func avgPoolForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, window: ConvolutionWindow)
    func avgPoolBackward(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, window: ConvolutionWindow)
}

/// A sliding window over a batch of NHWC images: the geometry of a convolution or a pooling layer.
public struct ConvolutionWindow: Equatable, Sendable {
    /// The input batch (batch, height, width, channels).
    public var batch, height, width, channels: Int
    public var kernelHeight, kernelWidth, strideHeight, strideWidth: Int
    /// Rows of padding above and columns to the left (those below and to the right follow from the output size).
    public var padTop, padLeft: Int
    public var outputHeight, outputWidth: Int

    /// The window of a layer (its output size worked out from the padding) over `input` (N, H, W, C).
    public init(input: Shape, kernel: (Int, Int), stride: (Int, Int), padding: Padding) {
        (batch, height, width, channels) = (input[0], input[1], input[2], input[3])
        (kernelHeight, kernelWidth, strideHeight, strideWidth) = (kernel.0, kernel.1, stride.0, stride.1)
        let rows = padding.resolve(size: height, kernel: kernel.0, stride: stride.0, vertical: true)
        let cols = padding.resolve(size: width, kernel: kernel.1, stride: stride.1, vertical: false)
        (padTop, outputHeight, padLeft, outputWidth) = (rows.before, rows.output, cols.before, cols.output)
    }

    /// No window at all (an op's blank state).
    static let empty = ConvolutionWindow()
    private init() {
        (batch, height, width, channels) = (0, 0, 0, 0)
        (kernelHeight, kernelWidth, strideHeight, strideWidth, padTop, padLeft) = (0, 0, 0, 0, 0, 0)
        (outputHeight, outputWidth) = (0, 0)
    }

    /// A 1×1 window with stride 1 and no padding: the unfolded input is the input itself.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1 && padTop == 0 && padLeft == 0
            && outputHeight == height && outputWidth == width
    }

    /// Rows of the unfolded input (output pixels) and their length (one receptive field).
    public var pixels: Int { batch * outputHeight * outputWidth }
    public var fieldSize: Int { kernelHeight * kernelWidth * channels }
}


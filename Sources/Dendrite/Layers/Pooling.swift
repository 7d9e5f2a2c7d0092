/// Max or average pooling over NHWC images (Keras's `MaxPooling2D` / `AveragePooling2D`): each
/// `size` window, moved by `stride`, becomes its largest value or its mean, per channel.
public final class Pool2D: Layer {
    public let kind: PoolKind
    public let size: (Int, Int)
    public let stride: (Int, Int)
    public let padding: Padding

    public init(_ kind: PoolKind, size: (Int, Int), stride: (Int, Int)? = nil, padding: Padding = .valid) {
        self.kind = kind
        self.size = size
        self.stride = stride ?? size
        self.padding = padding
    }

    public func callAsFunction(_ input: Variable, on tape: Tape) -> Variable {
        tape.pool2d(input, kind, size: size, stride: stride, padding: padding)
    }
}

/// The mean of each channel over the image: (N, H, W, C) → (N, C) (Keras's `GlobalAveragePooling2D`).
public final class GlobalAveragePool: Layer {
    public init() {}
    public func callAsFunction(_ input: Variable, on tape: Tape) -> Variable { tape.globalAveragePool(input) }
}

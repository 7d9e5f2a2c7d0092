/// One layer of a ``ModelSpec``. Its JSON form is an object whose `type` is the layer's name in the
/// `--layers` text form: `{"type": "dense", "units": 256, "initializer": "normal"}`, `{"type": "relu"}`,
/// `{"type": "leaky-relu", "alpha": 0.2}`, `{"type": "flatten"}`, `{"type": "conv", "filters": 32,
/// "kernel": [3, 3], "stride": [1, 1], "padding": "valid", "bias": true, "initializer": "glorot"}`,
/// `{"type": "maxpool", "size": [2, 2], "stride": [2, 2], "padding": "valid"}`, `{"type": "globalavgpool"}`,
/// `{"type": "dropout", "rate": 0.25}`, `{"type": "batchnorm", "momentum": 0.99, "epsilon": 0.001}`.
public enum LayerSpec: Equatable, Sendable {
    /// y = x·W + b with W (inputs, units), as in Keras; an input of higher rank is flattened first.
    case dense(units: Int, initializer: Initializer = .randomNormal())
    /// An elementwise activation (a dense or conv layer followed by one runs as one fused op).
    case activation(Activation)
    /// Merges every dimension after the batch.
    case flatten
    /// A 2-D convolution of an (height, width, channels) input with W (kh, kw, in, filters), as in
    /// Keras (whose defaults it takes: stride 1, valid padding, a bias, Glorot uniform weights).
    case conv(filters: Int, kernel: Size2D, stride: Size2D = Size2D(1), padding: Padding = .valid, bias: Bool = true,
              initializer: Initializer = .glorotUniform)
    /// Max or average pooling; the stride defaults to the size.
    case pool(PoolKind, size: Size2D, stride: Size2D, padding: Padding = .valid)
    /// The mean of each channel over the image: (height, width, channels) → (channels).
    case globalAveragePool
    /// Zeroes a fraction `rate` of the values in training (scaling the rest by 1/(1 - rate)); off in evaluation.
    case dropout(rate: Float)
    /// Batch normalization over the last dimension (Keras's defaults: momentum 0.99, ε 0.001).
    case batchNorm(momentum: Float = 0.99, epsilon: Float = 0.001)

    /// The name used as the JSON `type` and in the text form.
    public var typeName: String {
        switch self {
        case .dense: "dense"
        case .activation(let activation): activation.description
        case .flatten: "flatten"
        case .conv: "conv"
        case .pool(.max, _, _, _): "maxpool"
        case .pool(.average, _, _, _): "avgpool"
        case .globalAveragePool: "globalavgpool"
        case .dropout: "dropout"
        case .batchNorm: "batchnorm"
        }
    }

    /// The layer in the `--layers` text form ("dense 256", "leaky-relu 0.2", "conv 32 3x3 stride=2").
    public var text: String {
        switch self {
        case .dense(let units, let initializer):
            return initializer == .randomNormal() ? "dense \(units)" : "dense \(units) init=\(initializer.name)"
        case .activation(let activation):
            switch activation {
            case .leakyReLU(let alpha) where alpha != 0.01, .elu(let alpha) where alpha != 1: return "\(typeName) \(alpha)"
            default: return typeName
            }
        case .flatten, .globalAveragePool:
            return typeName
        case .conv(let filters, let kernel, let stride, let padding, let bias, let initializer):
            var words = ["conv", "\(filters)", kernel.text]
            if stride != Size2D(1) { words.append("stride=\(stride.compactText)") }
            if padding != .valid { words.append("padding=\(padding.text)") }
            if !bias { words.append("bias=false") }
            if initializer != .glorotUniform { words.append("init=\(initializer.name)") }
            return words.joined(separator: " ")
        case .pool(_, let size, let stride, let padding):
            var words = [typeName, size.compactText]
            if stride != size { words.append("stride=\(stride.compactText)") }
            if padding != .valid { words.append("padding=\(padding.text)") }
            return words.joined(separator: " ")
        case .dropout(let rate):
            return "dropout \(rate)"
        case .batchNorm(let momentum, let epsilon):
            let words = ["batchnorm"] + (momentum != 0.99 ? ["momentum=\(momentum)"] : [])
                + (epsilon != 0.001 ? ["epsilon=\(epsilon)"] : [])
            return words.joined(separator: " ")
        }
    }
}

/// A height and a width (a kernel, a stride, a pool size); the text form is "3" (square) or "3x5".
public struct Size2D: Equatable, Sendable, Codable {
    public var rows, cols: Int
    public init(_ rows: Int, _ cols: Int) { (self.rows, self.cols) = (rows, cols) }
    public init(_ side: Int) { self.init(side, side) }

    public init?(text: String) {
        guard let (rows, cols) = parsePair(text) else { return nil }
        self.init(rows, cols)
    }

    public var text: String { "\(rows)x\(cols)" }
    /// "2" for a square, else "2x3" (how pool sizes read best).
    public var compactText: String { rows == cols ? "\(rows)" : text }
    var pair: (Int, Int) { (rows, cols) }

    public init(from decoder: Decoder) throws {
        var container = try decoder.unkeyedContainer()
        self.init(try container.decode(Int.self), try container.decode(Int.self))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.unkeyedContainer()
        try container.encode(rows)
        try container.encode(cols)
    }
}

extension LayerSpec: Codable {
    private enum Key: String, CodingKey { case type, units, initializer, alpha, filters, kernel, stride, padding, bias, size, rate, momentum, epsilon }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let type = try container.decode(String.self, forKey: .type)
        func initializer(default name: String) throws -> Initializer {
            let name = try container.decodeIfPresent(String.self, forKey: .initializer) ?? name
            guard let parsed = Initializer(name: name) else {
                throw DecodingError.dataCorruptedError(forKey: .initializer, in: container, debugDescription:
                    "unknown initializer '\(name)'; valid: \(Initializer.names.joined(separator: ", "))")
            }
            return parsed
        }
        func padding() throws -> Padding {
            let text = try container.decodeIfPresent(String.self, forKey: .padding) ?? "valid"
            guard let parsed = Padding(text: text) else {
                throw DecodingError.dataCorruptedError(forKey: .padding, in: container, debugDescription:
                    "unknown padding '\(text)'; valid: valid, same, a number of rows and columns like 1, or 1x2")
            }
            return parsed
        }
        switch type {
        case "dense":
            self = .dense(units: try container.decode(Int.self, forKey: .units), initializer: try initializer(default: "normal"))
        case "flatten":
            self = .flatten
        case "conv":
            self = .conv(filters: try container.decode(Int.self, forKey: .filters),
                         kernel: try container.decode(Size2D.self, forKey: .kernel),
                         stride: try container.decodeIfPresent(Size2D.self, forKey: .stride) ?? Size2D(1),
                         padding: try padding(), bias: try container.decodeIfPresent(Bool.self, forKey: .bias) ?? true,
                         initializer: try initializer(default: "glorot"))
        case "maxpool", "avgpool":
            let size = try container.decode(Size2D.self, forKey: .size)
            self = .pool(type == "maxpool" ? .max : .average, size: size,
                         stride: try container.decodeIfPresent(Size2D.self, forKey: .stride) ?? size, padding: try padding())
        case "globalavgpool":
            self = .globalAveragePool
        case "dropout":
            self = .dropout(rate: try container.decode(Float.self, forKey: .rate))
        case "batchnorm":
            self = .batchNorm(momentum: try container.decodeIfPresent(Float.self, forKey: .momentum) ?? 0.99,
                              epsilon: try container.decodeIfPresent(Float.self, forKey: .epsilon) ?? 0.001)
        default:
            guard let activation = Activation(name: type, alpha: try container.decodeIfPresent(Float.self, forKey: .alpha))
            else {
                throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription:
                    "unknown layer type '\(type)'; valid: \(ModelSpec.layerTypes.joined(separator: ", "))")
            }
            self = .activation(activation)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(typeName, forKey: .type)
        switch self {
        case .dense(let units, let initializer):
            try container.encode(units, forKey: .units)
            try container.encode(initializer.name, forKey: .initializer)
        case .activation(.leakyReLU(let alpha)), .activation(.elu(let alpha)):
            try container.encode(alpha, forKey: .alpha)
        case .conv(let filters, let kernel, let stride, let padding, let bias, let initializer):
            try container.encode(filters, forKey: .filters)
            try container.encode(kernel, forKey: .kernel)
            try container.encode(stride, forKey: .stride)
            try container.encode(padding.text, forKey: .padding)
            try container.encode(bias, forKey: .bias)
            try container.encode(initializer.name, forKey: .initializer)
        case .pool(_, let size, let stride, let padding):
            try container.encode(size, forKey: .size)
            try container.encode(stride, forKey: .stride)
            try container.encode(padding.text, forKey: .padding)
        case .dropout(let rate):
            try container.encode(rate, forKey: .rate)
        case .batchNorm(let momentum, let epsilon):
            try container.encode(momentum, forKey: .momentum)
            try container.encode(epsilon, forKey: .epsilon)
        case .activation, .flatten, .globalAveragePool:
            break
        }
    }
}

/// One layer of a ``ModelSpec``. Its JSON form is an object whose `type` is the layer's name in the
/// `--layers` text form: `{"type": "dense", "units": 256, "initializer": "normal"}`, `{"type": "relu"}`,
/// `{"type": "leaky-relu", "alpha": 0.2}`, `{"type": "flatten"}`.
public enum LayerSpec: Equatable, Sendable {
    /// y = x·W + b with W (inputs, units), as in Keras; an input of higher rank is flattened first.
    case dense(units: Int, initializer: Initializer = .randomNormal())
    /// An elementwise activation (a dense layer followed by one runs as one fused op).
    case activation(Activation)
    /// Merges every dimension after the batch.
    case flatten

    /// The name used as the JSON `type` and in the text form.
    public var typeName: String {
        switch self {
        case .dense: "dense"
        case .activation(let activation): activation.description
        case .flatten: "flatten"
        }
    }

    /// The layer in the `--layers` text form ("dense 256", "leaky-relu 0.2").
    public var text: String {
        switch self {
        case .dense(let units, let initializer):
            initializer == .randomNormal() ? "dense \(units)" : "dense \(units) init=\(initializer.name)"
        case .activation(let activation):
            switch activation {
            case .leakyReLU(let alpha) where alpha != 0.01, .elu(let alpha) where alpha != 1: "\(typeName) \(alpha)"
            default: typeName
            }
        case .flatten: "flatten"
        }
    }
}

extension LayerSpec: Codable {
    private enum Key: String, CodingKey { case type, units, initializer, alpha }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "dense":
            let initializer = try container.decodeIfPresent(String.self, forKey: .initializer) ?? "normal"
            guard let parsed = Initializer(name: initializer) else {
                throw DecodingError.dataCorruptedError(forKey: .initializer, in: container, debugDescription:
                    "unknown initializer '\(initializer)'; valid: \(Initializer.names.joined(separator: ", "))")
            }
            self = .dense(units: try container.decode(Int.self, forKey: .units), initializer: parsed)
        case "flatten":
            self = .flatten
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
        case .activation, .flatten:
            break
        }
    }
}

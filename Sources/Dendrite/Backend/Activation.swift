/// An elementwise nonlinearity; `alpha` is the leaky-ReLU slope or the ELU scale.
public enum Activation: Equatable, Sendable, CustomStringConvertible {
    case identity
    case relu
    /// Negative slope, > 0 (Keras and PyTorch default 0.01).
    case leakyReLU(alpha: Float = 0.01)
    case sigmoid
    case tanh
    /// alpha > 0 (default 1).
    case elu(alpha: Float = 1)
    /// Fixed constants (α 1.6732632423543772, scale 1.0507009873554805).
    case selu

    /// Names used on the command line.
    public static let names = ["relu", "leaky-relu", "sigmoid", "tanh", "elu", "selu", "identity"]

    public init?(name: String) {
        switch name {
        case "relu": self = .relu
        case "leaky-relu": self = .leakyReLU()
        case "sigmoid": self = .sigmoid
        case "tanh": self = .tanh
        case "elu": self = .elu()
        case "selu": self = .selu
        case "identity": self = .identity
        default: return nil
        }
    }

    /// The activation of that name with its parameter (`alpha`, nil for the default); nil for an unknown
    /// name, or a parameter given to an activation that has none.
    public init?(name: String, alpha: Float?) {
        guard let alpha else { self.init(name: name); return }
        switch name {
        case "leaky-relu": self = .leakyReLU(alpha: alpha)
        case "elu": self = .elu(alpha: alpha)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .identity: "identity"
        case .relu: "relu"
        case .leakyReLU: "leaky-relu"
        case .sigmoid: "sigmoid"
        case .tanh: "tanh"
        case .elu: "elu"
        case .selu: "selu"
        }
    }

    /// The slope or scale parameter (0 where the activation has none).
    public var alpha: Float {
        switch self {
        case .leakyReLU(let a), .elu(let a): a
        default: 0
        }
    }
}

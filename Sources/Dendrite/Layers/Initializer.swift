/// How a weight matrix (fanIn, fanOut) starts. Biases start at zero.
public enum Initializer: Equatable, Sendable {
    /// Keras's `RandomNormal()` default, the lab's choice: N(mean, stddev²).
    case randomNormal(mean: Float = 0, stddev: Float = 0.05)
    /// Glorot/Xavier uniform: U(−l, l), l = sqrt(6 / (fanIn + fanOut)).
    case glorotUniform
    /// He normal: N(0, 2 / fanIn), suited to ReLU.
    case heNormal

    public static let names = ["normal", "glorot", "he"]

    public init?(name: String) {
        switch name {
        case "normal": self = .randomNormal()
        case "glorot": self = .glorotUniform
        case "he": self = .heNormal
        default: return nil
        }
    }

    /// The name `init(name:)` takes.
    public var name: String {
        switch self {
        case .randomNormal: "normal"
        case .glorotUniform: "glorot"
        case .heNormal: "he"
        }
    }

    /// A (fanIn, fanOut) tensor drawn from `generator`.
    public func weights(fanIn: Int, fanOut: Int, using generator: inout SeededGenerator) -> Tensor {
        weights(shape: Shape(fanIn, fanOut), fanIn: fanIn, fanOut: fanOut, using: &generator)
    }

    /// A tensor of `shape` drawn from `generator` for a layer with these fans (a convolution's are
    /// kh·kw·in and kh·kw·out, as in Keras).
    public func weights(shape: Shape, fanIn: Int, fanOut: Int, using generator: inout SeededGenerator) -> Tensor {
        var tensor = Tensor(zeros: shape)
        let pointer = tensor.mutablePointer
        for i in 0..<shape.count {
            switch self {
            case .randomNormal(let mean, let stddev):
                pointer[i] = mean + stddev * Float(generator.nextNormal())
            case .glorotUniform:
                let limit = (6 / Double(fanIn + fanOut)).squareRoot()
                pointer[i] = Float((2 * generator.nextUnit() - 1) * limit)
            case .heNormal:
                pointer[i] = Float(generator.nextNormal() * (2 / Double(fanIn)).squareRoot())
            }
        }
        return tensor
    }
}

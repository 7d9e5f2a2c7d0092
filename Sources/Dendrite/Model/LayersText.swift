/// The compact text form of a model, as `--layers` takes it:
///
///     model := layer { "," layer }
///     layer := "dense" UNITS [ "init=" ("normal" | "glorot" | "he") ]
///            | "conv" FILTERS SIZE [ "stride=" SIZE ] [ "padding=" PADDING ] [ "bias=false" ] [ "init=" … ]
///            | ("maxpool" | "avgpool") SIZE [ "stride=" SIZE ] [ "padding=" PADDING ]   (stride: the size)
///            | "globalavgpool" | "flatten"
///            | "dropout" RATE
///            | "batchnorm" [ "momentum=" M ] [ "epsilon=" E ]     (defaults 0.99 and 0.001, as Keras)
///            | "relu" | "sigmoid" | "tanh" | "selu" | "identity"
///            | "leaky-relu" [ ALPHA ]      (default 0.01)
///            | "elu" [ ALPHA ]             (default 1)
///     SIZE := N | NxM        PADDING := "valid" | "same" | SIZE (zeros on each side)
///
/// Words are separated by spaces; case matters. Example: `conv 32 3x3, relu, maxpool 2, flatten, dense 10`.
extension ModelSpec {
    public init(layersText text: String) throws {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        var layers: [LayerSpec] = []
        for (index, part) in parts.enumerated() {
            let words = part.split(separator: " ").map(String.init)
            func fail(_ rule: String) -> DendriteError {
                .invalidArgument("--layers: layer \(index) ('\(part.trimmingCharacters(in: .whitespaces))'): \(rule)")
            }
            guard let name = words.first else {
                throw fail("is empty; layers are separated by commas, like 'dense 256, relu, dense 10'")
            }
            let arguments = Array(words.dropFirst())
            /// The `key=value` options after `positional` leading arguments; keys outside `allowed` are errors.
            func options(after positional: Int, allowed: [String]) throws -> [String: String] {
                var found: [String: String] = [:]
                for option in arguments.dropFirst(positional) {
                    let pair = option.split(separator: "=", maxSplits: 1).map(String.init)
                    guard pair.count == 2, allowed.contains(pair[0]) else {
                        throw fail("unknown option '\(option)'; \(name) takes "
                            + allowed.map { "\($0)=…" }.joined(separator: ", "))
                    }
                    found[pair[0]] = pair[1]
                }
                return found
            }
            func size(_ word: String?, _ what: String) throws -> Size2D {
                guard let word, let size = Size2D(text: word) else { throw fail("needs \(what), like 3 or 3x3") }
                return size
            }
            func padding(_ word: String?) throws -> Padding {
                guard let word else { return .valid }
                guard let padding = Padding(text: word) else {
                    throw fail("padding must be valid, same, or rows of zeros on each side like 1 or 1x2, got '\(word)'")
                }
                return padding
            }
            func initializer(_ word: String?, default value: Initializer) throws -> Initializer {
                guard let word else { return value }
                guard let parsed = Initializer(name: word) else {
                    throw fail("unknown initializer '\(word)'; valid: \(Initializer.names.joined(separator: ", "))")
                }
                return parsed
            }
            switch name {
            case "dense":
                guard let unitsText = arguments.first, let units = Int(unitsText) else {
                    throw fail("needs a number of units, like 'dense 256'")
                }
                let found = try options(after: 1, allowed: ["init"])
                layers.append(.dense(units: units, initializer: try initializer(found["init"], default: .randomNormal())))
            case "conv":
                guard let filtersText = arguments.first, let filters = Int(filtersText) else {
                    throw fail("needs a number of filters and a kernel size, like 'conv 32 3x3'")
                }
                let kernel = try size(arguments.dropFirst().first, "a kernel size after the filters")
                let found = try options(after: 2, allowed: ["stride", "padding", "bias", "init"])
                guard [nil, "true", "false"].contains(found["bias"]) else { throw fail("bias must be true or false") }
                layers.append(.conv(filters: filters, kernel: kernel,
                                    stride: try found["stride"].map { try size($0, "a stride") } ?? Size2D(1),
                                    padding: try padding(found["padding"]), bias: found["bias"] != "false",
                                    initializer: try initializer(found["init"], default: .glorotUniform)))
            case "maxpool", "avgpool":
                let poolSize = try size(arguments.first, "a pool size")
                let found = try options(after: 1, allowed: ["stride", "padding"])
                layers.append(.pool(name == "maxpool" ? .max : .average, size: poolSize,
                                    stride: try found["stride"].map { try size($0, "a stride") } ?? poolSize,
                                    padding: try padding(found["padding"])))
            case "flatten", "globalavgpool":
                guard arguments.isEmpty else { throw fail("\(name) takes no arguments") }
                layers.append(name == "flatten" ? .flatten : .globalAveragePool)
            case "batchnorm":
                let found = try options(after: 0, allowed: ["momentum", "epsilon"])
                func number(_ key: String, _ value: Float) throws -> Float {
                    guard let word = found[key] else { return value }
                    guard let parsed = Float(word), parsed.isFinite else { throw fail("\(key) must be a number, got '\(word)'") }
                    return parsed
                }
                layers.append(.batchNorm(momentum: try number("momentum", 0.99), epsilon: try number("epsilon", 0.001)))
            case "dropout":
                guard arguments.count == 1, let rate = Float(arguments[0]), rate.isFinite else {
                    throw fail("needs a rate, like 'dropout 0.25'")
                }
                layers.append(.dropout(rate: rate))
            default:
                guard arguments.count <= 1 else { throw fail("takes at most one argument") }
                let alpha = try arguments.first.map { word -> Float in
                    guard let value = Float(word), value.isFinite else { throw fail("'\(word)' is not a finite number") }
                    return value
                }
                guard let activation = Activation(name: name, alpha: alpha) else {
                    throw fail(Activation(name: name) == nil
                        ? "unknown layer '\(name)'; valid: \(ModelSpec.layerTypes.joined(separator: ", "))"
                        : "\(name) takes no argument")
                }
                layers.append(.activation(activation))
            }
        }
        self.init(layers: layers)
    }

    /// The spec in the `--layers` text form (parses back to an equal spec).
    public var layersText: String { layers.map(\.text).joined(separator: ", ") }
}

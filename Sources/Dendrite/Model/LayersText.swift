/// The compact text form of a model, as `--layers` takes it:
///
///     model := layer { "," layer }
///     layer := "dense" UNITS [ "init=" ("normal" | "glorot" | "he") ]
///            | "flatten"
///            | "relu" | "sigmoid" | "tanh" | "selu" | "identity"
///            | "leaky-relu" [ ALPHA ]      (default 0.01)
///            | "elu" [ ALPHA ]             (default 1)
///
/// Words are separated by spaces; case matters. Example: `dense 256, relu, dense 256, relu, dense 10`.
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
            switch name {
            case "dense":
                guard let unitsText = arguments.first, let units = Int(unitsText) else {
                    throw fail("needs a number of units, like 'dense 256'")
                }
                var initializer = Initializer.randomNormal()
                for option in arguments.dropFirst() {
                    guard option.hasPrefix("init="), let parsed = Initializer(name: String(option.dropFirst(5))) else {
                        throw fail("unknown option '\(option)'; dense takes init=\(Initializer.names.joined(separator: "|"))")
                    }
                    initializer = parsed
                }
                layers.append(.dense(units: units, initializer: initializer))
            case "flatten":
                guard arguments.isEmpty else { throw fail("flatten takes no arguments") }
                layers.append(.flatten)
            default:
                guard arguments.count <= 1 else { throw fail("takes at most one argument") }
                let alpha = try arguments.first.map { word -> Float in
                    guard let value = Float(word) else { throw fail("'\(word)' is not a number") }
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

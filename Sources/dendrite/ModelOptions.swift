import ArgumentParser
import Dendrite

/// The three ways to give a model, shared by `train` and `eval`; all end in a ``ModelSpec``.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A preset (\(ModelSpec.presetNames.joined(separator: ", "))) or a model spec file: "
                               + "JSON, as `train` writes to the run folder's model.json.", valueName: "name|file.json"))
    var model: String?
    @Option(help: ArgumentHelp("The model in text form, like \"dense 256, relu, dense 256, relu, dense 10\" "
        + "(layers: dense UNITS [init=normal|glorot|he], conv FILTERS KxK [stride=S] [padding=valid|same|P] [bias=false], "
        + "maxpool N, avgpool N [stride=S] [padding=…], globalavgpool, dropout RATE, flatten, "
        + "\(Activation.names.joined(separator: ", ")); leaky-relu and elu take an optional alpha; see the README).",
        valueName: "text"))
    var layers: String?
    @Option(parsing: .unconditional,
            help: "The lab's MLP: hidden layer sizes, comma-separated, any depth; '' or 0 for none (softmax regression). Default 256,256.")
    var hidden: String?
    @Option(help: "Hidden activation with --hidden: \(Activation.names.filter { $0 != "identity" }.joined(separator: "|")) (default relu).")
    var activation: String?
    @Option(help: "Weight initializer with --hidden: normal (Keras RandomNormal, stddev 0.05) | glorot | he (default normal).")
    var initializer: String?

    /// Whether any of the model flags was given.
    var isGiven: Bool { model != nil || layers != nil || hidden != nil || activation != nil || initializer != nil }

    func validate() throws {
        let ways = [model != nil, layers != nil, hidden != nil || activation != nil || initializer != nil].filter { $0 }
        guard ways.count <= 1 else {
            throw ValidationError("give the model one way: --model, --layers, or --hidden/--activation/--initializer")
        }
        if let activation {
            guard Activation(name: activation) != nil, activation != "identity" else {
                throw ValidationError("--activation: unknown activation '\(activation)'; valid: relu, leaky-relu, sigmoid, tanh, elu, selu")
            }
        }
        if let initializer, Initializer(name: initializer) == nil {
            throw ValidationError("--initializer: unknown initializer '\(initializer)'; valid: \(Initializer.names.joined(separator: ", "))")
        }
        _ = try hiddenSizes()
        if let layers {
            do { _ = try ModelSpec(layersText: layers) } catch let error as DendriteError {
                throw ValidationError(error.description)
            }
        }
    }

    /// --hidden as sizes: "256,256" → [256, 256]; "" and "0" → none.
    func hiddenSizes() throws -> [Int] {
        guard let hidden else { return [256, 256] }
        let trimmed = hidden.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed == "0" { return [] }
        let parts = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let sizes = parts.compactMap { Int($0) }
        guard sizes.count == parts.count, sizes.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--hidden must be positive sizes separated by commas, like 256,256 ('' or 0: no hidden layer); got '\(hidden)'")
        }
        return sizes
    }

    /// The model the flags describe (the lab's MLP when none is given); `classes` ends an MLP built from --hidden.
    func spec(classes: Int) throws -> ModelSpec {
        if let model {
            return try ModelSpec.preset(model, classes: classes) ?? ModelSpec(contentsOf: model)
        }
        if let layers { return try ModelSpec(layersText: layers) }
        return ModelSpec.multilayerPerceptron(hidden: try hiddenSizes(), activation: Activation(name: activation ?? "relu")!,
                                              initializer: Initializer(name: initializer ?? "normal")!, classes: classes)
    }
}

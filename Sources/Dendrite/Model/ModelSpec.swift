import Foundation

/// A model as data: the list of its layers with their arguments. The command line's `--model FILE.json`,
/// `--layers TEXT` and `--hidden/--activation/--initializer` all end in one, `dendrite train` writes it to
/// the run folder as `model.json`, and every checkpoint carries it, so `dendrite eval` can rebuild the
/// model from the file alone. Parameters are named after the layer indices: `layers.<i>.weight`,
/// `layers.<i>.bias`. The input shape and the class count come from the data.
public struct ModelSpec: Equatable, Sendable {
    public var layers: [LayerSpec]

    public init(layers: [LayerSpec]) { self.layers = layers }

    /// Every layer type, as the JSON `type` and the text form name them.
    public static let layerTypes = ["dense", "conv", "maxpool", "avgpool", "globalavgpool", "flatten", "dropout",
                                      "batchnorm"]
        + Activation.names

    /// The lab's network: a dense layer and `activation` per hidden size, then a dense layer to the
    /// classes. No hidden layer is softmax regression.
    public static func multilayerPerceptron(hidden: [Int], activation: Activation, initializer: Initializer,
                                            classes: Int) -> ModelSpec {
        ModelSpec(layers: hidden.flatMap { [.dense(units: $0, initializer: initializer), .activation(activation)] }
            + [.dense(units: classes, initializer: initializer)])
    }
}

// MARK: - JSON

extension ModelSpec: Codable {
    /// The `format` a model file declares.
    public static let format = "dendrite-model-1"
    private enum Key: String, CodingKey { case format, layers }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let format = try container.decode(String.self, forKey: .format)
        guard format == ModelSpec.format else {
            throw DecodingError.dataCorruptedError(forKey: .format, in: container,
                                                   debugDescription: "format is '\(format)', expected '\(ModelSpec.format)'")
        }
        layers = try container.decode([LayerSpec].self, forKey: .layers)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(ModelSpec.format, forKey: .format)
        try container.encode(layers, forKey: .layers)
    }

    /// The spec as a JSON document (one layer per line, keys sorted).
    public var json: String {
        let layerLines = layers.map { layer in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return "    " + String(decoding: try! encoder.encode(layer), as: UTF8.self)
        }
        return "{\n  \"format\": \"\(ModelSpec.format)\",\n  \"layers\": [\n"
            + layerLines.joined(separator: ",\n") + "\n  ]\n}\n"
    }

    /// Parses a model JSON document; `source` names it in errors.
    public init(json: String, source: String) throws {
        do {
            self = try JSONDecoder().decode(ModelSpec.self, from: Data(json.utf8))
        } catch let error as DecodingError {
            throw DendriteError.invalidArgument("\(source): not a valid model spec: \(ModelSpec.explain(error))")
        } catch {
            throw DendriteError.invalidArgument("\(source): not a valid model spec: \(error)")
        }
    }

    /// Reads a model file (`model.json`).
    public init(contentsOf path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
              let data = FileManager.default.contents(atPath: path) else {
            throw DendriteError.invalidArgument("--model: \(path): no such file, or not readable (presets: "
                + "\(ModelSpec.presetNames.joined(separator: ", ")))")
        }
        guard data.count <= 1 << 24 else { throw DendriteError.invalidArgument("--model: \(path): over 16 MB, not a model file") }
        try self.init(json: String(decoding: data, as: UTF8.self), source: path)
    }

    /// A decoding error in one line: where in the document, and what was wrong.
    private static func explain(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "" : " at \(keys)"
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing '\(key.stringValue)'\(path(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return context.debugDescription + path(context)
        @unknown default: return "\(error)"
        }
    }
}

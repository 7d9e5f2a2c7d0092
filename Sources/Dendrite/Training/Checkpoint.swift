import Foundation

/// A training checkpoint: parameters and optimizer state as safetensors tensors, and in `__metadata__` the
/// run's configuration, the position (epoch, next batch, step) and the shuffling generator's state.
public struct Checkpoint {
    public static let fileExtension = "safetensors"
    public var configuration: TrainingConfiguration
    /// The epoch in progress and the index of the next batch to train in it.
    public var epoch: Int
    public var batch: Int
    public var step: Int
    public var generatorState: (UInt64, UInt64, UInt64, UInt64)
    public var tensors: [String: Tensor]

    /// File name for a position: sorts by step, so the latest is the last.
    public static func fileName(step: Int) -> String { String(format: "checkpoint-%09d.\(fileExtension)", step) }

    public func write(to path: String, order: [String]) throws {
        let metadata = [
            "format": "dendrite-checkpoint-1",
            "configuration": configuration.json,
            "epoch": String(epoch), "batch": String(batch), "step": String(step),
            "generator_state": [generatorState.0, generatorState.1, generatorState.2, generatorState.3]
                .map(String.init).joined(separator: ","),
        ]
        try Safetensors.write(order.map { ($0, tensors[$0]!) }, metadata: metadata, to: path)
    }

    public static func read(path: String) throws -> Checkpoint {
        try decode(Safetensors.read(path: path), path: path)
    }

    /// Parses a checkpoint already in memory (the fuzz target calls this).
    public static func decode(_ bytes: [UInt8], path: String) throws -> Checkpoint {
        try decode(Safetensors.decode(bytes, path: path), path: path)
    }

    private static func decode(_ file: (tensors: [String: Tensor], metadata: [String: String]), path: String) throws
        -> Checkpoint {
        let (tensors, metadata) = file
        func fail(_ problem: String) -> DendriteError { .checkpoint(path: path, problem: problem) }
        guard metadata["format"] == "dendrite-checkpoint-1" else {
            throw fail("not a Dendrite training checkpoint (no format 'dendrite-checkpoint-1' in its metadata)")
        }
        guard let configurationJSON = metadata["configuration"],
              let configuration = try? JSONDecoder().decode(TrainingConfiguration.self, from: Data(configurationJSON.utf8))
        else { throw fail("its configuration metadata is missing or malformed") }
        guard let epoch = metadata["epoch"].flatMap(Int.init), let batch = metadata["batch"].flatMap(Int.init),
              let step = metadata["step"].flatMap(Int.init), epoch >= 0, batch >= 0, step >= 0 else {
            throw fail("its epoch, batch or step metadata is missing or malformed")
        }
        let words = (metadata["generator_state"] ?? "").split(separator: ",").compactMap { UInt64($0) }
        guard words.count == 4, words.contains(where: { $0 != 0 }) else {
            throw fail("its generator_state metadata is missing or malformed")
        }
        // `dendrite eval` builds its model from this configuration: check it against the tensors first, so a
        // damaged file cannot ask for a zero-width layer (a precondition failure) or a huge one (a failed allocation).
        let widths = [configuration.inputs] + configuration.hidden + [configuration.classes]
        for (j, (inputs, outputs)) in zip(widths, widths.dropFirst()).enumerated() {
            let name = "layers.\(1 + 2 * j).weight"
            guard inputs > 0, outputs > 0, tensors[name]?.shape.dims == [inputs, outputs] else {
                throw fail("its configuration (layer sizes \(widths.map(String.init).joined(separator: "-"))) does not "
                    + "match its tensor '\(name)' (\(tensors[name]?.shape.description ?? "missing"))")
            }
        }
        return Checkpoint(configuration: configuration, epoch: epoch, batch: batch, step: step,
                          generatorState: (words[0], words[1], words[2], words[3]), tensors: tensors)
    }

    /// The checkpoint files of a folder, oldest first.
    public static func files(in folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasPrefix("checkpoint-") && $0.hasSuffix(".\(fileExtension)") }.sorted()
            .map { "\(folder)/\($0)" }
    }

    /// Puts saved weights into a model's parameters; missing names or other shapes are an error that names them.
    public static func load(_ tensors: [String: Tensor], into parameters: [Variable], path: String) throws {
        for parameter in parameters {
            guard let tensor = tensors[parameter.name] else {
                throw DendriteError.checkpoint(path: path, problem:
                    "has no tensor '\(parameter.name)' (a model of another architecture? check --hidden)")
            }
            guard tensor.shape == parameter.value.shape else {
                throw DendriteError.checkpoint(path: path, problem:
                    "'\(parameter.name)' has shape \(tensor.shape), this model needs \(parameter.value.shape) (check --hidden)")
            }
        }
        for parameter in parameters { parameter.value = tensors[parameter.name]! }
    }
}

import Foundation

/// A training checkpoint: parameters and optimizer state as safetensors tensors, and in `__metadata__` the
/// run's configuration (the model spec included), the position (epoch, next batch, step) and the
/// shuffling generator's state.
public struct Checkpoint {
    public static let fileExtension = "safetensors"
    public static let format = "dendrite-checkpoint-2"
    public var configuration: TrainingConfiguration
    /// The epoch in progress and the index of the next batch to train in it.
    public var epoch: Int
    public var batch: Int
    public var step: Int
    public var generatorState: (UInt64, UInt64, UInt64, UInt64)
    public var tensors: [String: Tensor]

    /// The largest epoch, batch or step a file may state: no run comes near 2^31 steps, and every sum and
    /// product the trainer forms from these (step + 1, epoch × batches + batch) stays far from overflowing.
    public static let maxPosition = Int(Int32.max)

    /// File name for a position: sorts by step, so the latest is the last.
    public static func fileName(step: Int) -> String { String(format: "checkpoint-%09ld.\(fileExtension)", step) }

    /// The step a name made by `fileName(step:)` states, or nil for any other name (`checkpoint-backup.safetensors`).
    public static func step(fromFileName name: String) -> Int? {
        let prefix = "checkpoint-", suffix = ".\(fileExtension)"
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard digits.count >= 9, digits.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
        return Int(digits)
    }

    public func write(to path: String, order: [String]) throws {
        let metadata = [
            "format": Checkpoint.format,
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

    /// Whether a file's metadata says it is a Dendrite training checkpoint (of any version).
    public static func isCheckpoint(metadata: [String: String]) -> Bool {
        metadata["format"]?.hasPrefix("dendrite-checkpoint-") ?? false
    }

    private static func decode(_ file: (tensors: [String: Tensor], metadata: [String: String]), path: String) throws
        -> Checkpoint {
        let (tensors, metadata) = file
        func fail(_ problem: String) -> DendriteError { .checkpoint(path: path, problem: problem) }
        guard metadata["format"] == format else {
            throw fail(isCheckpoint(metadata: metadata)
                ? "written by another version of Dendrite (format '\(metadata["format"]!)', this one reads '\(format)')"
                : "not a Dendrite training checkpoint (no format '\(format)' in its metadata); "
                    + "a weights-only file can be used with eval or train --weights when the model is given")
        }
        guard let configurationJSON = metadata["configuration"],
              let configuration = try? JSONDecoder().decode(TrainingConfiguration.self, from: Data(configurationJSON.utf8))
        else { throw fail("its configuration metadata is missing or malformed") }
        guard let epoch = metadata["epoch"].flatMap(Int.init), let batch = metadata["batch"].flatMap(Int.init),
              let step = metadata["step"].flatMap(Int.init) else {
            throw fail("its epoch, batch or step metadata is missing or malformed")
        }
        for (name, value) in [("epoch", epoch), ("batch", batch), ("step", step)] where !(0...maxPosition).contains(value) {
            throw fail("its \(name) \(value) is outside 0...\(maxPosition)")
        }
        let words = (metadata["generator_state"] ?? "").split(separator: ",").compactMap { UInt64($0) }
        guard words.count == 4, words.contains(where: { $0 != 0 }) else {
            throw fail("its generator_state metadata is missing or malformed")
        }
        // `dendrite eval` builds its model from this configuration: check it against the tensors first, so a
        // damaged file cannot ask for a zero-width layer (a precondition failure) or a huge one (a failed allocation).
        try checkShapes(tensors, model: configuration.model, inputShape: configuration.inputShape,
                        classes: configuration.classes, path: path, cause: "the file is inconsistent")
        return Checkpoint(configuration: configuration, epoch: epoch, batch: batch, step: step,
                          generatorState: (words[0], words[1], words[2], words[3]), tensors: tensors)
    }

    /// The checkpoint files of a folder, oldest first by the step in their names; only names that
    /// `fileName(step:)` makes count, so a hand-copied `checkpoint-backup.safetensors` is never resumed from
    /// nor deleted as an old checkpoint.
    public static func files(in folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.compactMap { name in step(fromFileName: name).map { (step: $0, name: name) } }
            .sorted { $0.step < $1.step }.map { "\(folder)/\($0.name)" }
    }

    /// Checks that `tensors` hold every parameter and buffer of the model with its shape, and nothing else but
    /// optimizer state; an error names the tensor, both shapes and `cause`.
    static func checkShapes(_ tensors: [String: Tensor], model: ModelSpec, inputShape: [Int], classes: Int,
                            path: String, cause: String) throws {
        let expected: [(name: String, shape: [Int])]
        do {
            expected = try model.parameterShapes(inputShape: inputShape, classes: classes)
                + model.bufferShapes(inputShape: inputShape, classes: classes)
        } catch {
            throw DendriteError.checkpoint(path: path, problem: "its model does not fit its data shape: \(error)")
        }
        for (name, shape) in expected {
            guard let tensor = tensors[name] else {
                let names = tensors.keys.filter { !isOptimizerState($0) }.sorted().prefix(4).joined(separator: ", ")
                throw DendriteError.checkpoint(path: path, problem: "has no tensor '\(name)' (it has \(names)); "
                    + "tensor names follow the model's layer indices, layers.<i>.weight and layers.<i>.bias (\(cause))")
            }
            guard tensor.shape.dims == shape else {
                throw DendriteError.checkpoint(path: path, problem: "tensor '\(name)' has shape \(tensor.shape), "
                    + "the model needs \(Shape(shape)) (\(cause))")
            }
        }
        let known = Set(expected.map(\.name))
        // Optimizer state must belong to a parameter too: `adam.m.<anything>` would let a file bring any number
        // of tensors the run never reads.
        if let stray = tensors.keys.sorted().first(where: { !known.contains($0) && !known.contains(parameter(ofState: $0) ?? "") }) {
            throw DendriteError.checkpoint(path: path, problem: "has a tensor '\(stray)' the model does not have (\(cause))")
        }
    }

    private static func isOptimizerState(_ name: String) -> Bool { parameter(ofState: name) != nil }

    /// The parameter an optimizer's state tensor belongs to ("adam.m.layers.0.weight" → "layers.0.weight"), or nil.
    private static func parameter(ofState name: String) -> String? {
        for prefix in ["adam.m.", "adam.v.", "sgd.velocity."] where name.hasPrefix(prefix) { return String(name.dropFirst(prefix.count)) }
        return nil
    }

    /// Copies saved weights into a model's parameters (their arena windows stay in place), after checking
    /// every name and shape; `cause` says what a mismatch most likely means.
    public static func load(_ tensors: [String: Tensor], into model: Sequential, spec: ModelSpec, inputShape: [Int],
                            classes: Int, path: String, cause: String) throws {
        try checkShapes(tensors, model: spec, inputShape: inputShape, classes: classes, path: path, cause: cause)
        for variable in model.parameters + model.buffers { variable.value.assign(tensors[variable.name]!) }
    }
}

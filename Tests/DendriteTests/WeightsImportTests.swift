import Foundation
import Testing
@testable import Dendrite

/// Weights made elsewhere: a safetensors file holding only the model's tensors, as NumPy's
/// `safetensors.numpy.save_file` writes it (the README's layout), evaluates to the accuracy a plain
/// reference computes from the same weights.
@Suite struct WeightsImportTests {
    static let spec = ModelSpec.multilayerPerceptron(hidden: [5], activation: .relu, initializer: .randomNormal(), classes: 4)

    /// The bytes of a safetensors file with F32 tensors in the given order and no `__metadata__`.
    static func weightsOnlyFile(_ tensors: [(name: String, shape: [Int], values: [Float])]) -> [UInt8] {
        var entries: [String] = [], data: [UInt8] = []
        for (name, shape, values) in tensors {
            let begin = data.count
            for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { data += $0 } }
            entries.append("\"\(name)\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[\(begin),\(data.count)]}")
        }
        let header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        return withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header + data
    }

    /// Random weights for `spec` on 6×6 images, by name.
    static func randomWeights(seed: UInt64) -> [(name: String, shape: [Int], values: [Float])] {
        var generator = SeededGenerator(seed: seed)
        return try! spec.parameterShapes(inputShape: [6, 6, 1], classes: 4).map { name, shape in
            (name, shape, (0..<shape.reduce(1, *)).map { _ in Float(generator.nextNormal()) * 0.3 })
        }
    }

    /// The fraction of test images whose largest logit is at the label, computed in Double from scratch.
    static func referenceAccuracy(_ weights: [(name: String, shape: [Int], values: [Float])], _ data: Dataset) -> Double {
        let w = Dictionary(uniqueKeysWithValues: weights.map { ($0.name, $0.values.map(Double.init)) })
        var correct = 0
        for i in 0..<data.count {
            var x = (0..<36).map { Double(data.images.pixels[i * 36 + $0]) / 255 }
            for (layer, outputs, relu) in [(0, 5, true), (2, 4, false)] {
                let (weight, bias) = (w["layers.\(layer).weight"]!, w["layers.\(layer).bias"]!)
                x = (0..<outputs).map { o in
                    let z = bias[o] + x.indices.reduce(0) { $0 + x[$1] * weight[$1 * outputs + o] }
                    return relu ? max(z, 0) : z
                }
            }
            if x.indices.max(by: { x[$0] < x[$1] }) == Int(data.labels[i]) { correct += 1 }
        }
        return Double(correct) / Double(data.count)
    }

    @Test func weightsOnlyFileEvaluatesToTheReferenceAccuracy() throws {
        let folder = writeSyntheticFolder()
        let data = try DataFolder(path: folder)
        let weights = WeightsImportTests.randomWeights(seed: 11)
        let path = temporaryFolder() + "/weights.safetensors"
        // Written in reverse order: another writer's order must not matter.
        try Data(WeightsImportTests.weightsOnlyFile(weights.reversed())).write(to: URL(fileURLWithPath: path))
        let expected = WeightsImportTests.referenceAccuracy(weights, data.test)

        let model = try WeightsImportTests.spec.build(inputShape: [6, 6, 1], classes: 4, seed: 0)
        let (tensors, _) = try Safetensors.read(path: path)
        try Checkpoint.load(tensors, into: model, spec: WeightsImportTests.spec, inputShape: [6, 6, 1], classes: 4,
                            path: path, cause: "test")
        let accuracy = Evaluator(model: model, dataset: data.test, backend: Backends.c).evaluate().accuracy
        #expect(accuracy == expected, "Dendrite \(accuracy), reference \(expected)")
        #expect(expected > 0.1 && expected < 0.9, "a reference accuracy of \(expected) would not tell models apart")
    }

    @Test func mismatchNamesTensorShapesAndCause() throws {
        var weights = WeightsImportTests.randomWeights(seed: 12)
        weights[2] = ("layers.2.weight", [5, 3], [Float](repeating: 0, count: 15))
        let model = try WeightsImportTests.spec.build(inputShape: [6, 6, 1], classes: 4, seed: 0)
        let file = try Safetensors.decode(WeightsImportTests.weightsOnlyFile(weights), path: "w")
        #expect(throws: DendriteError.checkpoint(path: "w", problem:
            "tensor 'layers.2.weight' has shape [5, 3], the model needs [5, 4] (check --layers)")) {
            try Checkpoint.load(file.tensors, into: model, spec: WeightsImportTests.spec, inputShape: [6, 6, 1],
                                classes: 4, path: "w", cause: "check --layers")
        }
        let extra = try Safetensors.decode(WeightsImportTests.weightsOnlyFile(WeightsImportTests.randomWeights(seed: 1)
            + [("layers.9.weight", [1], [0])]), path: "w")
        #expect(throws: DendriteError.checkpoint(path: "w", problem:
            "has a tensor 'layers.9.weight' the model does not have (check --layers)")) {
            try Checkpoint.load(extra.tensors, into: model, spec: WeightsImportTests.spec, inputShape: [6, 6, 1],
                                classes: 4, path: "w", cause: "check --layers")
        }
    }
}

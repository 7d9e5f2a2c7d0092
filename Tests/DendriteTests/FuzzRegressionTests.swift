import Foundation
import Testing
@testable import Dendrite

/// Inputs that once crashed a reader (found by fuzzing or review); each must now be a thrown error.
@Suite struct FuzzRegressionTests {
    func safetensors(header: String, data: [UInt8] = []) -> [UInt8] {
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Array($0) } + Array(header.utf8) + data
    }

    /// Zero elements, so the offsets check passed, but Shape.count overflowed: "arithmetic overflow" trap.
    @Test func zeroElementShapeWithHugeDimensions() {
        let bytes = safetensors(header: #"{"t":{"dtype":"F32","shape":[2147483647,2147483647,2147483647,0],"data_offsets":[0,0]}}"#)
        #expect(throws: DendriteError.checkpoint(path: "f", problem:
            "tensor 't' has a shape [2147483647, 2147483647, 2147483647, 0] too large to address")) {
            try Safetensors.decode(bytes, path: "f")
        }
    }

    /// A checkpoint whose configuration disagrees with its tensors: `eval` would have built a zero-width layer
    /// (precondition failure) or tried to allocate a huge one.
    @Test(arguments: [0, 4_000_000_000_000, 3]) func configurationMustMatchTensors(hidden: Int) {
        var configuration = TrainingConfiguration()
        configuration.model = mlp([hidden], classes: 2)
        (configuration.inputShape, configuration.classes) = ([1, 2, 1], 2)
        let metadata = ["format": Checkpoint.format, "configuration": configuration.json, "epoch": "0", "batch": "0",
                        "step": "0", "generator_state": "1,2,3,4"]
        let tensors = [("layers.0.weight", Tensor(zeros: Shape(2, 2))), ("layers.0.bias", Tensor(zeros: Shape([2]))),
                       ("layers.2.weight", Tensor(zeros: Shape(2, 2))), ("layers.2.bias", Tensor(zeros: Shape([2])))]
        do {
            _ = try Checkpoint.decode(Safetensors.encode(tensors, metadata: metadata), path: "f")
            Issue.record("expected an error")
        } catch {
            let message = "\(error)"
            #expect(message.contains(hidden == 3 ? "tensor 'layers.0.weight' has shape [2, 2], the model needs [2, 3]"
                                                 : "model layer 0 (dense \(hidden)): units must be between"), "\(message)")
        }
    }

    /// Issue 16, item 2: positions are range-checked on read. Step 2^63−1 trapped in the optimizer's step + 1
    /// on --resume, and 2^32+469 printed as 469.
    @Test(arguments: ["9223372036854775807", "4294967765", "-1"]) func positionsOutsideTheRangeAreRefused(step: String) {
        var configuration = TrainingConfiguration()
        configuration.model = mlp([2], classes: 2)
        (configuration.inputShape, configuration.classes) = ([1, 2, 1], 2)
        let metadata = ["format": Checkpoint.format, "configuration": configuration.json, "epoch": "0", "batch": "0",
                        "step": step, "generator_state": "1,2,3,4"]
        #expect(throws: DendriteError.checkpoint(path: "f", problem: "its step \(step) is outside 0...2147483647")) {
            try Checkpoint.decode(Safetensors.encode([("layers.0.weight", Tensor(zeros: Shape(2, 2)))], metadata: metadata), path: "f")
        }
    }

    /// Issue 16, item 5: a checkpoint holds the model's tensors and their optimizer state, nothing more.
    @Test(arguments: ["adam.m.layers.9.weight", "sgd.velocity", "extra"]) func tensorsTheModelDoesNotHaveAreRefused(name: String) {
        var configuration = TrainingConfiguration()
        configuration.model = mlp([], classes: 2)
        (configuration.inputShape, configuration.classes) = ([1, 2, 1], 2)
        let metadata = ["format": Checkpoint.format, "configuration": configuration.json, "epoch": "0", "batch": "0",
                        "step": "0", "generator_state": "1,2,3,4"]
        let tensors = [("layers.0.weight", Tensor(zeros: Shape(2, 2))), ("layers.0.bias", Tensor(zeros: Shape([2]))),
                       ("adam.m.layers.0.weight", Tensor(zeros: Shape(2, 2))), (name, Tensor(zeros: Shape([0])))]
        do {
            _ = try Checkpoint.decode(Safetensors.encode(tensors, metadata: metadata), path: "f")
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("has a tensor '\(name)' the model does not have"), "\(error)")
        }
    }
}

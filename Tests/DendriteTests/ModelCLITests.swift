import Foundation
import Testing
@testable import Dendrite

/// The model flags of `train` and `eval`, run as a user runs them.
extension CLITests {
    /// The test loss and accuracy a command printed last ("test_loss: …, test_accuracy: …").
    func figures(_ output: String) throws -> Substring {
        try #require(output.split(separator: "\n").last { $0.hasPrefix("test_loss: ") }?.split(separator: " (").first)
    }

    /// Three ways to give the same model train the same bits; `eval` then needs no model flags.
    @Test func modelFlagsAgreeAndEvalNeedsNone() throws {
        let common = ["train", "--data", CLITests.data, "--batch-size", "16", "--log-every", "0"]
        let byHidden = temporaryFolder(), byLayers = temporaryFolder(), byFile = temporaryFolder()
        let hidden = try dendrite(common + ["--hidden", "8", "--checkpoint-dir", byHidden])
        let layers = try dendrite(common + ["--layers", "dense 8, relu, dense 4", "--checkpoint-dir", byLayers])
        let file = try dendrite(common + ["--model", "\(byHidden)/model.json", "--checkpoint-dir", byFile])
        #expect(hidden.status == 0 && layers.status == 0 && file.status == 0, "\(hidden.output)\(layers.output)\(file.output)")
        #expect(try figures(hidden.output) == figures(layers.output))
        #expect(try figures(hidden.output) == figures(file.output))
        #expect(hidden.output.contains("layers.0 (dense 8)") && hidden.output.contains("Total params: 332"), "\(hidden.output)")
        let checkpoint = try #require(Checkpoint.files(in: byLayers).last)
        let evaluated = try dendrite(["eval", "--checkpoint", checkpoint, "--data", CLITests.data])
        let trained = try figures(layers.output)
        #expect(evaluated.status == 0 && evaluated.output.hasPrefix(trained + " ("), "\(evaluated.output)")
        try expectError(["eval", "--checkpoint", checkpoint, "--data", CLITests.data, "--hidden", "9"],
                        mentioning: "describes its own model")
    }

    /// --epochs 0 evaluates the starting weights: the same figures as eval on a weights file holding them.
    @Test func zeroEpochsEvaluatesTheStartingWeights() throws {
        let folder = temporaryFolder()
        let (status, output) = try dendrite(["train", "--data", CLITests.data, "--epochs", "0", "--hidden", "0",
                                             "--checkpoint-dir", folder])
        #expect(status == 0 && output.contains("test_loss: "), "\(output)")
        #expect(output.contains("layers.0 (dense 4)"), "softmax regression expected: \(output)")
    }

    @Test func weightsOnlyFileNeedsTheModel() throws {
        let path = temporaryFolder() + "/weights.safetensors"
        try Data(WeightsImportTests.weightsOnlyFile(WeightsImportTests.randomWeights(seed: 3)))
            .write(to: URL(fileURLWithPath: path))
        try expectError(["eval", "--checkpoint", path, "--data", CLITests.data], mentioning: "holds weights only")
        let (status, output) = try dendrite(["eval", "--checkpoint", path, "--data", CLITests.data, "--layers", "dense 5, relu, dense 4"])
        #expect(status == 0 && output.contains("test_accuracy: "), "\(output)")
        try expectError(["eval", "--checkpoint", path, "--data", CLITests.data, "--hidden", "6"],
                        mentioning: "'layers.0.weight' has shape [36, 5], the model needs [36, 6]")
        // The same weights start a training run.
        let run = try dendrite(["train", "--data", CLITests.data, "--hidden", "5", "--weights", path, "--epochs", "0",
                                "--checkpoint-dir", temporaryFolder()])
        #expect(try figures(run.output) == figures(output), "\(run.output)")
    }
}

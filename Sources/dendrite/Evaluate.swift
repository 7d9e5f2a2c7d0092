import ArgumentParser
import Dendrite

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Print test loss and accuracy of a checkpoint.", aliases: ["evaluate"])

    @Option(help: "A checkpoint written by `dendrite train`.")
    var checkpoint: String
    @Option(help: "Folder with the four MNIST-format files (plain or .gz).")
    var data = DataFolder.defaultPath
    @OptionGroup var backendOptions: BackendOptions

    func run() throws {
        let backend = try backendOptions.makeBackend()
        let saved = try Checkpoint.read(path: checkpoint)
        let folder = try DataFolder(path: data, classes: saved.configuration.classes)
        let configuration = saved.configuration
        guard folder.test.featureCount == configuration.inputs else {
            throw ValidationError("\(checkpoint) was trained on \(configuration.inputs) features; \(data) has \(folder.test.featureCount)")
        }
        let model = try configuration.makeModel()
        try Checkpoint.load(saved.tensors, into: model.parameters, path: checkpoint)
        let (loss, accuracy) = Evaluator(model: model, dataset: folder.test, backend: backend).evaluate()
        print(String(format: "test_loss: %.8f, test_accuracy: %.4f (%d images, step %d, backend %@)",
                     loss, accuracy, folder.test.count, saved.step, backend.name))
    }
}

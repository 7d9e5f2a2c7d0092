import ArgumentParser
import Dendrite

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Print test loss and accuracy of a checkpoint or a weights file.",
        discussion: """
            A checkpoint written by `dendrite train` describes its model: no model flags are needed. A safetensors \
            file holding only the model's tensors (layers.<i>.weight as (inputs, outputs), layers.<i>.bias), as NumPy \
            or PyTorch write it, needs the model given with --model, --layers or --hidden.
            """,
        aliases: ["evaluate"])

    @Option(help: "A checkpoint written by `dendrite train`, or a weights-only safetensors file.")
    var checkpoint: String
    @Option(help: "Folder with the four MNIST-format files or the six CIFAR-10 batch files (plain or .gz; see the README).")
    var data = DataFolder.defaultPath
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var backendOptions: BackendOptions

    func run() throws {
        let backend = try backendOptions.makeBackend()
        let (tensors, metadata) = try Safetensors.read(path: checkpoint)
        let saved = Checkpoint.isCheckpoint(metadata: metadata) ? try Checkpoint.read(path: checkpoint) : nil
        // A checkpoint's class count is the run's; the data's labels must fall within it.
        let folder = try DataFolder(path: data, classes: saved?.configuration.classes)
        let spec: ModelSpec
        let classes = folder.test.classCount
        if let saved {
            let configuration = saved.configuration
            guard folder.test.exampleShape == configuration.inputShape else {
                throw ValidationError("\(checkpoint) was trained on examples of shape \(configuration.inputShape); "
                    + "\(data) has \(folder.test.exampleShape)")
            }
            spec = configuration.model
            if modelOptions.isGiven, try modelOptions.spec(classes: classes) != spec {
                throw ValidationError("\(checkpoint) describes its own model ('\(spec.layersText)'), which the model flags "
                    + "contradict; leave them out")
            }
        } else {
            guard modelOptions.isGiven else {
                throw ValidationError("\(checkpoint) holds weights only (no Dendrite checkpoint metadata): give the model "
                    + "with --model, --layers or --hidden")
            }
            spec = try modelOptions.spec(classes: classes)
        }
        let model = try spec.build(inputShape: folder.test.exampleShape, classes: classes, seed: 0)
        try Checkpoint.load(tensors, into: model, spec: spec, inputShape: folder.test.exampleShape, classes: classes,
                            path: checkpoint, cause: saved == nil
                                ? "were these weights made for another model? check --model, --layers or --hidden"
                                : "the file is inconsistent")
        let (loss, accuracy) = Evaluator(model: model, dataset: folder.test, backend: backend).evaluate()
        let step = saved.map { ", step \($0.step)" } ?? ""
        print(String(format: "test_loss: %.8f, test_accuracy: %.4f (%d images%@, backend %@)",
                     loss, accuracy, folder.test.count, step, backend.name))
    }
}

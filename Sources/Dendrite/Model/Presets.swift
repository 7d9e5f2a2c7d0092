/// Named models, for `--model NAME`: the convolutional networks of the lab's next lessons. Each is
/// written out as a spec file in the README; the last layer has one unit per class.
extension ModelSpec {
    /// Every preset name, in the order help text lists them.
    public static let presetNames = ["lenet5", "cnn", "cnn-bn"]

    /// The preset of that name for `classes` classes, or nil.
    public static func preset(_ name: String, classes: Int) -> ModelSpec? {
        let text: String
        switch name {
        case "lenet5":
            text = "conv 6 5x5 padding=same, relu, maxpool 2, conv 16 5x5, relu, maxpool 2, flatten, "
                + "dense 120 init=glorot, relu, dense 84 init=glorot, relu, dense \(classes) init=glorot"
        case "cnn":  // the classic Keras MNIST CNN
            text = "conv 32 3x3, relu, conv 64 3x3, relu, maxpool 2, dropout 0.25, flatten, "
                + "dense 128 init=glorot, relu, dropout 0.5, dense \(classes) init=glorot"
        case "cnn-bn":
            // `cnn` with batch norm after each convolution and the first dense layer, before the ReLU. Momentum 0.9
            // (PyTorch's default, its 0.1) rather than Keras's 0.99: after one epoch the slower moving averages
            // still lag the batch statistics, and evaluation suffers (see BENCHMARKS.md).
            text = "conv 32 3x3, batchnorm momentum=0.9, relu, conv 64 3x3, batchnorm momentum=0.9, relu, maxpool 2, "
                + "dropout 0.25, flatten, dense 128 init=glorot, batchnorm momentum=0.9, relu, dropout 0.5, "
                + "dense \(classes) init=glorot"
        default:
            return nil
        }
        return try! ModelSpec(layersText: text)
    }
}

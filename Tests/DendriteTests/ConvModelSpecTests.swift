import Foundation
import Testing
@testable import Dendrite

/// The convolutional layers in the model spec: text and JSON forms, validation, shapes, presets.
@Suite struct ConvModelSpecTests {
    @Test func convolutionalLayersRoundTrip() throws {
        let text = "conv 8 3x3, relu, conv 4 5x3 stride=2 padding=same bias=false init=he, maxpool 2, "
            + "avgpool 3 stride=2 padding=1, conv 3 1x1 padding=1x2, batchnorm, globalavgpool, dropout 0.25, dense 10, "
            + "batchnorm momentum=0.9 epsilon=1e-05"
        let spec = try ModelSpec(layersText: text)
        #expect(spec.layersText == text)
        #expect(try ModelSpec(json: spec.json, source: "x") == spec)
        #expect(spec.layers[2] == .conv(filters: 4, kernel: Size2D(5, 3), stride: Size2D(2), padding: .same, bias: false,
                                        initializer: .heNormal))
        #expect(spec.layers[4] == .pool(.average, size: Size2D(3), stride: Size2D(2), padding: .explicit(rows: 1, cols: 1)))
        // Defaults as Keras: stride 1, valid padding, a bias, Glorot uniform; a pool's stride is its size.
        #expect(try ModelSpec(json: #"{"format":"dendrite-model-1","layers":[{"type":"conv","filters":2,"kernel":[3,3]},"#
            + #"{"type":"maxpool","size":[2,2]}]}"#, source: "m.json").layersText == "conv 2 3x3, maxpool 2")
    }

    /// Output shapes and parameter counts as Keras's summary gives them for the Keras MNIST CNN:
    /// 320, 18,496, 1,179,776 and 1,290 parameters.
    @Test func cnnPresetSummary() throws {
        let spec = try #require(ModelSpec.preset("cnn", classes: 10))
        let summary = try ModelSummary(spec: spec, inputShape: [28, 28, 1], classes: 10)
        #expect(summary.layers.map(\.outputShape) == [[26, 26, 32], [26, 26, 32], [24, 24, 64], [24, 24, 64], [12, 12, 64],
                                                       [12, 12, 64], [9216], [128], [128], [128], [10]])
        #expect(summary.layers.map(\.parameterCount) == [320, 0, 18_496, 0, 0, 0, 0, 1_179_776, 0, 0, 1290])
        let shapes = try spec.parameterShapes(inputShape: [28, 28, 1], classes: 10)
        #expect(shapes[0].name == "layers.0.weight" && shapes[0].shape == [3, 3, 1, 32])
        let model = try spec.build(inputShape: [28, 28, 1], classes: 10, seed: 0)
        #expect(model.parameters.map(\.name) == shapes.map(\.name))
        #expect(model.parameters.map(\.value.shape.dims) == shapes.map(\.shape))
    }

    /// LeNet-5 as the issue lists it: 6@5x5 same, pool, 16@5x5 valid, pool, 120, 84, 10 (61,706 parameters).
    @Test func lenet5Preset() throws {
        let spec = try #require(ModelSpec.preset("lenet5", classes: 10))
        let summary = try ModelSummary(spec: spec, inputShape: [28, 28, 1], classes: 10)
        #expect(summary.layers[5].outputShape == [5, 5, 16])
        #expect(summary.parameterCount == 61_706)
        #expect(ModelSpec.preset("resnet", classes: 10) == nil)
    }

    /// A conv layer without a bias has only its weight; a checkpoint names it `layers.<i>.weight`.
    @Test func convWithoutBiasHasOnlyAWeight() throws {
        let spec = try ModelSpec(layersText: "conv 3 3x3 bias=false, globalavgpool, dense 4")
        let shapes = try spec.parameterShapes(inputShape: [6, 6, 2], classes: 4)
        #expect(shapes.map(\.name) == ["layers.0.weight", "layers.2.weight", "layers.2.bias"])
        #expect(shapes[0].shape == [3, 3, 2, 3])
        let model = try spec.build(inputShape: [6, 6, 2], classes: 4, seed: 1)
        #expect(model.parameters.map(\.name) == shapes.map(\.name))
    }

    /// cnn-bn: γ and β are parameters, the moving statistics buffers; a checkpoint holds both.
    @Test func cnnBatchNormPreset() throws {
        let spec = try #require(ModelSpec.preset("cnn-bn", classes: 10))
        let model = try spec.build(inputShape: [28, 28, 1], classes: 10, seed: 0)
        #expect(try spec.parameterShapes(inputShape: [28, 28, 1], classes: 10).map(\.name) == model.parameters.map(\.name))
        let buffers = try spec.bufferShapes(inputShape: [28, 28, 1], classes: 10)
        #expect(buffers.map(\.name) == model.buffers.map(\.name))
        #expect(buffers.map(\.name) == ["layers.1.moving_mean", "layers.1.moving_variance", "layers.4.moving_mean",
                                        "layers.4.moving_variance", "layers.10.moving_mean", "layers.10.moving_variance"])
        #expect(buffers.map(\.shape) == [[32], [32], [64], [64], [128], [128]])
        #expect(model.parameters.map(\.name).contains("layers.10.gamma"))
    }
}

import Foundation
import Testing
@testable import Dendrite

/// The model spec: its three forms (text, JSON, the MLP flags) agree, and bad specs are errors naming
/// the layer and the rule.
@Suite struct ModelSpecTests {
    static let lab = ModelSpec.multilayerPerceptron(hidden: [256, 256], activation: .relu, initializer: .randomNormal(),
                                                    classes: 10)

    @Test func threeFormsGiveOneSpec() throws {
        let text = try ModelSpec(layersText: "dense 256, relu, dense 256, relu, dense 10")
        let json = try ModelSpec(json: ModelSpecTests.lab.json, source: "model.json")
        #expect(text == ModelSpecTests.lab)
        #expect(json == ModelSpecTests.lab)
        #expect(ModelSpecTests.lab.layersText == "dense 256, relu, dense 256, relu, dense 10")
    }

    @Test func everyLayerRoundTrips() throws {
        let text = "flatten, dense 7 init=he, leaky-relu 0.2, dense 5 init=glorot, elu 0.5, tanh, dense 3, sigmoid, selu, "
            + "leaky-relu, elu, identity"
        let spec = try ModelSpec(layersText: text)
        #expect(spec.layersText == text)
        #expect(try ModelSpec(json: spec.json, source: "x") == spec)
        #expect(spec.layers[2] == .activation(.leakyReLU(alpha: 0.2)))
        #expect(spec.layers[1] == .dense(units: 7, initializer: .heNormal))
    }

    @Test func noHiddenLayerIsSoftmaxRegression() {
        let spec = ModelSpec.multilayerPerceptron(hidden: [], activation: .relu, initializer: .randomNormal(), classes: 10)
        #expect(spec.layers == [.dense(units: 10)])
    }

    static let badTexts: [(String, String)] = [
        ("dense 256, , dense 10", "layer 1 (''): is empty"),
        ("dense x", "layer 0 ('dense x'): needs a number of units"),
        ("dense 10 init=zeros", "unknown initializer 'zeros'; valid: normal, glorot, he"),
        ("dense 10 bias=false", "unknown option 'bias=false'; dense takes init=…"),
        ("conv 3, dense 10", "layer 0 ('conv 3'): needs a kernel size after the filters"),
        ("conv2d 3, dense 10", "layer 0 ('conv2d 3'): unknown layer 'conv2d'"),
        ("relu 2, dense 10", "layer 0 ('relu 2'): relu takes no argument"),
        ("leaky-relu x, dense 10", "'x' is not a finite number"),
        // Found by the model-spec fuzzer: a rate of 1e82 parsed as Float.infinity, which JSON cannot encode.
        ("dropout 1e82, dense 10", "dropout 1e82"),
        ("elu inf, dense 10", "'inf' is not a finite number"),
        ("flatten 2", "flatten takes no arguments"),
        ("conv 8 3y3, dense 10", "layer 0 ('conv 8 3y3'): needs a kernel size after the filters, like 3 or 3x3"),
        ("conv 8 3x3 stride=0x, dense 10", "needs a stride"),
        ("conv 8 3x3 padding=full, dense 10", "padding must be valid, same, or rows of zeros"),
        ("conv 8 3x3 bias=no, dense 10", "bias must be true or false"),
        ("conv 8 3x3 dilation=2, dense 10", "unknown option 'dilation=2'; conv takes stride=…, padding=…, bias=…, init=…"),
        ("maxpool, dense 10", "layer 0 ('maxpool'): needs a pool size"),
        ("dropout, dense 10", "needs a rate, like 'dropout 0.25'"),
        ("globalavgpool 2", "globalavgpool takes no arguments"),
        ("batchnorm momentum=x", "momentum must be a number, got 'x'"),
    ]

    @Test(arguments: badTexts) func badTextNamesTheLayer(text: String, message: String) {
        do {
            _ = try ModelSpec(layersText: text)
            Issue.record("'\(text)' parsed")
        } catch {
            #expect("\(error)".hasPrefix("--layers: ") && "\(error)".contains(message), "\(error)")
        }
    }

    static let badSpecs: [(String, String)] = [
        ("dense 256, relu, dense 12", "model layer 2 (dense 12): the model outputs 12 values per example but the data has 10 classes"),
        ("dense 0, dense 10", "model layer 0 (dense 0): units must be between 1 and"),
        ("dense 10, leaky-relu -1", "model layer 1 (leaky-relu -1.0): the slope must be a positive number"),
        ("relu, flatten", "model layer 1 (flatten): the model outputs 784 values per example"),
        ("dense 10, conv 3 3x3, dense 10", "model layer 1 (conv 3 3x3): needs an input of (height, width, channels), got [10]"),
        ("conv 0 3x3, dense 10", "model layer 0 (conv 0 3x3): filters must be between 1 and"),
        ("conv 4 29x3, dense 10", "model layer 0 (conv 4 29x3): a 29x3 window does not fit the 28x28 input"),
        ("conv 4 0x3, dense 10", "the window must be at least 1x1, got 0x3"),
        ("conv 4 3x3 stride=0, dense 10", "the stride must be at least 1"),
        ("maxpool 2 padding=2, dense 10", "model layer 0 (maxpool 2 padding=2): padding must be smaller than the pool size"),
        ("flatten, globalavgpool, dense 10", "model layer 1 (globalavgpool): needs an input of (height, width, channels)"),
        ("conv 4 3x3, dropout 1.0, dense 10", "model layer 1 (dropout 1.0): the rate must be at least 0 and below 1"),
        ("dense 10, batchnorm momentum=1.0", "model layer 1 (batchnorm momentum=1.0): the momentum must be at least 0 and below 1"),
    ]

    @Test(arguments: badSpecs) func validationNamesTheLayerAndRule(text: String, message: String) throws {
        let spec = try ModelSpec(layersText: text)
        do {
            _ = try spec.resolve(inputShape: [28, 28, 1], classes: 10)
            Issue.record("'\(text)' validated")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    static let badJSON: [(String, String)] = [
        (#"{"format":"dendrite-model-1","layers":[{"type":"dense"}]}"#, "missing 'units' at .layers[0]"),
        (#"{"format":"dendrite-model-1","layers":[{"type":"pool"}]}"#, "unknown layer type 'pool'"),
        (#"{"format":"other","layers":[]}"#, "format is 'other'"),
        (#"{"layers":[]"#, "not a valid model spec"),
        (#"{"format":"dendrite-model-1","layers":[{"type":"dense","units":3,"initializer":"zeros"}]}"#,
         "unknown initializer 'zeros'"),
    ]

    @Test(arguments: badJSON) func badJSONSaysWhere(json: String, message: String) {
        do {
            _ = try ModelSpec(json: json, source: "m.json")
            Issue.record("parsed \(json)")
        } catch {
            #expect("\(error)".hasPrefix("m.json: not a valid model spec") && "\(error)".contains(message), "\(error)")
        }
    }

    /// Keras's summary of the same model reports these counts: (784 + 1)·256, (256 + 1)·256, (256 + 1)·10.
    @Test func summaryCountsParameters() throws {
        let summary = try ModelSummary(spec: ModelSpecTests.lab, inputShape: [28, 28, 1], classes: 10)
        #expect(summary.layers.map(\.parameterCount) == [200_960, 0, 65_792, 0, 2570])
        #expect(summary.parameterCount == 269_322)
        let text = summary.render()
        #expect(text.contains("layers.0 (dense 256)") && text.contains("(None, 28, 28, 1)")
                && text.contains("Total params: 269,322"), "\(text)")
    }

    /// Parameter names follow the spec's layer indices, and the built model has exactly those shapes.
    @Test func parameterNamesFollowLayerIndices() throws {
        let model = try ModelSpecTests.lab.build(inputShape: [28, 28, 1], classes: 10, seed: 0)
        let shapes = try ModelSpecTests.lab.parameterShapes(inputShape: [28, 28, 1], classes: 10)
        #expect(model.parameters.map(\.name) == shapes.map(\.name))
        #expect(model.parameters.map(\.value.shape.dims) == shapes.map(\.shape))
        #expect(shapes.map(\.name) == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
                                       "layers.4.weight", "layers.4.bias"])
    }
}

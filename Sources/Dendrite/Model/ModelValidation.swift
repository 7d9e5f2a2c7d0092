/// Checking a spec against the data it will see, in one place: each rule's message names the layer
/// (index and text form) and the rule.
extension ModelSpec {
    /// The widest layer accepted: far beyond any use, short of sizes whose products overflow.
    public static let maxUnits = 1 << 24

    /// One validated layer: what it outputs and how many parameters it has.
    public struct ResolvedLayer: Sendable {
        public let spec: LayerSpec
        /// Per example (the batch dimension left out).
        public let outputShape: [Int]
        public let parameterCount: Int
    }

    /// Checks every layer against the shape of one input example and the class count, and returns the
    /// layers with their output shapes.
    public func resolve(inputShape: [Int], classes: Int) throws -> [ResolvedLayer] {
        guard !layers.isEmpty else {
            throw DendriteError.invalidArgument("the model has no layers; end it with a dense layer of \(classes) units")
        }
        var shape = inputShape
        var resolved: [ResolvedLayer] = []
        for (index, layer) in layers.enumerated() {
            func fail(_ rule: String) -> DendriteError {
                .invalidArgument("model layer \(index) (\(layer.text)): \(rule)")
            }
            var parameters = 0
            switch layer {
            case .dense(let units, _):
                guard units >= 1 && units <= ModelSpec.maxUnits else {
                    throw fail("units must be between 1 and \(ModelSpec.maxUnits), got \(units)")
                }
                let inputs = shape.reduce(1, *)
                parameters = (inputs + 1) * units
                shape = [units]
            case .activation(let activation):
                if case .leakyReLU(let alpha) = activation, !(alpha > 0 && alpha.isFinite) {
                    throw fail("the slope must be a positive number, got \(alpha)")
                }
                if case .elu(let alpha) = activation, !(alpha > 0 && alpha.isFinite) {
                    throw fail("alpha must be a positive number, got \(alpha)")
                }
            case .flatten:
                shape = [shape.reduce(1, *)]
            case .conv(let filters, let kernel, let stride, let padding, let bias, _):
                guard filters >= 1 && filters <= ModelSpec.maxUnits else {
                    throw fail("filters must be between 1 and \(ModelSpec.maxUnits), got \(filters)")
                }
                let image = try ModelSpec.checkWindow(shape, kernel: kernel, stride: stride, padding: padding, fail)
                parameters = kernel.rows * kernel.cols * shape[2] * filters + (bias ? filters : 0)
                shape = [image.rows, image.cols, filters]
            case .pool(_, let size, let stride, let padding):
                let image = try ModelSpec.checkWindow(shape, kernel: size, stride: stride, padding: padding, fail)
                if case .explicit(let rows, let cols) = padding, rows >= size.rows || cols >= size.cols {
                    throw fail("padding must be smaller than the pool size, or a window could hold padding only")
                }
                shape = [image.rows, image.cols, shape[2]]
            case .globalAveragePool:
                guard shape.count == 3 else {
                    throw fail("needs an input of (height, width, channels), got \(shape); put it after a conv or pool layer")
                }
                shape = [shape[2]]
            case .dropout(let rate):
                guard rate >= 0 && rate < 1 else { throw fail("the rate must be at least 0 and below 1, got \(rate)") }
            case .batchNorm(let momentum, let epsilon):
                guard momentum >= 0 && momentum < 1 else {
                    throw fail("the momentum must be at least 0 and below 1, got \(momentum)")
                }
                guard epsilon > 0 && epsilon.isFinite else { throw fail("epsilon must be a positive number, got \(epsilon)") }
                parameters = 2 * shape[shape.count - 1]
            }
            resolved.append(ResolvedLayer(spec: layer, outputShape: shape, parameterCount: parameters))
        }
        let outputs = shape.reduce(1, *)
        guard outputs == classes else {
            throw DendriteError.invalidArgument("model layer \(layers.count - 1) (\(layers.last!.text)): the model "
                + "outputs \(outputs) values per example but the data has \(classes) classes; end it with dense \(classes)")
        }
        guard resolved.contains(where: { $0.parameterCount > 0 }) else {
            throw DendriteError.invalidArgument("the model has no parameters to train; add a dense or conv layer")
        }
        return resolved
    }
}

extension ModelSpec {
    /// Checks a convolution or pooling window over `shape` (height, width, channels) and returns the
    /// output image size.
    static func checkWindow(_ shape: [Int], kernel: Size2D, stride: Size2D, padding: Padding,
                            _ fail: (String) -> DendriteError) throws -> Size2D {
        guard shape.count == 3 else {
            throw fail("needs an input of (height, width, channels), got \(shape); a convolution or pool must come "
                + "before any dense or flatten layer")
        }
        guard (1...maxUnits).contains(kernel.rows), (1...maxUnits).contains(kernel.cols) else {
            throw fail("the window must be at least 1x1, got \(kernel.text)")
        }
        guard (1...maxUnits).contains(stride.rows), (1...maxUnits).contains(stride.cols) else {
            throw fail("the stride must be at least 1, got \(stride.text)")
        }
        if case .explicit(let rows, let cols) = padding, !((0...maxUnits).contains(rows) && (0...maxUnits).contains(cols)) {
            throw fail("the padding must be between 0 and \(maxUnits)")
        }
        let rows = padding.resolve(size: shape[0], kernel: kernel.rows, stride: stride.rows, vertical: true).output
        let cols = padding.resolve(size: shape[1], kernel: kernel.cols, stride: stride.cols, vertical: false).output
        guard rows > 0 && cols > 0 else {
            throw fail("a \(kernel.text) window does not fit the \(shape[0])x\(shape[1]) input with padding "
                + "\(padding.text); use padding=same or a smaller window")
        }
        return Size2D(rows, cols)
    }

    /// The name and shape of every parameter the model will have, in order.
    public func parameterShapes(inputShape: [Int], classes: Int) throws -> [(name: String, shape: [Int])] {
        var input = inputShape
        var shapes: [(name: String, shape: [Int])] = []
        for (index, layer) in try resolve(inputShape: inputShape, classes: classes).enumerated() {
            switch layer.spec {
            case .dense(let units, _):
                shapes.append(("layers.\(index).weight", [input.reduce(1, *), units]))
                shapes.append(("layers.\(index).bias", [units]))
            case .conv(let filters, let kernel, _, _, let bias, _):
                shapes.append(("layers.\(index).weight", [kernel.rows, kernel.cols, input[2], filters]))
                if bias { shapes.append(("layers.\(index).bias", [filters])) }
            case .batchNorm:
                shapes.append(("layers.\(index).gamma", [input[input.count - 1]]))
                shapes.append(("layers.\(index).beta", [input[input.count - 1]]))
            default:
                break
            }
            input = layer.outputShape
        }
        return shapes
    }

    /// The name and shape of every buffer (state saved with the model, not trained), in order.
    public func bufferShapes(inputShape: [Int], classes: Int) throws -> [(name: String, shape: [Int])] {
        try resolve(inputShape: inputShape, classes: classes).enumerated().flatMap { index, layer in
            guard case .batchNorm = layer.spec else { return [(name: String, shape: [Int])]() }
            let channels = layer.outputShape[layer.outputShape.count - 1]
            return [("layers.\(index).moving_mean", [channels]), ("layers.\(index).moving_variance", [channels])]
        }
    }
}

/// Layers applied in order. Parameters (and buffers) are named `layers.<i>.weight` / `layers.<i>.bias` (PyTorch's style),
/// counting layers as given.
public final class Sequential: Layer {
    public let layers: [Layer]

    public init(_ layers: [Layer]) {
        self.layers = layers
        for (i, layer) in layers.enumerated() {
            for parameter in layer.parameters + layer.buffers where !parameter.name.hasPrefix("layers.") {
                parameter.name = "layers.\(i).\(parameter.name)"
            }
        }
    }

    public convenience init(_ layers: Layer...) { self.init(layers) }

    public var parameters: [Variable] { layers.flatMap(\.parameters) }
    public var buffers: [Variable] { layers.flatMap(\.buffers) }

    public func callAsFunction(_ input: Variable, on tape: Tape) -> Variable {
        var x = input
        var i = 0
        while i < layers.count {
            // A Dense or Conv2D without activation followed by an activation layer runs as one fused op.
            if let dense = layers[i] as? Dense, dense.activation == .identity, i + 1 < layers.count,
               let next = layers[i + 1] as? ActivationLayer {
                x = dense(x, on: tape, activation: next.activation)
                i += 2
            } else if let conv = layers[i] as? Conv2D, conv.activation == .identity, i + 1 < layers.count,
                      let next = layers[i + 1] as? ActivationLayer {
                x = conv(x, on: tape, activation: next.activation)
                i += 2
            } else {
                x = layers[i](x, on: tape)
                i += 1
            }
        }
        return x
    }
}

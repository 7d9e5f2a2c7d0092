import Foundation

/// A table of the model like Keras's `model.summary()`: each layer with its output shape and parameter
/// count, then the totals.
public struct ModelSummary {
    public let inputShape: [Int]
    public let layers: [ModelSpec.ResolvedLayer]

    public init(spec: ModelSpec, inputShape: [Int], classes: Int) throws {
        self.inputShape = inputShape
        layers = try spec.resolve(inputShape: inputShape, classes: classes)
    }

    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }

    public func render() -> String {
        func shape(_ dims: [Int]) -> String { "(None, " + dims.map(String.init).joined(separator: ", ") + ")" }
        func grouped(_ n: Int) -> String {
            var digits = Array(String(n)), out = ""
            while digits.count > 3 { out = "," + String(digits.suffix(3)) + out; digits.removeLast(3) }
            return String(digits) + out
        }
        var rows = [("Layer (type)", "Output shape", "Param #"), ("input", shape(inputShape), "0")]
        for (i, layer) in layers.enumerated() {
            rows.append(("layers.\(i) (\(layer.spec.text))", shape(layer.outputShape), grouped(layer.parameterCount)))
        }
        let widths = (rows.map(\.0.count).max()! + 2, rows.map(\.1.count).max()! + 2)
        let lines = rows.map { $0.0.padding(toLength: widths.0, withPad: " ", startingAt: 0)
            + $0.1.padding(toLength: widths.1, withPad: " ", startingAt: 0) + $0.2 }
        let rule = String(repeating: "─", count: lines.map(\.count).max()!)
        let megabytes = Double(parameterCount) * 4 / 1_048_576
        return ([lines[0], rule] + lines.dropFirst() + [rule,
                String(format: "Total params: %@ (%.2f MB)", grouped(parameterCount), megabytes)]).joined(separator: "\n")
    }
}

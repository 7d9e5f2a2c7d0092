/// A model's parameters in one arena and their gradients in another, each parameter's `value` and
/// `grad` a window of them: an optimizer then updates every parameter in one kernel call, and a
/// gradient all-reduce sends one buffer.
public final class ParameterArena {
    public let parameters: [Variable]
    public let values: Arena
    public let gradients: Arena
    /// Where each parameter's window starts, in both arenas.
    public let offsets: [Int]
    /// The floats this process's optimizer updates: all of them, or, in a data-parallel run, this rank's
    /// shard (each rank updates its own and the ranks then exchange the results; see ``GradientSync``).
    public var shard: Range<Int>

    /// Moves `parameters` (their current values, and gradients where they have them) into new arenas, in order.
    public init(gathering parameters: [Variable]) {
        let (offsets, count) = Arena.layout(parameters.map(\.value.shape))
        self.parameters = parameters
        self.offsets = offsets
        values = Arena(count: count)
        gradients = Arena(count: count)
        shard = 0..<count
        for (parameter, offset) in zip(parameters, offsets) {
            let shape = parameter.value.shape
            var window = Tensor(window: values, offset: offset, shape: shape)
            window.assign(parameter.value)
            parameter.value = window
            var gradient = Tensor(window: gradients, offset: offset, shape: shape)
            if let existing = parameter.grad, existing.shape == shape { gradient.assign(existing) }
            parameter.grad = gradient
        }
    }

    /// Floats in each arena, alignment padding included.
    public var count: Int { values.count }

    /// The floats of parameter `index`'s window that lie in the shard (empty when none do).
    public func windowInShard(of index: Int) -> Range<Int> {
        (offsets[index]..<(offsets[index] + parameters[index].value.count)).clamped(to: shard)
    }

    /// Whether one sweep over the whole arena updates exactly the parameters due for an update: every
    /// parameter got a gradient this step and still lives in this arena. (A parameter that got none
    /// must not move, and one whose value was replaced by hand no longer lives here.)
    var canSweep: Bool {
        for (parameter, offset) in zip(parameters, offsets) {
            guard parameter.hasGradient, parameter.value.pointer == UnsafePointer(values.pointer + offset),
                  let grad = parameter.grad, grad.pointer == UnsafePointer(gradients.pointer + offset)
            else { return false }
        }
        return true
    }

    /// The window of `arena` (shaped like the arenas) that belongs to parameter `index`.
    func window(of arena: Arena, index: Int) -> Tensor {
        Tensor(window: arena, offset: offsets[index], shape: parameters[index].value.shape)
    }
}

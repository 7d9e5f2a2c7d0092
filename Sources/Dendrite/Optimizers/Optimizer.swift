/// Updates parameters from their gradients, then clears the gradients for the next step.
public protocol Optimizer: AnyObject {
    /// The parameters this optimizer updates, gathered in one arena (their gradients in another).
    var arena: ParameterArena { get }
    /// Steps taken so far.
    var step: Int { get set }
    /// One update of every parameter that has a gradient; clears the gradients.
    func update(on backend: Backend, profiler: Profiler?)
    /// Named state tensors to checkpoint (moments, velocities), in a stable order.
    var state: [(name: String, tensor: Tensor)] { get }
    /// Restores state saved from `state`; names or shapes that differ are an error.
    func restore(state: [String: Tensor]) throws
    /// The arenas behind `state`, each laid out like the parameter arena (so a data-parallel run can
    /// gather the shards the ranks updated).
    var stateArenas: [Arena] { get }
}

extension Optimizer {
    /// The parameters, in order.
    public var parameters: [Variable] { arena.parameters }

    /// Calls `update` on what this step updates within the arena's shard, then clears the gradients: the
    /// whole shard in one call when every parameter has a gradient, else the part of each parameter that
    /// has one. `offset` locates the range in arenas laid out like the parameters' (an optimizer's moments).
    func sweep(_ update: (_ offset: Int, _ count: Int, _ param: UnsafeMutablePointer<Float>,
                          _ grad: UnsafePointer<Float>) -> Void) {
        let shard = arena.shard
        if arena.canSweep {
            if !shard.isEmpty {
                update(shard.lowerBound, shard.count, arena.values.pointer + shard.lowerBound,
                       arena.gradients.pointer + shard.lowerBound)
            }
        } else {
            for (i, parameter) in parameters.enumerated() where parameter.hasGradient {
                var value = parameter.value
                let part = arena.windowInShard(of: i)
                guard !part.isEmpty else { continue }
                let skip = part.lowerBound - arena.offsets[i]
                update(part.lowerBound, part.count, value.mutablePointer + skip, parameter.grad!.pointer + skip)
            }
        }
        for parameter in parameters { parameter.zeroGradient() }
    }

    /// Copies each parameter's saved `prefix.<name>` tensor into its window of `buffer` (laid out like the arena).
    func restore(_ buffer: Arena, prefix: String, from saved: [String: Tensor]) throws {
        for (i, parameter) in parameters.enumerated() {
            let key = "\(prefix).\(parameter.name)"
            guard let tensor = saved[key] else {
                throw DendriteError.invalidArgument("optimizer state '\(key)' is missing")
            }
            var window = arena.window(of: buffer, index: i)
            guard tensor.shape == window.shape else {
                throw DendriteError.invalidArgument(
                    "optimizer state '\(key)' has shape \(tensor.shape), expected \(window.shape)")
            }
            window.assign(tensor)
        }
    }
}

/// Reverse-mode autodiff: ops record what their backward rule needs; `backward(from:)` walks the
/// records in reverse and accumulates gradients into every variable that requires one.
///
/// The tape also owns the buffers of the values it computes: the i-th op of a step writes into the
/// buffer the i-th op of the previous step used, so a steady training loop allocates nothing. The
/// recorded ops are recycled the same way (one pool per op type).
public final class Tape: @unchecked Sendable {
    public let backend: Backend
    /// When set, every op is timed under its name (see ``Profiler``).
    public var profiler: Profiler?
    /// Off for evaluation: ops compute values only, record nothing and skip gradient work (and
    /// training-only layers such as dropout pass their input through).
    public var isRecording = true
    /// Called after each op's backward rule (data-parallel training starts exchanging finished gradients there).
    public var afterEachBackwardOp: (() -> Void)?
    /// The key of this step's random draws (dropout masks): the trainer sets it from (seed, step)
    /// with ``randomKey(seed:step:)``, so a resumed run draws the same masks.
    public var randomKey: UInt64 = 0
    /// Where this process's rows start in the whole batch (data-parallel training; 0 for one process): random
    /// draws are keyed by position in the whole batch, so each row gets what one process would give it.
    public var firstRowInBatch = 0
    /// Random ops drawn this step: each gets its own key, in the order they ran.
    private var randomDraws: UInt64 = 0

    /// This step's ops in the order they ran.
    private(set) var records: [any TapeOp] = []
    private var slots: [Variable] = []
    /// Outputs that share their input's storage (reshapes), released at `reset()`.
    var views: [Variable] = []
    private var cursor = 0
    private var pools: [ObjectIdentifier: OpPool] = [:]

    /// The ops of one type, recycled: the first `used` are this step's.
    private final class OpPool {
        var ops: [any TapeOp] = []
        var used = 0
    }

    public init(backend: Backend, profiler: Profiler? = nil) {
        self.backend = backend
        self.profiler = profiler
        records.reserveCapacity(64)
        slots.reserveCapacity(64)
        views.reserveCapacity(8)
    }

    /// Starts a new step: forgets the records and makes every buffer and op reusable.
    public func reset() {
        // A reshape shares its input's storage; dropping the view lets that buffer be rewritten in place.
        for view in views { view.value = Tensor.empty }
        views.removeAll(keepingCapacity: true)
        for op in records { op.forEachInput { $0.readers = 0 } }
        records.removeAll(keepingCapacity: true)
        for pool in pools.values { pool.used = 0 }
        for slot in slots[..<cursor] { slot.zeroGradient() }
        cursor = 0
        randomDraws = 0
    }

    /// The key of step `step`'s random draws in a run seeded with `seed`.
    public static func randomKey(seed: UInt64, step: Int) -> UInt64 {
        mix64(mix64(seed ^ 0x243F_6A88_85A3_08D3) &+ UInt64(truncatingIfNeeded: step))
    }

    /// A key for the next random op of this step: (randomKey, its position among the step's random ops) mixed.
    func nextRandomKey() -> UInt64 {
        randomDraws += 1
        return Tape.mix64(randomKey &+ randomDraws &* 0x9E37_79B9_7F4A_7C15)
    }

    /// SplitMix64's finalizer: a bijection that spreads every input bit over the output.
    private static func mix64(_ x: UInt64) -> UInt64 {
        var z = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next reusable buffer, shaped `shape`.
    func output(_ shape: Shape, requiresGrad: Bool) -> Variable {
        let slot = nextSlot(requiresGrad: requiresGrad)
        slot.value.reuse(as: shape)
        return slot
    }

    /// The next slot, its value left as the previous step left it (a reshape replaces it anyway).
    func nextSlot(requiresGrad: Bool) -> Variable {
        let slot: Variable
        if cursor < slots.count {
            slot = slots[cursor]
            slot.requiresGrad = requiresGrad
            slot.zeroGradient()
            slot.readers = 0
        } else {
            slot = Variable(Tensor.empty, requiresGrad: requiresGrad)
            slots.append(slot)
        }
        cursor += 1
        return slot
    }

    /// A blank op of this type for the current step: last step's, or a new one while the loop warms up.
    func makeOp<Op: TapeOp>(_ type: Op.Type) -> Op {
        let key = ObjectIdentifier(type)
        let pool: OpPool
        if let existing = pools[key] { pool = existing } else { pool = OpPool(); pools[key] = pool }
        if pool.used == pool.ops.count { pool.ops.append(Op()) }
        pool.used += 1
        return pool.ops[pool.used - 1] as! Op
    }

    /// Keeps `op` for the backward pass, and counts it as a reader of its inputs.
    func record(_ op: any TapeOp) {
        guard isRecording else { return }
        records.append(op)
        op.forEachInput { $0.readers += 1 }
    }

    /// The op of this step that computed `x`, if one did.
    func recordedOp(producing x: Variable) -> (any TapeOp)? {
        records.last { $0.output === x }
    }

    /// Whether an op on these inputs needs its backward rule (two overloads: variadics would allocate).
    func tracksGradient(_ x: Variable) -> Bool { isRecording && x.requiresGrad }
    func tracksGradient(_ x: Variable, _ y: Variable) -> Bool { isRecording && (x.requiresGrad || y.requiresGrad) }

    /// Hands `write` the buffer for a gradient contribution to `x`: x's gradient itself on the first
    /// contribution of the step, else a scratch buffer that is then added to it.
    func contributeGradient(to x: Variable, _ write: (UnsafeMutablePointer<Float>) -> Void) {
        if !x.hasGradient {
            write(x.gradientBuffer())
            x.hasGradient = true
        } else {
            let scratch = output(x.value.shape, requiresGrad: false)
            let pointer = scratch.value.mutablePointer
            write(pointer)
            backend.elementwise.addInPlace(x.grad!.mutablePointer, pointer, count: x.value.count)
        }
    }
}

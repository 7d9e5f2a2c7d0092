/// Reverse-mode autodiff: ops record what their backward rule needs; `backward(from:)` walks the
/// records in reverse and accumulates gradients into every variable that requires one.
///
/// The tape also owns the buffers of the values it computes: the i-th op of a step writes into the
/// buffer the i-th op of the previous step used, so a steady training loop allocates nothing.
public final class Tape: @unchecked Sendable {
    public let backend: Backend
    /// When set, every op is timed under its name (see ``Profiler``).
    public var profiler: Profiler?
    /// Off for evaluation: ops compute values only, record nothing and skip gradient work.
    public var isRecording = true

    enum Record {
        case matmul(a: Variable, b: Variable, out: Variable)
        case dense(x: Variable, weight: Variable, bias: Variable, out: Variable, Activation)
        case biasAdd(x: Variable, bias: Variable, out: Variable)
        case activation(x: Variable, out: Variable, Activation)
        case biasActivation(x: Variable, bias: Variable, out: Variable, Activation)
        case reshape(x: Variable, out: Variable)
        case softmaxCrossEntropy(logits: Variable, out: Variable, dlogits: Variable)
    }

    var records: [Record] = []
    private var slots: [Variable] = []
    /// Outputs that share their input's storage (reshapes), released at `reset()`.
    var views: [Variable] = []
    private var cursor = 0

    public init(backend: Backend, profiler: Profiler? = nil) {
        self.backend = backend
        self.profiler = profiler
        records.reserveCapacity(64)
        slots.reserveCapacity(64)
        views.reserveCapacity(8)
    }

    /// Starts a new step: forgets the records and makes every buffer reusable.
    public func reset() {
        // A reshape shares its input's storage; dropping the view lets that buffer be rewritten in place.
        for view in views { view.value = Tensor.empty }
        views.removeAll(keepingCapacity: true)
        for record in records { record.forEachInput { $0.readers = 0 } }
        records.removeAll(keepingCapacity: true)
        for slot in slots[..<cursor] { slot.zeroGradient() }
        cursor = 0
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
            slot.producingActivation = nil
        } else {
            slot = Variable(Tensor.empty, requiresGrad: requiresGrad)
            slots.append(slot)
        }
        cursor += 1
        return slot
    }

    func record(_ record: Record) {
        guard isRecording else { return }
        records.append(record)
        record.forEachInput { $0.readers += 1 }
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
            backend.addInPlace(x.grad!.mutablePointer, pointer, count: x.value.count)
        }
    }
}

extension Tape.Record {
    /// Calls body on each variable the op reads (once per operand: x·x reads x twice).
    func forEachInput(_ body: (Variable) -> Void) {
        switch self {
        case .matmul(let a, let b, _): body(a); body(b)
        case .dense(let x, let weight, let bias, _, _): body(x); body(weight); body(bias)
        case .biasAdd(let x, let bias, _), .biasActivation(let x, let bias, _, _): body(x); body(bias)
        case .activation(let x, _, _), .reshape(let x, _): body(x)
        case .softmaxCrossEntropy(let logits, _, _): body(logits)
        }
    }
}

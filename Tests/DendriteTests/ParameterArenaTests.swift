import Testing
@testable import Dendrite

/// Parameters and gradients live in two arenas, and one optimizer sweep over them gives the bits of the
/// per-tensor updates.
@Suite struct ParameterArenaTests {
    /// Variables of odd sizes (so windows have padding between them), with gradients.
    func parameters(seed: UInt64) -> [Variable] {
        [Shape(7, 3), Shape([3]), Shape(3, 5), Shape([5])].enumerated().map { i, shape in
            let v = randomVariable(shape, seed: seed + UInt64(i))
            v.name = "p\(i)"
            let g = randomVariable(shape, seed: seed + 100 + UInt64(i))
            v.gradientBuffer().update(from: g.value.pointer, count: shape.count)
            v.hasGradient = true
            return v
        }
    }

    @Test func windowsAreAlignedAndKeepValues() {
        let params = parameters(seed: 1)
        let before = params.map(\.value.scalars), gradients = params.map { $0.grad!.scalars }
        let arena = ParameterArena(gathering: params)
        for (i, p) in params.enumerated() {
            #expect(p.value.isArenaWindow && p.grad!.isArenaWindow)
            #expect(p.value.scalars == before[i])
            #expect(p.grad!.scalars == gradients[i], "parameter \(i) lost its gradient")
            #expect(Int(bitPattern: p.value.pointer) % 64 == 0, "parameter \(i) is not 64-byte aligned")
            #expect(p.value.pointer == UnsafePointer(arena.values.pointer + arena.offsets[i]))
        }
        #expect(arena.offsets == [0, 32, 48, 64] && arena.count == 69, "\(arena.offsets), \(arena.count)")
    }

    @Test(arguments: ["c", "swift"]) func adamSweepEqualsPerTensorCalls(backendName: String) throws {
        let backend = try Backends.named(backendName)
        let swept = parameters(seed: 5), reference = parameters(seed: 5)
        let adam = Adam(parameters: swept, learningRate: 0.01)
        // Per-tensor state the reference updates in place (arena windows write through; owned tensors would copy).
        let referenceArena = ParameterArena(gathering: reference)
        let m = Arena(count: referenceArena.count), v = Arena(count: referenceArena.count)
        for step in 1...3 {
            if step > 1 {  // new gradients, as a backward pass writes them
                for (p, r) in zip(swept, reference) {
                    for i in 0..<p.value.count { p.grad![i] = Float(step) * r.value[i]; r.grad![i] = p.grad![i] }
                    p.hasGradient = true
                    r.hasGradient = true
                }
            }
            adam.update(on: backend, profiler: nil)
            for (i, r) in reference.enumerated() {
                let offset = referenceArena.offsets[i]
                backend.optimizers.adamStep(param: referenceArena.values.pointer + offset, m: m.pointer + offset,
                                            v: v.pointer + offset, grad: r.grad!.pointer, count: r.value.count, lr: 0.01,
                                            beta1: 0.9, beta2: 0.999, eps: 1e-8, step: step)
            }
        }
        for (p, r) in zip(swept, reference) {
            #expect(p.value.scalars.map(\.bitPattern) == r.value.scalars.map(\.bitPattern), "\(p.name) differs")
        }
    }

    /// A parameter that got no gradient this step must not move (an arena sweep would move it).
    @Test func parameterWithoutGradientStaysPut() {
        let params = parameters(seed: 9)
        let adam = Adam(parameters: params, learningRate: 0.1)
        params[2].zeroGradient()
        let frozen = params[2].value.scalars
        adam.update(on: Backends.c, profiler: nil)
        #expect(params[2].value.scalars == frozen)
        #expect(params[0].value.scalars != parameters(seed: 9)[0].value.scalars)
    }
}

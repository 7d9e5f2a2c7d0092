import Foundation
import Testing
@testable import Dendrite

@Suite struct TrainingTests {
    func options(_ folder: String, epochs: Int = 3, seed: UInt64 = 7) -> TrainingOptions {
        var options = TrainingOptions(runDirectory: folder)
        options.configuration.model = mlp([16, 16])
        options.configuration.batchSize = 32
        options.configuration.epochs = epochs
        options.configuration.seed = seed
        options.configuration.learningRate = 0.01
        options.logEvery = 0
        return options
    }

    /// The lab's recipe learns a separable toy problem: accuracy far above chance (0.25).
    @Test func convergesOnSyntheticData() throws {
        let data = try DataFolder(path: writeSyntheticFolder())
        let trainer = try Trainer(options: options(temporaryFolder(), epochs: 10), data: data, backend: Backends.c) { _ in }
        let summary = try trainer.run()
        #expect(summary.testAccuracy >= 0.95, "test accuracy \(summary.testAccuracy)")
        #expect(summary.testLoss < 0.3, "test loss \(summary.testLoss)")
    }

    /// Stopping mid-run (as a kill would) and resuming gives weights bitwise equal to an uninterrupted run.
    @Test(arguments: [3, 5, 8, 17]) func resumeIsBitwiseExact(stopAfter: Int) throws {
        let data = try DataFolder(path: writeSyntheticFolder(train: 200))  // 7 batches per epoch, last partial
        let backend = Backends.c

        let straightFolder = temporaryFolder()
        let straight = try Trainer(options: options(straightFolder), data: data, backend: backend) { _ in }
        _ = try straight.run()

        let interruptedFolder = temporaryFolder()
        var first = options(interruptedFolder)
        first.checkpointEvery = 2
        first.stopAfterSteps = stopAfter
        let interrupted = try Trainer(options: first, data: data, backend: backend) { _ in }
        #expect(try interrupted.run().stoppedEarly)

        var second = options(interruptedFolder)
        second.resume = true
        second.checkpointEvery = 2
        let resumed = try Trainer(options: second, data: data, backend: backend) { _ in }
        _ = try resumed.run()

        for (a, b) in zip(straight.model.parameters, resumed.model.parameters) {
            #expect(a.name == b.name)
            #expect(a.value.scalars == b.value.scalars, "\(a.name) differs after resuming from step \(stopAfter)")
        }
        let finalStraight = try Checkpoint.read(path: Checkpoint.files(in: straightFolder).last!)
        let finalResumed = try Checkpoint.read(path: Checkpoint.files(in: interruptedFolder).last!)
        #expect(finalStraight.step == finalResumed.step)
        for (name, tensor) in finalStraight.tensors {
            #expect(finalResumed.tensors[name]?.scalars == tensor.scalars, "checkpoint tensor \(name) differs")
        }
    }

    /// Same seed → the same bits, whatever the thread count; another seed → other weights.
    @Test func seedsAreReproducibleAcrossThreadCounts() throws {
        let data = try DataFolder(path: writeSyntheticFolder())
        func train(threads: Int, seed: UInt64) throws -> [[Float]] {
            let backend = Backends.c
            let saved = Threads.count
            defer { Threads.count = saved }
            Threads.count = threads
            let trainer = try Trainer(options: options(temporaryFolder(), epochs: 1, seed: seed), data: data, backend: backend) { _ in }
            _ = try trainer.run()
            return trainer.model.parameters.map(\.value.scalars)
        }
        let one = try train(threads: 1, seed: 3)
        #expect(try train(threads: 2, seed: 3) == one)
        #expect(try train(threads: 1, seed: 4) != one)
    }

    @Test func refusesToOverwriteAnotherRunsCheckpoints() throws {
        let data = try DataFolder(path: writeSyntheticFolder())
        let folder = temporaryFolder()
        _ = try Trainer(options: options(folder, epochs: 1), data: data, backend: Backends.c) { _ in }.run()
        let before = Checkpoint.files(in: folder)
        #expect(throws: DendriteError.self) {
            _ = try Trainer(options: options(folder, epochs: 1), data: data, backend: Backends.c) { _ in }
        }
        var otherShape = options(folder, epochs: 2)
        otherShape.configuration.model = mlp([8])
        otherShape.resume = true
        #expect(throws: DendriteError.self) {
            _ = try Trainer(options: otherShape, data: data, backend: Backends.c) { _ in }
        }
        #expect(Checkpoint.files(in: folder) == before)
    }

    /// A diverging run stops naming the step, and the last good checkpoint stays.
    @Test func nonFiniteLossStopsWithTheStep() throws {
        let data = try DataFolder(path: writeSyntheticFolder())
        let folder = temporaryFolder()
        var diverging = options(folder)
        diverging.configuration.learningRate = 1e30
        diverging.configuration.optimizer = .sgd
        diverging.checkpointEvery = 1
        let trainer = try Trainer(options: diverging, data: data, backend: Backends.c) { _ in }
        do {
            _ = try trainer.run()
            Issue.record("training with lr 1e30 should have stopped")
        } catch let DendriteError.numerical(message) {
            #expect(message.contains("step"), "\(message)")
        }
        for file in Checkpoint.files(in: folder) {
            let checkpoint = try Checkpoint.read(path: file)
            for (name, tensor) in checkpoint.tensors {
                let finite = tensor.scalars.allSatisfy { $0.isFinite }
                #expect(finite, "\(file): \(name) holds non-finite values")
            }
        }
    }
}

/// A convolutional model with batch norm and dropout: it learns, and resuming reproduces the
/// uninterrupted run bit for bit (the dropout masks are keyed by seed and step, not by a generator's
/// state; the moving statistics are in the checkpoint).
@Suite struct ConvTrainingTests {
    func options(_ folder: String, epochs: Int = 2) throws -> TrainingOptions {
        var options = TrainingOptions(runDirectory: folder)
        options.configuration.model = try ModelSpec(layersText:
            "conv 4 3x3 padding=same, batchnorm, relu, maxpool 2, dropout 0.3, flatten, dense 4 init=glorot")
        options.configuration.batchSize = 32
        options.configuration.epochs = epochs
        options.configuration.seed = 3
        options.configuration.learningRate = 0.01
        options.logEvery = 0
        return options
    }

    @Test func learnsAndResumesBitwiseExact() throws {
        let data = try DataFolder(path: writeSyntheticFolder(train: 200))
        let straight = try Trainer(options: options(temporaryFolder(), epochs: 4), data: data, backend: Backends.c) { _ in }
        let summary = try straight.run()
        #expect(summary.testAccuracy >= 0.9, "test accuracy \(summary.testAccuracy)")

        let folder = temporaryFolder()
        var first = try options(folder, epochs: 4)
        first.checkpointEvery = 2
        first.stopAfterSteps = 9
        #expect(try Trainer(options: first, data: data, backend: Backends.c) { _ in }.run().stoppedEarly)
        var second = try options(folder, epochs: 4)
        second.resume = true
        let resumed = try Trainer(options: second, data: data, backend: Backends.c) { _ in }
        _ = try resumed.run()
        for (a, b) in zip(straight.model.parameters + straight.model.buffers, resumed.model.parameters + resumed.model.buffers) {
            #expect(a.value.scalars == b.value.scalars, "\(a.name) differs after resuming from step 9")
        }
        #expect(resumed.model.buffers.map(\.name) == ["layers.1.moving_mean", "layers.1.moving_variance"])
    }
}

import Foundation
import Testing
@testable import Dendrite

/// Issue 16: run folders and resumes under hostile or unlucky conditions (the signal cases are in CLITests,
/// since a signal reaches the whole process).
extension TrainingTests {
    /// A run of `steps` steps on `data` in `folder`, checkpointing every `every` steps (kill simulated).
    func interruptedRun(_ folder: String, data: DataFolder, steps: Int, every: Int) throws {
        var first = options(folder)
        first.checkpointEvery = every
        first.stopAfterSteps = steps
        _ = try Trainer(options: first, data: data, backend: Backends.c) { _ in }.run()
    }

    func resuming(_ folder: String, data: DataFolder, lines: ((String) -> Void)? = nil) throws -> Trainer {
        var options = options(folder)
        options.resume = true
        options.checkpointEvery = 2
        return try Trainer(options: options, data: data, backend: Backends.c) { lines?($0) }
    }

    func expectCheckpointError(_ text: String, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected an error containing '\(text)'")
        } catch {
            #expect("\(error)".contains(text), "\(error)")
        }
    }

    /// Item 1: a position the data at hand cannot continue (or an edited one) is refused, not looped on.
    @Test func resumePositionMustFitTheData() throws {
        let folder = temporaryFolder()
        try interruptedRun(folder, data: DataFolder(path: writeSyntheticFolder(train: 200)), steps: 10, every: 3)
        // The newest checkpoint is step 9: epoch 1, batch 2 of 7 batches of 32.
        expectCheckpointError("its next batch is 2 of epoch 1, but 40 training images in batches of 32 make 2 batches per epoch") {
            _ = try resuming(folder, data: DataFolder(path: writeSyntheticFolder(train: 40)))
        }
        expectCheckpointError("its step 9 is not epoch 1 × 5 + batch 2 (160 training images in batches of 32 make 5 batches") {
            _ = try resuming(folder, data: DataFolder(path: writeSyntheticFolder(train: 160)))
        }
        let path = "\(folder)/\(Checkpoint.fileName(step: 9))"
        let (tensors, metadata) = try Safetensors.read(path: path)
        for (key, value, problem) in [("batch", "5", "its step 9 is not epoch 1 × 7 + batch 5"),
                                      ("generator_state", "1,2,3,4", "its generator_state is not the one seed 7 gives epoch 1")] {
            var edited = metadata
            edited[key] = value
            try Safetensors.write(tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, metadata: edited, to: path)
            expectCheckpointError(problem) { _ = try resuming(folder, data: DataFolder(path: writeSyntheticFolder(train: 200))) }
        }
    }

    /// Item 6: one trainer per run folder; the second is refused naming the first's PID.
    @Test func secondTrainerInTheSameFolderIsRefused() throws {
        let data = try DataFolder(path: writeSyntheticFolder())
        let folder = temporaryFolder()
        let first = try Trainer(options: options(folder, epochs: 1), data: data, backend: Backends.c) { _ in }
        var resume = options(folder, epochs: 1)
        resume.resume = true
        for second in [options(folder, epochs: 1), resume] {
            expectCheckpointError("\(folder): another run (PID \(getpid())) is training in this folder") {
                _ = try Trainer(options: second, data: data, backend: Backends.c) { _ in }
            }
        }
        _ = try first.run()
    }

    /// Item 7: --resume skips a damaged newest checkpoint and a mislabelled one, saying so, and ignores (and
    /// keeps) a hand-copied file outside the run's naming; the result is still bitwise that of a straight run.
    @Test func resumeFallsBackPastDamagedAndStrayFiles() throws {
        let data = try DataFolder(path: writeSyntheticFolder(train: 200))  // 7 batches per epoch
        let straight = try Trainer(options: options(temporaryFolder()), data: data, backend: Backends.c) { _ in }
        _ = try straight.run()

        let folder = temporaryFolder()
        try interruptedRun(folder, data: data, steps: 9, every: 2)  // keeps steps 6, 7 (end of epoch 0) and 8
        let newest = "\(folder)/\(Checkpoint.fileName(step: 8))", older = "\(folder)/\(Checkpoint.fileName(step: 6))"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: newest)))
        bytes[bytes.count - 5] ^= 0x04
        try Data(bytes).write(to: URL(fileURLWithPath: newest))
        let mislabelled = "\(folder)/\(Checkpoint.fileName(step: 999))", backup = "\(folder)/checkpoint-backup.safetensors"
        for copy in [mislabelled, backup] { try FileManager.default.copyItem(atPath: older, toPath: copy) }

        var lines: [String] = []
        // (A note about another thread count, set meanwhile by a parallel suite, may come too: not counted.)
        let resumed = try resuming(folder, data: data) { if !$0.hasPrefix("note: ") { lines.append($0) } }
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.first == "Skipped \(mislabelled): its name says step 999, its metadata step 6")
        #expect(lines.dropFirst().first?.hasPrefix("Skipped checkpoint \(newest): checksum mismatch in tensor 'adam.v.") == true, "\(lines)")
        #expect(lines.last?.hasPrefix("Resuming \(folder)/\(Checkpoint.fileName(step: 7)): epoch 1, batch 0, step 7") == true, "\(lines)")
        _ = try resumed.run()
        for (a, b) in zip(straight.model.parameters, resumed.model.parameters) {
            #expect(a.value.scalars == b.value.scalars, "\(a.name) differs after resuming past damaged files")
        }
        #expect(FileManager.default.fileExists(atPath: backup) && FileManager.default.fileExists(atPath: mislabelled))
    }

    /// Item 10: what a run writes is checked before it trains; a run that fails before its first checkpoint
    /// removes the folder it made (not one it was given); a batch size above the data says it was capped.
    @Test func lateFailuresComeFirst() throws {
        let data = try DataFolder(path: writeSyntheticFolder())
        let blocked = temporaryFolder()
        try FileManager.default.createDirectory(atPath: "\(blocked)/metrics.csv", withIntermediateDirectories: false)
        #expect(throws: DendriteError.io(path: "\(blocked)/metrics.csv", problem: "is a folder, not a file")) {
            _ = try Trainer(options: options(blocked), data: data, backend: Backends.c) { _ in }
        }

        var diverging = options(temporaryFolder() + "/new-run")
        diverging.configuration.optimizer = .sgd
        diverging.configuration.learningRate = 1e30
        #expect(throws: DendriteError.self) { _ = try Trainer(options: diverging, data: data, backend: Backends.c) { _ in }.run() }
        #expect(!FileManager.default.fileExists(atPath: diverging.runDirectory), "the run folder it made is left behind")
        diverging.runDirectory = temporaryFolder()
        #expect(throws: DendriteError.self) { _ = try Trainer(options: diverging, data: data, backend: Backends.c) { _ in }.run() }
        #expect(FileManager.default.fileExists(atPath: diverging.runDirectory), "a folder it was given is removed")

        var large = options(temporaryFolder(), epochs: 1)
        large.configuration.batchSize = 1000
        var lines: [String] = []
        _ = try Trainer(options: large, data: data, backend: Backends.c) { lines.append($0) }
        #expect(lines == ["--batch-size 1000 is capped at the 256 training images: one batch per epoch"])
    }
}

import Foundation
import Testing
@testable import Dendrite

/// The built `dendrite` binary on bad flags and bad data: a non-zero exit and one "Error:" line naming the flag
/// or file, never a crash. `swift test` builds the executable next to the test binary.
@Suite struct CLITests {
    static let data = writeSyntheticFolder(train: 64, test: 16)

    /// Runs `dendrite` and returns its exit status and its output (stdout and stderr together); with
    /// `memoryLimit`, under that limit of virtual memory (`ulimit -v`, in kB).
    func dendrite(_ arguments: [String], memoryLimit: Int? = nil) throws -> (status: Int32, output: String) {
        guard let memoryLimit else { return try runProcess(dendriteExecutable(), arguments) }
        return try runProcess("/bin/sh", ["-c", "ulimit -v \(memoryLimit) && exec \"$0\" \"$@\"", dendriteExecutable()] + arguments)
    }

    @discardableResult
    func expectError(_ arguments: [String], mentioning text: String, memoryLimit: Int? = nil) throws -> String {
        let (status, output) = try dendrite(arguments, memoryLimit: memoryLimit)
        #expect(status != 0, "\(arguments) exited 0: \(output)")
        let errors = output.split(separator: "\n").filter { $0.hasPrefix("Error: ") }
        #expect(errors.count == 1 && errors[0].contains(text), "\(arguments): expected one error naming '\(text)': \(output)")
        #expect(!output.contains("Fatal error") && !output.contains("Backtrac"), "\(arguments) crashed: \(output)")
        return output
    }

    static let badFlags: [(String, String)] = [
        ("--batch-size", "0"), ("--batch-size", "-1"), ("--batch-size", "x"), ("--epochs", "-3"),
        ("--threads", "0"), ("--threads", "-2"), ("--threads", "100000"), ("--backend", "cuda"), ("--activation", "softmax"),
        ("--activation", "identity"), ("--hidden", "256,,256"), ("--hidden", "abc"), ("--hidden", "-5"), ("--lr", "0"), ("--lr", "-1"), ("--lr", "nan"), ("--lr", "inf"),
        ("--momentum", "1"), ("--initializer", "zeros"), ("--optimizer", "rmsprop"), ("--checkpoint-every", "-1"),
        ("--log-every", "-1"), ("--seed", "-1"),
    ]

    @Test(arguments: badFlags) func badFlagIsAnArgumentError(flag: String, value: String) throws {
        try expectError(["train", "--data", CLITests.data, flag, value], mentioning: flag)
    }

    @Test func hugeModelIsRefusedBeforeAllocating() throws {
        try expectError(["train", "--data", CLITests.data, "--hidden", "16000000,16000000", "--checkpoint-dir", temporaryFolder()],
                        mentioning: "use smaller layers or a smaller --batch-size")
        try expectError(["train", "--data", CLITests.data, "--hidden", "100000000000", "--checkpoint-dir", temporaryFolder()],
                        mentioning: "model layer 0 (dense 100000000000): units must be between 1 and")
    }

    /// Each damage gets a fresh copy of the synthetic folder; the message must name the damaged file.
    static let damages: [(name: String, file: String, damage: @Sendable (String) throws -> Void)] = [
        ("missing file", "t10k-labels-idx1-ubyte", { try FileManager.default.removeItem(atPath: $0) }),
        ("truncated", "train-images-idx3-ubyte", { try write($0, Array(read($0).prefix(100))) }),
        ("wrong magic", "train-labels-idx1-ubyte", { var b = try read($0); b[2] = 9; try write($0, b) }),
        ("corrupt gzip", "train-images-idx3-ubyte.gz", { try write($0, gzipped(read(String($0.dropLast(3)))).prefix(40) + [1, 2, 3]) }),
        ("count mismatch", "train-labels-idx1-ubyte", { try write($0, idxBytes(dimensions: [3], payload: [0, 1, 2])) }),
        ("label out of range", "t10k-labels-idx1-ubyte", { try write($0, idxBytes(dimensions: [16], payload: [UInt8](repeating: 9, count: 16))) }),
        ("zero images", "train-images-idx3-ubyte", { try write($0, idxBytes(dimensions: [0, 6, 6], payload: [])) }),
        ("stray label", "train-labels-idx1-ubyte", { var b = try read($0); b[9] = 255; try write($0, b) }),
        ("folder", "train-images-idx3-ubyte", {
            try FileManager.default.removeItem(atPath: $0)
            try FileManager.default.createDirectory(atPath: $0, withIntermediateDirectories: false)
        }),
    ]

    @Test(arguments: damages.map(\.name)) func badDataNamesTheFile(damage name: String) throws {
        let folder = writeSyntheticFolder(train: 64, test: 16)
        let (_, file, damage) = CLITests.damages.first { $0.name == name }!
        try damage("\(folder)/\(file)")
        if file.hasSuffix(".gz") { try FileManager.default.removeItem(atPath: "\(folder)/\(file.dropLast(3))") }
        try expectError(["train", "--data", folder, "--checkpoint-dir", temporaryFolder()], mentioning: "\(folder)/\(file)")
    }

    /// Issue 16, item 9: `--classes` accepts the labels that the inferred class count refuses.
    @Test func classesFlagOverridesTheInferredCount() throws {
        let folder = writeSyntheticFolder(train: 64, test: 16)
        var labels = try read("\(folder)/train-labels-idx1-ubyte")
        labels[9] = 255
        try write("\(folder)/train-labels-idx1-ubyte", labels)
        let run = temporaryFolder()
        let (status, output) = try dendrite(["train", "--data", folder, "--classes", "256", "--batch-size", "16",
                                             "--log-every", "0", "--checkpoint-dir", run])
        #expect(status == 0, "\(output)")
        #expect(try Checkpoint.read(path: #require(Checkpoint.files(in: run).last)).configuration.classes == 256)
        try expectError(["train", "--data", folder, "--classes", "200", "--checkpoint-dir", temporaryFolder()],
                        mentioning: "label 255 is outside the 200 classes")
    }

    /// Issue 16, item 3: a gzip bomb (1 MB inflating to 1 GB of zeros) fails at its first bytes, well within
    /// a memory limit of 500 MB (the whole run needs less than 100 MB).
    @Test func gzipBombFailsAtOnceUnderAMemoryLimit() throws {
        let folder = writeSyntheticFolder(train: 64, test: 16)
        let member = gzipped([UInt8](repeating: 0, count: 1 << 20))
        try write("\(folder)/train-images-idx3-ubyte.gz", Array([[UInt8]](repeating: member, count: 1024).joined()))
        try FileManager.default.removeItem(atPath: "\(folder)/train-images-idx3-ubyte")
        try expectError(["train", "--data", folder, "--checkpoint-dir", temporaryFolder()],
                        mentioning: "train-images-idx3-ubyte.gz: wrong magic number 0x00000000", memoryLimit: 500_000)
    }

    /// Starts `dendrite` in the background and reads its output until `text` appears. (The signal tests run
    /// 500 epochs, 2000 steps: long enough for the signal to land early, and without one the run ends.)
    func start(_ arguments: [String], waitingFor text: String) throws -> (process: Process, output: FileHandle, seen: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try dendriteExecutable())
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        var seen = ""
        while !seen.contains(text) {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        return (process, pipe.fileHandleForReading, seen)
    }

    /// Issue 16, item 8: SIGINT or SIGTERM ends a run after the current step with a checkpoint, named, and exit
    /// 128 + the signal; resuming from it gives the final checkpoint of an uninterrupted run, byte for byte.
    static let stopSignals: [(Int32, Int32)] = [(SIGINT, 130), (SIGTERM, 143)]

    @Test(arguments: stopSignals) func signalStopsAfterACheckpoint(signal: Int32, status: Int32) throws {
        let folder = temporaryFolder()
        let common = ["train", "--data", CLITests.data, "--batch-size", "16", "--seed", "3"]  // 4 batches per epoch
        let (process, output, seen) = try start(common + ["--epochs", "500", "--log-every", "1", "--checkpoint-dir", folder],
                                                waitingFor: "Epoch:")
        kill(process.processIdentifier, signal)
        let text = seen + String(decoding: output.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == status, "\(text)")
        let saved = try Checkpoint.read(path: #require(Checkpoint.files(in: folder).last))
        let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
        #expect(text.contains("Stopped by \(name) after step \(saved.step) (epoch \(saved.epoch), batch \(saved.batch)): checkpoint "
            + "\(folder)/\(Checkpoint.fileName(step: saved.step)); continue with --resume\n"), "\(text)")
        let epochs = ["--epochs", String(saved.epoch + 1), "--log-every", "0"]
        let reference = temporaryFolder()
        #expect(try dendrite(common + epochs + ["--checkpoint-dir", folder, "--resume"]).status == 0)
        #expect(try dendrite(common + epochs + ["--checkpoint-dir", reference]).status == 0)
        let final = Checkpoint.fileName(step: 4 * (saved.epoch + 1))
        #expect(FileManager.default.contents(atPath: "\(folder)/\(final)") == FileManager.default.contents(atPath: "\(reference)/\(final)"))
    }

    /// Issue 16, item 8: a second signal ends the run at once. Both arrive while the process is stopped, so they
    /// are handled together on SIGCONT: the first asks for a stop, the second exits before any step could end.
    @Test func secondSignalExitsAtOnce() throws {
        let (process, output, seen) = try start(["train", "--data", CLITests.data, "--batch-size", "16", "--epochs", "500",
                                                 "--log-every", "1", "--checkpoint-dir", temporaryFolder()], waitingFor: "Epoch:")
        for signal in [SIGSTOP, SIGINT, SIGTERM, SIGCONT] { kill(process.processIdentifier, signal) }
        let text = seen + String(decoding: output.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && [130, 143].contains(process.terminationStatus), "\(process.terminationStatus)")
        #expect(!text.contains("Stopped by"), "\(text)")
    }

    /// Issue 16, item 10: an unwritable --trace fails before training (no run folder is made).
    @Test func unwritableTraceFailsFirst() throws {
        let folder = temporaryFolder() + "/run"
        try expectError(["train", "--data", CLITests.data, "--trace", "/nonexistent/trace.json", "--checkpoint-dir", folder],
                        mentioning: "--trace /nonexistent/trace.json: its folder /nonexistent does not exist")
        #expect(!FileManager.default.fileExists(atPath: folder))
    }

    /// `bench --serve-steps` (scripts/race-pytorch.py's other side) answers each "STEPS THREADS" line with two
    /// step times, median then fastest; a malformed line gets an error line and the server carries on.
    @Test func stepServerAnswersEachRequest() throws {
        let (status, output) = try runProcess("/bin/sh", ["-c", "printf '2 1\\n0 1\\nx\\n3 2\\n' | exec \"$0\" bench --allow-debug --serve-steps mlp",
                                                          dendriteExecutable()])
        #expect(status == 0, "\(output)")
        let lines = output.split(separator: "\n").filter { !$0.hasPrefix("!!") }
        #expect(lines.count == 4, "\(output)")
        let answers = lines.filter { !$0.hasPrefix("error: ") }.map { $0.split(separator: " ").compactMap { Double($0) } }
        #expect(answers.count == 2 && lines[1].hasPrefix("error: ") && lines[2].hasPrefix("error: "), "\(output)")
        for times in answers {
            #expect(times.count == 2 && times[1] > 0 && times[0] >= times[1], "\(output)")
        }
        try expectError(["bench", "--allow-debug", "--serve-steps", "resnet"], mentioning: "'resnet' is not a model")
    }

    @Test func missingDataFolderIsNamed() throws {
        try expectError(["train", "--data", "/nonexistent", "--checkpoint-dir", temporaryFolder()], mentioning: "/nonexistent")
    }

    /// `eval` (and its alias `evaluate`) on the checkpoint a run ends with prints the test loss and accuracy
    /// that the run printed last.
    @Test func evalReproducesTheRunsTestLoss() throws {
        let folder = temporaryFolder()
        let (status, output) = try dendrite(["train", "--data", CLITests.data, "--batch-size", "16",
                                             "--checkpoint-dir", folder, "--log-every", "0"])
        #expect(status == 0, "\(output)")
        let lastLine = try #require(output.split(separator: "\n").last { $0.hasPrefix("test_loss: ") })
        let figures = try #require(lastLine.split(separator: " (").first)
        let checkpoint = try #require(Checkpoint.files(in: folder).last)
        for command in ["eval", "evaluate"] {
            let evaluated = try dendrite([command, "--checkpoint", checkpoint, "--data", CLITests.data])
            #expect(evaluated.status == 0 && evaluated.output.hasPrefix(figures + " ("), "\(command): \(evaluated.output)")
        }
        try expectError(["eval", "--checkpoint", "\(folder)/none.safetensors", "--data", CLITests.data],
                        mentioning: "\(folder)/none.safetensors")
    }

    /// A diverging run stops naming the step and the op, and keeps its earlier checkpoints loadable.
    @Test(arguments: [["--lr", "1e6"], ["--optimizer", "sgd", "--lr", "1e30"]]) func divergenceStops(flags: [String]) throws {
        let folder = temporaryFolder()
        let output = try expectError(["train", "--data", CLITests.data, "--batch-size", "16", "--epochs", "20",
                                      "--checkpoint-every", "1", "--checkpoint-dir", folder, "--log-every", "0"] + flags,
                                     mentioning: "the last good checkpoint")
        #expect(output.contains("step ") && output.contains(".forward"), "\(output)")
        for file in Checkpoint.files(in: folder) { _ = try Checkpoint.read(path: file) }
    }
}

private func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
private func write(_ path: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

import ArgumentParser
import Dendrite
import Foundation

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model (default: the lab's MLP, 784-256-256-10, ReLU, Adam 0.001, batch 128) on MNIST-format or CIFAR-10 data.")

    @Option(help: "Folder with the four MNIST-format files or the six CIFAR-10 batch files (plain or .gz; see the README).")
    var data = DataFolder.defaultPath
    // Numeric options parse `.unconditional`ly so that "--epochs -2" reaches validate() and its clear message,
    // rather than "-2" being taken for a flag ("Missing value for '--epochs'").
    @Option(parsing: .unconditional, help: "Epochs to train (a resumed run continues up to this count; 0 evaluates the starting weights).")
    var epochs = 1
    @Option(parsing: .unconditional, help: "Examples per batch.")
    var batchSize = 128
    @Option(parsing: .unconditional, help: "Learning rate.")
    var lr: Float = 0.001
    @Option(parsing: .unconditional, help: "Momentum for --optimizer sgd.")
    var momentum: Float = 0
    @OptionGroup var modelOptions: ModelOptions
    @Option(parsing: .unconditional, help: "Number of classes (default: the largest training label + 1, every class below it having an example).")
    var classes: Int?
    @Option(help: "Optimizer: adam | sgd.")
    var optimizer = "adam"
    @OptionGroup var backendOptions: BackendOptions
    @Option(parsing: .unconditional, help: "Seed of the weights and the shuffling.")
    var seed: UInt64 = 0
    @Option(help: "Folder for checkpoints and metrics (default: a new runs/run-N).")
    var checkpointDir: String?
    @Option(parsing: .unconditional, help: "Also checkpoint every N steps (0: at the end of each epoch only).")
    var checkpointEvery = 0
    @Flag(help: "Continue from the latest checkpoint (of --checkpoint-dir, else of the newest runs/run-N).")
    var resume = false
    @Option(parsing: .unconditional, help: "Print a log line every N steps (0: none).")
    var logEvery = 100
    @Flag(help: "With each log line, print each layer's weight-gradient norm.")
    var logGradNorms = false
    @Option(help: "Start from the weights of this safetensors file.")
    var weights: String?
    @Flag(help: "Print a per-op time table at the end.")
    var profile = false
    @Option(help: "Write a Chrome trace (chrome://tracing, Perfetto) of every op to this file.")
    var trace: String?

    func validate() throws {
        guard epochs >= 0 else { throw ValidationError("--epochs must be at least 0, got \(epochs)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive number, got \(lr)") }
        guard momentum >= 0, momentum < 1 else { throw ValidationError("--momentum must be in [0, 1), got \(momentum)") }
        guard OptimizerKind(rawValue: optimizer) != nil else {
            throw ValidationError("--optimizer: unknown optimizer '\(optimizer)'; valid: adam, sgd")
        }
        if let classes, classes < 1 { throw ValidationError("--classes must be at least 1, got \(classes)") }
        guard logEvery >= 0 else { throw ValidationError("--log-every must be >= 0, got \(logEvery)") }
        guard checkpointEvery >= 0 else { throw ValidationError("--checkpoint-every must be >= 0, got \(checkpointEvery)") }
    }

    func run() throws {
        let group = try ProcessGroup.join()
        do {
            try train(group: group)
            group.finish()
        } catch let failure as AgreedFailure {
            // Every rank stopped here together: rank 0 reports it before MPI_Finalize (which waits for every
            // rank), so mpirun cannot end the job on another rank's exit status before the message is out.
            if group.isMain { FileHandle.standardError.write(Data("Error: \(failure)\n".utf8)) }
            group.finish()
            throw ExitCode.failure
        } catch where group.isDistributed {
            // The other ranks would wait for this one forever: say why, then end the whole job.
            FileHandle.standardError.write(Data("Error (rank \(group.rank) of \(group.size)): \(error)\n".utf8))
            group.abort(code: 1)
        }
    }

    private func train(group: ProcessGroup) throws {
        // A data-parallel run keeps the signals' default actions: its ranks could see one at different steps.
        if !group.isDistributed { StopRequest.install() }
        if group.isMain, let trace, let problem = writableFileProblem(at: trace) {
            throw ValidationError("--trace \(trace): \(problem)")
        }
        let backend = try backendOptions.makeBackend()
        // Rank 0 alone speaks for a data-parallel run.
        let say: (String) -> Void = group.isMain ? { print($0); fflush(stdout) } : { _ in }
        say("Loading \(data) …")
        let folder = try DataFolder(path: data, classes: classes)
        var configuration = TrainingConfiguration()
        configuration.model = try modelOptions.spec(classes: folder.train.classCount)
        configuration.optimizer = OptimizerKind(rawValue: optimizer)!
        configuration.learningRate = lr
        configuration.momentum = momentum
        configuration.batchSize = batchSize
        configuration.epochs = epochs
        configuration.seed = seed

        var options = TrainingOptions(runDirectory: group.isMain ? try runDirectory() : "")
        options.configuration = configuration
        options.checkpointEvery = checkpointEvery
        options.resume = resume
        options.initialWeights = weights
        options.logEvery = logEvery
        options.logGradientNorms = logGradNorms
        options.progressBar = isatty(STDOUT_FILENO) == 1
        options.profiler = profile || trace != nil ? Profiler() : nil
        options.group = group
        let trainer = try Trainer(options: options, data: folder, backend: backend, print: say)
        say(try ModelSummary(spec: configuration.model, inputShape: folder.train.exampleShape,
                             classes: folder.train.classCount).render())
        let processes = group.isDistributed ? ", \(group.size) processes (data-parallel over MPI)" : ""
        say("Training on \(folder.train.count) images (\(optimizer) lr \(lr), batch \(batchSize), seed \(seed)), "
            + "backend \(backend.name), \(Threads.count) thread\(Threads.count == 1 ? "" : "s")\(processes); run folder \(options.runDirectory)")
        let summary: TrainingSummary
        do { summary = try trainer.run() } catch DendriteError.stopped(let signal, let message) {
            say(message)
            throw ExitCode(128 + signal)
        }
        say(String(format: "test_loss: %.8f, test_accuracy: %.4f (%d images)", summary.testLoss, summary.testAccuracy, folder.test.count))
        if summary.stepsThisRun == 0 {
            say("nothing left to train: the run already has its \(epochs) epoch\(epochs == 1 ? "" : "s"); pass a larger --epochs to continue it")
        } else {
            let total = summary.steps == summary.stepsThisRun ? "" : " (\(summary.steps) in all)"
            say(String(format: "train time: %.2f s for %d steps%@, %.0f samples/s (evaluation excluded)",
                       summary.trainSeconds, summary.stepsThisRun, total, summary.samplesPerSecond))
        }
        say("metrics: \(options.runDirectory)/metrics.csv, \(options.runDirectory)/metrics.svg")
        if let profiler = options.profiler {
            if profile { say(ProfileTable(profiler: profiler).render()) }
            if let trace {
                // One process per rank in one file, written by rank 0.
                let events = group.gatherToMain(Array(ChromeTrace.events(profiler, process: group.rank).joined(separator: ",\n").utf8))
                if group.isMain {
                    try AtomicFile.write(Array(ChromeTrace.document(events.map { String(decoding: $0, as: UTF8.self) }).utf8),
                                         to: trace)
                    say("trace: \(trace)")
                }
            }
        }
    }

    /// --checkpoint-dir, else the newest runs/run-N when resuming, else a new runs/run-N.
    func runDirectory() throws -> String {
        if let checkpointDir { return checkpointDir }
        let numbers = ((try? FileManager.default.contentsOfDirectory(atPath: "runs")) ?? [])
            .compactMap { $0.hasPrefix("run-") ? Int($0.dropFirst(4)) : nil }
        if resume {
            guard let newest = numbers.max() else {
                throw ValidationError("--resume: no runs/run-N folder here; pass --checkpoint-dir")
            }
            return "runs/run-\(newest)"
        }
        return "runs/run-\((numbers.max() ?? 0) + 1)"
    }
}

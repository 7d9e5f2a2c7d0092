import Foundation

/// Options of a training run beyond its configuration: where checkpoints go and what gets printed.
public struct TrainingOptions {
    public var configuration = TrainingConfiguration()
    /// Holds checkpoints, metrics.csv and metrics.svg.
    public var runDirectory: String
    /// Save every N steps (0: only at the end of each epoch and of the run).
    public var checkpointEvery = 0
    /// Continue from the latest checkpoint in `runDirectory`.
    public var resume = false
    /// A safetensors file to start from (instead of the initializer's weights).
    public var initialWeights: String?
    /// Print a log line every N steps (0: never).
    public var logEvery = 100
    public var logGradientNorms = false
    /// Draw a live progress bar (when stdout is a terminal).
    public var progressBar = false
    public var profiler: Profiler?
    /// Stops after this many steps of this process without a final checkpoint (tests simulate a kill with it).
    public var stopAfterSteps: Int?
    /// The processes training together (data-parallel under `mpirun`); rank 0 alone prints and writes files.
    public var group = ProcessGroup.single

    public init(runDirectory: String) { self.runDirectory = runDirectory }
}

/// What a finished run reports.
public struct TrainingSummary {
    public var testLoss: Double, testAccuracy: Double
    public var trainSeconds: Double, samplesPerSecond: Double
    /// Optimizer steps in all, and those this process took (fewer after a resume).
    public var steps: Int, stepsThisRun: Int
    public var stoppedEarly: Bool
}

/// The training loop: shuffled batches, forward, softmax cross-entropy, backward, optimizer step; with
/// logging, checkpoints and exact resume. Bitwise reproducible for a given seed, backend, thread count and
/// number of processes.
public final class Trainer {
    public let options: TrainingOptions
    public let model: Sequential
    public let optimizer: Optimizer
    public let backend: Backend
    private let data: DataFolder
    private let trainingStep: TrainingStep
    private var tape: Tape { trainingStep.tape }
    private let batcher: Batcher
    private let evaluator: Evaluator
    private let print: (String) -> Void
    private let group: ProcessGroup
    private var metrics = MetricsLog()
    private var epoch = 0, batch = 0
    private var lastCheckpoint: String?
    /// Held from the trainer's creation to the end of its run: no other run writes into the folder meanwhile.
    private var runLock: RunLock?
    /// Whether this trainer made the run folder, and has written a checkpoint into it: a run that fails
    /// before its first checkpoint removes the folder it made, leaving no husk for the next run to trip on.
    private var createdRunFolder = false, wroteCheckpoint = false
    /// Checkpoints kept in the folder; older ones are removed after a newer one is safely written.
    static let checkpointsKept = 3

    public init(options: TrainingOptions, data: DataFolder, backend: Backend, print: @escaping (String) -> Void) throws {
        var options = options
        options.configuration.inputShape = data.train.exampleShape
        options.configuration.classes = data.train.classCount
        options.configuration.backend = backend.name
        options.configuration.threads = Threads.count
        options.configuration.processes = options.group.size
        self.options = options
        self.data = data
        self.backend = backend
        group = options.group
        self.print = options.group.isMain ? print : { _ in }
        let configuration = options.configuration
        guard configuration.batchSize > 0, configuration.epochs >= 0 else {
            throw DendriteError.invalidArgument("the batch size must be > 0 and epochs >= 0")
        }
        guard group.size <= configuration.batchSize else {
            throw DendriteError.invalidArgument("\(group.size) processes cannot share a batch of \(configuration.batchSize) "
                + "examples; use at most \(configuration.batchSize) processes or a larger --batch-size")
        }
        try Trainer.checkMemory(configuration)
        model = try configuration.makeModel()
        optimizer = configuration.makeOptimizer(for: model.parameters)
        let sync = group.isDistributed ? try GradientSync(group: group, arena: optimizer.arena, elementwise: backend.elementwise) : nil
        // DENDRITE_OVERLAP=0 holds every exchange until backward is over (scripts/bench-data-parallel.sh measures the difference).
        sync?.overlapsBackward = ProcessInfo.processInfo.environment["DENDRITE_OVERLAP"] != "0"
        trainingStep = TrainingStep(model: model, optimizer: optimizer, backend: backend, profiler: options.profiler,
                                    gradientSync: sync, batchSize: configuration.batchSize)
        trainingStep.seed = configuration.seed
        batcher = Batcher(dataset: data.train, batchSize: configuration.batchSize, group: group)
        evaluator = Evaluator(model: model, dataset: data.test, backend: backend, profiler: options.profiler, group: group)
        if group.isDistributed {
            do { try DataParallelChecks.checkSameRun(configuration, data: data, group: group) } catch { throw AgreedFailure(error) }
        }
        if configuration.batchSize > data.train.count {
            print("--batch-size \(configuration.batchSize) is capped at the \(data.train.count) training images: one batch per epoch")
        }
        if group.isMain {
            do { try prepareRunDirectory() } catch {
                removeRunFolderIfUnused()
                throw error
            }
        }
        if group.isDistributed { try startFromRankZero() }
    }

    /// Every rank starts where rank 0 does: its weights, optimizer state and position (after a resume or
    /// --weights; with the same seed and no file they are equal anyway, and this checks nothing else).
    private func startFromRankZero() throws {
        var position = [UInt64(epoch), UInt64(batch), UInt64(optimizer.step)]
        position.withUnsafeMutableBytes { group.broadcast($0) }
        (epoch, batch, optimizer.step) = (Int(position[0]), Int(position[1]), Int(position[2]))
        group.broadcast(UnsafeMutableRawBufferPointer(start: optimizer.arena.values.pointer,
                                                      count: optimizer.arena.count * MemoryLayout<Float>.stride))
        for (_, tensor) in optimizer.state {
            var window = tensor
            group.broadcast(UnsafeMutableRawBufferPointer(start: window.mutablePointer,
                                                          count: window.count * MemoryLayout<Float>.stride))
        }
    }

    /// A model or batch too large for this machine would end in a failed allocation, which Swift reports as a
    /// fatal error with a stack trace: refuse it up front, with the sizes.
    static func checkMemory(_ configuration: TrainingConfiguration) throws {
        let layers = try configuration.model.resolve(inputShape: configuration.inputShape, classes: configuration.classes)
        let parameters = Double(layers.reduce(0) { $0 + $1.parameterCount })
        var perExample = Double(configuration.inputShape.reduce(1, *))
        var input = configuration.inputShape
        for layer in layers {
            perExample += Double(layer.outputShape.reduce(1, *))
            if case .conv(_, let kernel, _, _, _, _) = layer.spec {  // its unfolded input (im2col)
                perExample += Double(layer.outputShape[0] * layer.outputShape[1] * kernel.rows * kernel.cols * input[2])
            }
            input = layer.outputShape
        }
        let activations = Double(configuration.batchSize) * perExample
        // Per parameter: value, gradient, two optimizer moments; per activation: outputs, gradients, temporaries.
        let bytes = 4 * (4 * parameters + 4 * activations)
        let available = Double(ProcessInfo.processInfo.physicalMemory)
        guard bytes < available else {
            throw DendriteError.invalidArgument(String(format:
                "the model (%.0f parameters) with batch size %ld needs about %.3g GB of memory, this machine has %.3g GB; "
                + "use smaller layers or a smaller --batch-size", parameters, configuration.batchSize, bytes / 1e9, available / 1e9))
        }
    }

    // MARK: - Run directory and checkpoints

    private func prepareRunDirectory() throws {
        let folder = options.runDirectory
        createdRunFolder = !somethingExists(at: folder)
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            // Foundation's error says only "error 512"; mkdir's errno names the cause (not a directory, read-only…).
            let reason = mkdir(folder, 0o755) == 0 ? error.localizedDescription : String(cString: strerror(errno))
            throw DendriteError.io(path: folder, problem: "cannot create the run folder (\(reason))")
        }
        guard access(folder, W_OK) == 0 else {
            throw DendriteError.io(path: folder, problem: "the run folder is not writable (\(String(cString: strerror(errno))))")
        }
        runLock = try RunLock(folder: folder)  // before anything in the folder is read or changed
        // What the run writes must be writable as a file: found out now, not after an epoch of training.
        for name in [MetricsLog.csvFileName, MetricsLog.svgFileName, Trainer.modelFileName] {
            let path = "\(folder)/\(name)"
            if somethingExists(at: path), let problem = regularFileProblem(at: path) {
                throw DendriteError.io(path: path, problem: problem)
            }
        }
        // A run killed while writing a checkpoint leaves its temporary file (a full checkpoint's size) behind.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        where name.hasPrefix(".checkpoint-") && name.contains(".tmp-") {
            try? FileManager.default.removeItem(atPath: "\(folder)/\(name)")
        }
        let existing = Checkpoint.files(in: folder)
        if options.resume {
            let (checkpoint, path, skipped) = try ResumePoint.latest(in: folder)
            for problem in skipped { print("Skipped \(problem)") }
            try restore(checkpoint, from: path)
        } else {
            guard existing.isEmpty else {
                throw DendriteError.invalidArgument(
                    "\(folder) already holds checkpoints of a run; pass --resume to continue it, or choose another --checkpoint-dir")
            }
            if let weights = options.initialWeights {
                let (tensors, _) = try Safetensors.read(path: weights)
                let configuration = options.configuration
                try Checkpoint.load(tensors, into: model, spec: configuration.model, inputShape: configuration.inputShape,
                                    classes: configuration.classes, path: weights,
                                    cause: "were these weights made for another model? check --model, --layers or --hidden")
            }
            try AtomicFile.write(Array(options.configuration.model.json.utf8), to: "\(folder)/\(Trainer.modelFileName)")
        }
    }

    /// The model spec's file in the run folder, for `--model` (and for people).
    public static let modelFileName = "model.json"

    private func restore(_ checkpoint: Checkpoint, from path: String) throws {
        let problems = options.configuration.resumeMismatches(checkpoint.configuration)
        guard problems.isEmpty else {
            throw DendriteError.checkpoint(path: path, problem: "belongs to another run: " + problems.joined(separator: "; "))
        }
        try ResumePoint.check(checkpoint, path: path, trainingImages: data.train.count, batchSize: options.configuration.batchSize)
        let configuration = options.configuration
        try Checkpoint.load(checkpoint.tensors, into: model, spec: configuration.model, inputShape: configuration.inputShape,
                            classes: configuration.classes, path: path, cause: "the file is inconsistent")
        do { try optimizer.restore(state: checkpoint.tensors) } catch let error as DendriteError {
            throw DendriteError.checkpoint(path: path, problem: error.description)
        }
        optimizer.step = checkpoint.step
        epoch = checkpoint.epoch
        batch = checkpoint.batch
        lastCheckpoint = path
        let csv = "\(options.runDirectory)/\(MetricsLog.csvFileName)"
        if FileManager.default.fileExists(atPath: csv) {
            metrics = (try? MetricsLog(csvAt: csv, upToStep: checkpoint.step)) ?? MetricsLog()
        }
        print("Resuming \(path): epoch \(epoch), batch \(batch), step \(checkpoint.step)")
        let saved = checkpoint.configuration
        if saved.processes != group.size || saved.threads != Threads.count || saved.backend != backend.name {
            print("note: the run was trained with \(saved.processes) process(es), \(saved.threads) thread(s) and backend "
                + "\(saved.backend), now \(group.size), \(Threads.count) and \(backend.name): it continues correctly, "
                + "but not bitwise as an uninterrupted run would (the sums are taken in another order)")
        }
    }

    private func saveCheckpoint() throws {
        // Every rank takes part: in a data-parallel run each rank's optimizer holds its own shard of the state.
        trainingStep.gradientSync?.gatherOptimizerState(optimizer.stateArenas)
        guard group.isMain else { return }
        // Never let a diverged model replace a good checkpoint.
        for parameter in model.parameters
        where !backend.elementwise.sumOfSquares(parameter.value.pointer, count: parameter.value.count).isFinite {
            let keep = lastCheckpoint.map { "; the last good checkpoint \($0) is kept" } ?? ""
            throw DendriteError.numerical("step \(optimizer.step): \(parameter.name) holds non-finite values after "
                + "\(options.configuration.optimizer).step (learning rate \(options.configuration.learningRate) too high?)" + keep)
        }
        var tensors: [String: Tensor] = [:]
        var order: [String] = []
        for variable in model.parameters + model.buffers {
            tensors[variable.name] = variable.value
            order.append(variable.name)
        }
        for (name, tensor) in optimizer.state {
            tensors[name] = tensor
            order.append(name)
        }
        let checkpoint = Checkpoint(configuration: options.configuration, epoch: epoch, batch: batch,
                                    step: optimizer.step, generatorState: Trainer.shuffleGenerator(options.configuration.seed, epoch: epoch).state,
                                    tensors: tensors)
        let path = "\(options.runDirectory)/\(Checkpoint.fileName(step: optimizer.step))"
        try checkpoint.write(to: path, order: order)
        try metrics.write(to: options.runDirectory)
        lastCheckpoint = path
        wroteCheckpoint = true
        // Files named after later steps (left behind when a resume skipped them) wait to be overwritten.
        let upToNow = Checkpoint.files(in: options.runDirectory)
            .filter { Checkpoint.step(fromFileName: ($0 as NSString).lastPathComponent)! <= optimizer.step }
        for old in upToNow.dropLast(Trainer.checkpointsKept) {
            try? FileManager.default.removeItem(atPath: old)
        }
    }

    private func removeRunFolderIfUnused() {
        guard createdRunFolder && !wroteCheckpoint else { return }
        try? FileManager.default.removeItem(atPath: options.runDirectory)
        runLock = nil
    }

    /// Each epoch shuffles with its own generator derived from the seed, so a resumed run can rebuild the
    /// order of any epoch without replaying the ones before it.
    static func shuffleGenerator(_ seed: UInt64, epoch: Int) -> SeededGenerator {
        SeededGenerator(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(epoch + 1))
    }

    // MARK: - The loop

    /// Trains to the configured epochs. A SIGINT or SIGTERM (with ``StopRequest`` installed) ends the run after
    /// the current step and a checkpoint, throwing ``DendriteError/stopped(signal:message:)``.
    public func run() throws -> TrainingSummary {
        if group.isMain && runLock == nil { runLock = try RunLock(folder: options.runDirectory) }
        defer { runLock = nil }  // a run that has ended writes nothing more: another may continue it
        do { return try loop() } catch {
            removeRunFolderIfUnused()
            throw error
        }
    }

    private func loop() throws -> TrainingSummary {
        let configuration = options.configuration
        let batches = batcher.batchesPerEpoch
        // Under mpirun a rank's output goes through a pseudo-terminal whatever mpirun's own output is: no bar.
        var progress = options.progressBar && !group.isDistributed ? ProgressBar(total: batches * configuration.epochs) : nil
        let start = Date()
        var trainSeconds = 0.0, samples = 0, stepsThisRun = 0
        var stoppedEarly = false
        training: while epoch < configuration.epochs {
            var generator = Trainer.shuffleGenerator(configuration.seed, epoch: epoch)
            batcher.startEpoch(shuffle: &generator)
            while batch < batches {
                let stepStart = Profiler.now()
                let logEvery = options.logEvery
                let logging = logEvery > 0 && ((batch + 1) % logEvery == 0 || batch + 1 == batches)
                var gradientNorms: String?
                let outcome = try trainingStep.run(batcher, batch: batch, countCorrect: logging) { loss in
                    guard loss.isFinite, loss < self.divergenceLimit else {
                        let error = self.divergenceError(loss: loss)  // every rank sees the same summed loss
                        throw self.group.isDistributed ? AgreedFailure(error) : error
                    }
                    if logging && options.logGradientNorms { gradientNorms = self.gradientNorms() }
                }
                let (loss, rows, correct) = (outcome.loss, outcome.rows, outcome.correct)
                trainSeconds += Double(Profiler.now() - stepStart) / 1e9
                samples += rows
                stepsThisRun += 1
                batch += 1
                progress?.advance(to: epoch * batches + batch, samplesPerSecond: Double(samples) / trainSeconds)
                if logging {
                    let testAccuracy = evaluator.evaluate().accuracy
                    let trainAccuracy = Double(correct) / Double(rows)
                    progress?.clear()
                    print(String(format: "Epoch: [%2d] [%5d/%5d] train_loss: %.8f, train_accuracy: %.4f, test_accuracy: %.4f",
                                 epoch, batch, batches, loss, trainAccuracy, testAccuracy))
                    if let gradientNorms { print("  grad_norm " + gradientNorms) }
                    metrics.append(.init(epoch: epoch, iteration: batch, step: optimizer.step, trainLoss: Double(loss),
                                         trainAccuracy: trainAccuracy, testAccuracy: testAccuracy,
                                         elapsedSeconds: Date().timeIntervalSince(start)))
                }
                if let stop = options.stopAfterSteps, stepsThisRun >= stop {
                    stoppedEarly = true
                    break training
                }
                if batch == batches {
                    if group.isDistributed {
                        do { try DataParallelChecks.checkSameWeights(optimizer.arena, group: group, epoch: epoch) } catch {
                            throw AgreedFailure(error)
                        }
                    }
                    epoch += 1
                    batch = 0
                }
                let periodic = options.checkpointEvery > 0 && optimizer.step % options.checkpointEvery == 0
                if periodic || batch == 0 { try saveCheckpoint() }
                // Ranks could see a signal at different steps and part ways: a data-parallel run is not stopped here.
                if !group.isDistributed, let signal = StopRequest.signal { try stop(by: signal, saved: periodic || batch == 0) }
                if batch == 0 { continue training }
            }
        }
        progress?.clear()
        let (testLoss, testAccuracy) = evaluator.evaluate()
        if !stoppedEarly && group.isMain { try metrics.write(to: options.runDirectory) }
        return TrainingSummary(testLoss: testLoss, testAccuracy: testAccuracy, trainSeconds: trainSeconds,
                               samplesPerSecond: trainSeconds > 0 ? Double(samples) / trainSeconds : 0,
                               steps: optimizer.step, stepsThisRun: stepsThisRun, stoppedEarly: stoppedEarly)
    }

    private func stop(by signal: Int32, saved: Bool) throws -> Never {
        if !saved { try saveCheckpoint() }
        throw DendriteError.stopped(signal: signal, message: "Stopped by \(StopRequest.name(of: signal)) after step "
            + "\(optimizer.step) (epoch \(epoch), batch \(batch)): checkpoint \(lastCheckpoint!); continue with --resume")
    }

    /// "layers.1.weight: 1.2e-02  layers.3.weight: …" — the weight gradients' L2 norms, first layer first.
    /// In a data-parallel run each rank holds the summed gradients of its shard only: every rank adds up the
    /// squares in its shard and the sums are summed over the ranks.
    private func gradientNorms() -> String {
        let arena = optimizer.arena
        let weights = arena.parameters.indices.filter {
            arena.parameters[$0].name.hasSuffix("weight") && arena.parameters[$0].hasGradient
        }
        var squares = weights.map { index -> Double in
            let part = arena.windowInShard(of: index)
            guard !part.isEmpty else { return 0 }
            let gradient = arena.parameters[index].grad!.pointer + (part.lowerBound - arena.offsets[index])
            return backend.elementwise.sumOfSquares(gradient, count: part.count)
        }
        squares.withUnsafeMutableBufferPointer { group.sum($0) }
        return zip(weights, squares).map { index, sum in
            "\(arena.parameters[index].name): " + String(format: "%.3e", sum.squareRoot())
        }.joined(separator: "  ")
    }

    /// Adam's steps are bounded by the learning rate, so a run with --lr 1e6 can diverge without ever overflowing:
    /// stop when the loss is 10,000 times that of uniform guessing, ln(classes) (logits thousands apart).
    private var divergenceLimit: Float { 1e4 * Swift.max(1, Float(log(Double(options.configuration.classes)))) }

    private func divergenceError(loss: Float) -> DendriteError {
        let culprit = loss.isFinite
            ? "over \(divergenceLimit), training diverged; the largest values came out of \(tape.largestOutput())"
            : "the first non-finite value came out of \(tape.firstNonFiniteOutput() ?? "softmax_ce.forward")"
        let keep = lastCheckpoint.map { "; the last good checkpoint \($0) is kept" } ?? "; no checkpoint was written yet"
        return .numerical("step \(optimizer.step + 1) (epoch \(epoch), batch \(batch)): the loss is \(loss), "
            + "\(culprit) (learning rate \(options.configuration.learningRate) too high?)" + keep)
    }
}

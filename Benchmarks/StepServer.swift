import Dendrite
import Foundation

/// Training steps on request, for a driver that races them against another framework in the same
/// seconds (scripts/race-pytorch.py). On a shared machine whose speed drifts by tens of percent from one
/// minute to the next, two programs timed one after the other measure two machines; bursts of steps
/// alternating between them measure one.
///
/// Protocol, one line each way: the driver writes "STEPS THREADS"; the server runs that many steps of
/// the model on that many threads, as the harness's training-step case does (C backend, batch 128,
/// random images, reshuffled each epoch), and answers "MEDIAN FASTEST" in seconds per step. Its OpenMP
/// workers are then put to sleep, so that they do not spin on the cores while the other framework runs.
/// End of input ends it; a malformed line gets "error: …" and is otherwise ignored.
public enum StepServer {
    public static func run(model name: String, readLine: () -> String?, print: (String) -> Void) throws {
        let model: ModelSpec?
        if name == "mlp" {
            model = nil
        } else {
            guard let preset = ModelSpec.preset(name, classes: TrainingCases.classes) else {
                throw DendriteError.invalidArgument(
                    "--serve-steps: '\(name)' is not a model; valid: mlp, \(ModelSpec.presetNames.joined(separator: ", "))")
            }
            model = preset
        }
        try CKernelSetup.apply()
        let backend = try Backends.named("c")
        let dataset = TrainingCases.syntheticDataset(count: TrainingCases.stepDatasetImages)
        let step = TrainingCases.stepsThroughEpochs(try TrainingCases.makeStep(backend: backend, model: model), dataset)
        // Room for the longest burst, so that recording a step's time never allocates between steps.
        let maxSteps = 1000
        var times: [Double] = []
        times.reserveCapacity(maxSteps)
        while let line = readLine() {
            let fields = line.split(separator: " ").compactMap { Int($0) }
            guard fields.count == 2, (1...maxSteps).contains(fields[0]), (1...1024).contains(fields[1]) else {
                print("error: expected 'STEPS THREADS' (1 to \(maxSteps) steps, 1 to 1024 threads), got '\(line)'")
                continue
            }
            Threads.count = fields[1]
            times.removeAll(keepingCapacity: true)
            for _ in 0..<fields[0] {
                let start = DispatchTime.now().uptimeNanoseconds
                step()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
            }
            times.sort()
            IdleThreads.sleep(after: backend.name)
            print("\(times[times.count / 2]) \(times[0])")
        }
    }
}

import ArgumentParser
import Dendrite
import DendriteBenchmarks
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time every kernel on every backend, training steps and an epoch, against this machine's ceilings.",
        discussion: "Build with -c release: `swift run -c release dendrite bench`. Writes results.json, results.csv and ratios.svg.")

    @Flag(help: "Fewer, shorter samples and no cases larger than the caches (under a minute).")
    var quick = false
    @Option(help: "Run only cases whose name or group contains this, like 'matmul' or '128x784'.")
    var filter: String?
    @Option(help: "Folder for results.json, results.csv and ratios.svg.")
    var output = "bench-results"
    @Option(help: ArgumentHelp("C kernel code paths to race beside the one in use: a comma-separated list of portable, avx2, avx512, or none (default: every other vector path the CPU supports).", valueName: "paths"))
    var paths: String?
    @Flag(help: "Run even in a debug build (its numbers say nothing about the kernels).")
    var allowDebug = false
    @Option(help: ArgumentHelp("Instead of the cases, serve training steps of this model (mlp, lenet5, cnn, cnn-bn) to a race driver (scripts/race-pytorch.py): read 'STEPS THREADS' lines on stdin, answer each with the steps' median and fastest seconds.", valueName: "model"))
    var serveSteps: String?

    func run() throws {
        #if DEBUG
        guard allowDebug else {
            throw ValidationError("this is a debug build, whose timings are meaningless; build with -c release "
                + "(swift run -c release dendrite bench), or pass --allow-debug to run anyway")
        }
        print("!! WARNING: DEBUG BUILD: these timings are not representative of release performance.")
        #endif
        if let serveSteps {
            setvbuf(stdout, nil, _IOLBF, 0)  // each answer reaches the driver as soon as it is printed
            try StepServer.run(model: serveSteps, readLine: { Swift.readLine() }, print: { Swift.print($0) })
            return
        }
        var options = BenchmarkOptions()
        options.quick = quick
        options.filter = filter
        options.outputDirectory = output
        if let paths {
            options.otherPaths = try paths == "none" ? [] : paths.split(separator: ",").map { name in
                guard let path = CodePath(rawValue: String(name)) else {
                    throw ValidationError("--paths: '\(name)' is not a code path; valid: portable, avx2, avx512, none")
                }
                guard path.isSupported else { throw ValidationError("--paths: this CPU lacks the \(path) path") }
                return path
            }
        }
        try Harness.run(options) { print($0) }
    }
}

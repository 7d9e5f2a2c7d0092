import ArgumentParser
import Dendrite
import DendriteBenchmarks

struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search the C GEMM's cache blocking on this machine and store the best for later runs.",
        discussion: """
            Times candidate MC, KC and NC on a few products, interleaved with OpenBLAS, for the code path in use \
            (DENDRITE_ISA picks another), at the thread count given (default: all cores). The result is stored in \
            the tuning file `dendrite info` names, keyed by CPU and code path; DENDRITE_BLOCKING still overrides it. \
            KC changes the bits of training results. Build with -c release.
            """)

    @OptionGroup var backendOptions: BackendOptions
    @Option(help: "Samples per candidate and product.")
    var rounds = 7
    @Flag(help: "Print the best blocking without storing it.")
    var dryRun = false

    func validate() throws {
        guard (1...100).contains(rounds) else { throw ValidationError("--rounds must be between 1 and 100, got \(rounds)") }
    }

    func run() throws {
        #if DEBUG
        throw ValidationError("this is a debug build, whose timings are meaningless; build with -c release")
        #else
        let backend = try backendOptions.makeBackend()
        guard backend.name == "c" else { throw ValidationError("--backend: tune searches the c backend's blocking") }
        var options = BlockingSearch.Options()
        options.rounds = rounds
        let best = try BlockingSearch.run(options) { print($0) }
        let path = CodePath.inUse
        guard !dryRun else {
            print("best MC,KC,NC for the \(path) path: \(best) (not stored: --dry-run)")
            return
        }
        var wisdom = try BlockingWisdom()
        wisdom.record(best, for: path)
        try wisdom.save()
        print("stored MC,KC,NC = \(best) for the \(path) path on this CPU in \(wisdom.file)")
        #endif
    }
}

import ArgumentParser
import Dendrite

/// `--backend` and `--threads`, shared by every command that runs kernels.
struct BackendOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Kernel backend: \(Backends.names.joined(separator: ", ")) (default: $\(Backends.environmentVariable), else c).",
                               valueName: "name"))
    var backend: String?

    @Option(parsing: .unconditional, help: "Threads the kernels use (default: all cores).")
    var threads: Int?

    /// The most threads accepted, as many as the C runtime uses for cores: far beyond any use,
    /// short of asking the system for threads it cannot start.
    static let maxThreads = 1024

    func validate() throws {
        if let backend, !Backends.names.contains(backend) {
            throw ValidationError("--backend: unknown backend '\(backend)'; valid backends: \(Backends.names.joined(separator: ", "))")
        }
        if let threads, !(1...BackendOptions.maxThreads).contains(threads) {
            throw ValidationError("--threads must be between 1 and \(BackendOptions.maxThreads), got \(threads)")
        }
    }

    /// The chosen backend, its thread count set.
    func makeBackend() throws -> Backend {
        let chosen = try Backends.select(backend)
        if let threads { Threads.count = threads }
        return chosen
    }
}

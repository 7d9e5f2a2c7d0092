import ArgumentParser
import Dendrite

/// `--backend` and `--threads`, shared by every command that runs kernels.
struct BackendOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Kernel backend: \(Backends.names.joined(separator: ", ")) (default: $\(Backends.environmentVariable), else c).",
                               valueName: "name"))
    var backend: String?

    @Option(parsing: .unconditional, help: "Threads the kernels use (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let backend, !Backends.names.contains(backend) {
            throw ValidationError("--backend: unknown backend '\(backend)'; valid backends: \(Backends.names.joined(separator: ", "))")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    /// The chosen backend, its thread count set.
    func makeBackend() throws -> Backend {
        let chosen = try Backends.select(backend)
        if let threads { chosen.threads = threads }
        return chosen
    }
}

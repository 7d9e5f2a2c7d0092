import CKernels

/// What a program using the C kernels applies once before its first kernel: it reports a bad
/// `DENDRITE_ISA`, `DENDRITE_BLOCKING` or `DENDRITE_WINOGRAD` (the C library cannot: it falls back to its own choice),
/// and makes each code path whose blocking the environment does not set use the one `dendrite tune`
/// stored for this CPU, if any.
public enum CKernelSetup {
    /// Runs the setup once; later calls return (or throw) the first call's outcome.
    public static func apply() throws { try outcome.get() }

    private static let outcome: Result<Void, Error> = Result {
        if let problem = dk_environment_error() {
            throw DendriteError.invalidArgument(String(cString: problem))
        }
        let wisdom = try BlockingWisdom()
        for path in CodePath.supported where GEMMBlocking.current(for: path).source != .environment {
            if let stored = wisdom.blocking(for: path) {
                try GEMMBlocking.set(stored, for: path, source: .wisdom)
            }
        }
    }
}

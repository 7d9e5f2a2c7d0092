#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Choosing a backend by name: the `--backend` flag, else `DENDRITE_BACKEND`, else `c`.
public enum Backends {
    /// Every backend name, in the order help text lists them.
    public static let names = ["c", "swift", "openblas", "blas"]
    public static let environmentVariable = "DENDRITE_BACKEND"

    /// A backend of that name; an unknown name or a backend that cannot load is an error
    /// that says what is valid. The first call also applies ``CKernelSetup`` (a bad `DENDRITE_ISA`,
    /// `DENDRITE_BLOCKING` or `DENDRITE_WINOGRAD` is an error here).
    public static func named(_ name: String) throws -> Backend {
        try CKernelSetup.apply()
        switch name {
        case "c": return c
        // The build of the C kernels' code path: the best, or the one DENDRITE_ISA forces.
        case "swift": return swift(build: SwiftKernelBuild(CodePath.inUse))
        case "openblas": return Backend(name: "openblas", gemm: try CBLASGEMM.openBLAS(), base: c)
        case "blas": return Backend(name: "blas", gemm: try CBLASGEMM.fromEnvironment(), base: c)
        default:
            throw DendriteError.invalidArgument(
                "unknown backend '\(name)'; valid backends: \(names.joined(separator: ", "))")
        }
    }

    /// The `blas` backend once per library `DENDRITE_BLAS` lists, for the harness: named "blas" when it
    /// lists one, "blas1", "blas2", … in its order when it lists several.
    public static func blasYardsticks() throws -> [Backend] {
        try CKernelSetup.apply()
        let libraries = try CBLASGEMM.allFromEnvironment()
        return libraries.enumerated().map { i, library in
            Backend(name: libraries.count == 1 ? "blas" : "blas\(i + 1)", gemm: library, base: c)
        }
    }

    /// Whether `name` is a backend whose products are a CBLAS library's: openblas, blas, blas1, ….
    public static func isYardstick(_ name: String) -> Bool {
        name == "openblas" || name == "blas" || (name.hasPrefix("blas") && Int(name.dropFirst(4)) != nil)
    }

    /// The C kernels for every concern.
    public static let c = Backend(name: "c", kernels: CKernelSet(), instructionSet: CKernelSet.instructionSet)

    /// The Swift kernels of one build (tests use each one the CPU runs; users get the best with `named("swift")`).
    public static func swift(build: SwiftKernelBuild) -> Backend {
        switch build {
        case .portable:
            Backend(name: "swift", kernels: SwiftKernelBackend<PortableSwiftKernels>(),
                    instructionSet: "x86-64 (Swift, portable build)")
        case .avx2:
            Backend(name: "swift", kernels: SwiftKernelBackend<AVX2SwiftKernels>(),
                    instructionSet: "avx2+fma (Swift, Haswell build)")
        case .avx512:
            Backend(name: "swift", kernels: SwiftKernelBackend<AVX512SwiftKernels>(),
                    instructionSet: "avx512 (Swift, AVX-512 build)")
        }
    }

    /// The backend the user asked for: an explicit name wins over the environment variable.
    public static func select(_ explicit: String? = nil) throws -> Backend {
        if let explicit { return try named(explicit) }
        if let fromEnvironment = getenv(environmentVariable) {
            let name = String(cString: fromEnvironment)
            do { return try named(name) } catch DendriteError.invalidArgument(let message) {
                throw DendriteError.invalidArgument("\(environmentVariable): \(message)")
            }
        }
        return try named("c")
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A CBLAS library's `cblas_sgemm` as a GEMM: the yardsticks our GEMM races. Loaded at run time, so
/// Dendrite neither links nor needs one. The `openblas` backend is Debian's OpenBLAS
/// (`libopenblas0`); the `blas` backend is any CBLAS library named by `DENDRITE_BLAS` (a path),
/// with its symbols' prefix in `DENDRITE_BLAS_PREFIX` (PyPI's `scipy-openblas32` uses `scipy_`;
/// when unset, none and then `scipy_` are tried). Either pairs it with the C kernels for everything
/// else, and its dense layers run the library's product then the C epilogue. `DENDRITE_BLAS` may list
/// several paths, separated by `:`, for the harness to race side by side.
public final class CBLASGEMM: GEMMKernels, @unchecked Sendable {
    private typealias SgemmFunction = @convention(c) (
        Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
        UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    private typealias SetThreadsFunction = @convention(c) (Int32) -> Void
    private typealias CoreNameFunction = @convention(c) () -> UnsafePointer<CChar>?

    /// Where Debian's OpenBLAS is looked for, first match wins.
    public static let openBLASNames = ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"]
    public static let libraryVariable = "DENDRITE_BLAS", prefixVariable = "DENDRITE_BLAS_PREFIX"

    /// Debian's OpenBLAS, loaded once per process (its thread count then follows ``Threads/count``).
    public static func openBLAS() throws -> CBLASGEMM { try openBLASLoaded.get() }
    private static let openBLASLoaded = Result {
        try CBLASGEMM(candidates: openBLASNames, prefixes: [""],
                      missing: "OpenBLAS not found (tried \(openBLASNames.joined(separator: ", "))); install it with: apt-get install libopenblas0")
    }

    /// The library `DENDRITE_BLAS` names, loaded once per process; an error when it lists several.
    public static func fromEnvironment() throws -> CBLASGEMM {
        let libraries = try allFromEnvironment()
        guard libraries.count == 1 else {
            throw DendriteError.invalidArgument("\(libraryVariable) lists \(libraries.count) CBLAS libraries "
                + "(\(libraries.map(\.library).joined(separator: ", "))); the blas backend uses one: name one "
                + "(dendrite bench races every library listed)")
        }
        return libraries[0]
    }

    /// Every library `DENDRITE_BLAS` lists (paths separated by `:`), in its order, loaded once per process.
    public static func allFromEnvironment() throws -> [CBLASGEMM] { try environmentLoaded.get() }
    private static let environmentLoaded = Result {
        let paths = getenv(libraryVariable).map { String(cString: $0).split(separator: ":").map(String.init) } ?? []
        guard !paths.isEmpty else {
            throw DendriteError.unavailable("the blas backend needs \(libraryVariable)=/path/to/libX.so (a CBLAS library)")
        }
        let prefixes = getenv(prefixVariable).map { [String(cString: $0)] } ?? ["", "scipy_"]
        return try paths.map { path in
            try CBLASGEMM(candidates: [path], prefixes: prefixes, missing: "\(libraryVariable)=\(path): \(String(cString: dlerror()))")
        }
    }

    /// The library's file and the prefix of its symbols, for reports.
    public let library: String, prefix: String
    /// The kernels OpenBLAS chose for this CPU (its `openblas_get_corename`, e.g. "Cooperlake" or "Zen";
    /// `OPENBLAS_CORETYPE` overrides the choice), nil for other libraries. Reported because one library
    /// runs AVX-512 kernels on one CPU and AVX2 ones on another, and that decides what a race compares.
    public let kernels: String?
    public var instructionSet: String {
        let notes = (prefix.isEmpty ? [] : ["\(prefix)cblas_sgemm"]) + (kernels.map { ["\($0) kernels"] } ?? [])
        return notes.isEmpty ? library : "\(library) (\(notes.joined(separator: ", ")))"
    }
    private let cblasSgemm: SgemmFunction

    private init(candidates: [String], prefixes: [String], missing: @autoclosure () -> String) throws {
        guard let (handle, name) = candidates.lazy
            .compactMap({ name in dlopen(name, RTLD_NOW | RTLD_LOCAL).map { ($0, name) } }).first
        else { throw DendriteError.unavailable(missing()) }
        guard let (symbol, prefix) = prefixes.lazy.compactMap({ p in dlsym(handle, p + "cblas_sgemm").map { ($0, p) } }).first else {
            throw DendriteError.unavailable("\(name) has no \(prefixes.map { $0 + "cblas_sgemm" }.joined(separator: " or "))"
                + (prefixes == [""] ? "" : " (set \(CBLASGEMM.prefixVariable) to its symbols' prefix)"))
        }
        library = name
        self.prefix = prefix
        cblasSgemm = unsafeBitCast(symbol, to: SgemmFunction.self)
        kernels = dlsym(handle, prefix + "openblas_get_corename")
            .map { unsafeBitCast($0, to: CoreNameFunction.self)() }
            .flatMap { $0.map { String(cString: $0) } }
        // OpenBLAS and BLIS each have their own thread count; other libraries keep theirs.
        let setters = [prefix + "openblas_set_num_threads", "bli_thread_set_num_threads"]
        if let setThreads = setters.lazy.compactMap({ dlsym(handle, $0) }).first.map({ unsafeBitCast($0, to: SetThreadsFunction.self) }) {
            Threads.follow { setThreads(Int32($0)) }
        }
    }

    public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                      alpha: Float, a: UnsafePointer<Float>, lda: Int,
                      b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let rowMajor: Int32 = 101, noTrans: Int32 = 111, trans: Int32 = 112
        cblasSgemm(rowMajor, transA ? trans : noTrans, transB ? trans : noTrans, Int32(m), Int32(n), Int32(k),
                   alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The system's OpenBLAS as a GEMM: the yardstick our GEMM races. Loaded at run time (Debian's
/// `libopenblas0`), so Dendrite neither links nor needs it; the `openblas` backend pairs it with the
/// C kernels for everything else, and its dense layers run OpenBLAS's product then the C epilogue.
public final class OpenBLASGEMM: GEMMKernels, @unchecked Sendable {
    private typealias SgemmFunction = @convention(c) (
        Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
        UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    private typealias SetThreadsFunction = @convention(c) (Int32) -> Void

    /// Where the library is looked for, first match wins.
    public static let libraryNames = ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"]

    /// The library, loaded once per process (its thread count then follows ``Threads/count``).
    public static func load() throws -> OpenBLASGEMM { try loaded.get() }
    private static let loaded = Result { try OpenBLASGEMM(libraryNames: libraryNames) }

    public var instructionSet: String { "OpenBLAS" }
    private let cblasSgemm: SgemmFunction

    private init(libraryNames: [String]) throws {
        guard let (handle, name) = libraryNames.lazy
            .compactMap({ name in dlopen(name, RTLD_NOW | RTLD_LOCAL).map { ($0, name) } }).first
        else {
            throw DendriteError.unavailable(
                "OpenBLAS not found (tried \(libraryNames.joined(separator: ", "))); install it with: apt-get install libopenblas0")
        }
        guard let symbol = dlsym(handle, "cblas_sgemm") else {
            throw DendriteError.unavailable("\(name) has no cblas_sgemm")
        }
        cblasSgemm = unsafeBitCast(symbol, to: SgemmFunction.self)
        if let setThreads = dlsym(handle, "openblas_set_num_threads").map({ unsafeBitCast($0, to: SetThreadsFunction.self) }) {
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

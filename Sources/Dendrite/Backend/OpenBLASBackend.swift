#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The system's OpenBLAS for matmul, Dendrite's C kernels for the rest: the yardstick our GEMM races.
/// OpenBLAS is loaded at run time (Debian's `libopenblas0`), so Dendrite neither links nor needs it.
public final class OpenBLASBackend: CBackend, @unchecked Sendable {
    private typealias SgemmFunction = @convention(c) (
        Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
        UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    private typealias SetThreadsFunction = @convention(c) (Int32) -> Void

    /// Where the library is looked for, first match wins.
    public static let libraryNames = ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"]

    private let cblasSgemm: SgemmFunction
    private let setThreads: SetThreadsFunction?
    private var threadCount: Int

    /// Fails with the reason when no OpenBLAS library can be loaded.
    public init(libraryNames: [String] = OpenBLASBackend.libraryNames) throws {
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
        setThreads = dlsym(handle, "openblas_set_num_threads").map { unsafeBitCast($0, to: SetThreadsFunction.self) }
        threadCount = 1
        super.init()
        threads = super.threads
    }

    public override var name: String { "openblas" }
    public override var instructionSet: String { "OpenBLAS's own for matmul, \(Self.instructionSet) for the rest" }

    public override var threads: Int {
        get { threadCount }
        set {
            threadCount = Swift.max(1, newValue)
            super.threads = threadCount
            setThreads?(Int32(threadCount))
        }
    }

    public override func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                               alpha: Float, a: UnsafePointer<Float>, lda: Int,
                               b: UnsafePointer<Float>, ldb: Int,
                               beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let rowMajor: Int32 = 101, noTrans: Int32 = 111, trans: Int32 = 112
        cblasSgemm(rowMajor, transA ? trans : noTrans, transB ? trans : noTrans, Int32(m), Int32(n), Int32(k),
                   alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// OpenBLAS's product, then the C activation backward kernel.
    public override func denseBackwardInputs(dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                             weight: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                             m: Int, n: Int, k: Int, activation: Activation) {
        denseBackwardInputsUnfused(dinput: dinput, dout: dout, weight: weight, output: output, m: m, n: n, k: k,
                                   activation: activation)
    }

    /// OpenBLAS's product, then the C bias + activation kernel.
    public override func denseForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                      weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                      m: Int, n: Int, k: Int, activation: Activation) {
        denseForwardUnfused(out: out, x: x, weight: weight, bias: bias, m: m, n: n, k: k, activation: activation)
    }
}

import CKernels

/// The C kernels' code paths. Every kernel has all three; the best one the CPU supports runs unless
/// `DENDRITE_ISA` names another. AVX2 and AVX-512 give the same bits for the same GEMM blocking;
/// the portable path (no fused multiply-add) differs from them in the last bits.
public enum CodePath: String, CaseIterable, Sendable, CustomStringConvertible {
    case portable, avx2, avx512

    public static let environmentVariable = "DENDRITE_ISA"

    var c: dk_isa {
        switch self {
        case .portable: DK_ISA_PORTABLE
        case .avx2: DK_ISA_AVX2
        case .avx512: DK_ISA_AVX512
        }
    }

    init(_ isa: dk_isa) {
        switch isa {
        case DK_ISA_AVX512: self = .avx512
        case DK_ISA_AVX2: self = .avx2
        default: self = .portable
        }
    }

    public var description: String { rawValue }

    /// Whether this CPU can run the path.
    public var isSupported: Bool { dk_isa_supported(c) != 0 }

    /// The paths this CPU can run, narrowest first.
    public static var supported: [CodePath] { allCases.filter(\.isSupported) }

    /// The widest path this CPU supports.
    public static var best: CodePath { supported.last ?? .portable }

    /// The path every C kernel runs now.
    public static var inUse: CodePath { CodePath(dk_get_isa()) }

    /// Switches every C kernel to `path`; an error if the CPU lacks it. Not while kernels run.
    public static func select(_ path: CodePath) throws {
        guard dk_set_isa(path.c) == 0 else {
            throw DendriteError.unavailable("code path \(path): this CPU lacks it (it supports \(supported.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    /// Makes the calling thread's C kernel calls (and their worker threads) run on `path`, whatever
    /// the process-wide choice; nil returns the thread to that choice. An error if the CPU lacks it.
    public static func selectForThisThread(_ path: CodePath?) throws {
        guard dk_set_thread_isa(path.map { Int32($0.c.rawValue) } ?? -1) == 0 else {
            throw DendriteError.unavailable("code path \(path!): this CPU lacks it")
        }
    }

    /// The micro-kernel tile of the path's GEMM: MR rows by NR columns.
    public var gemmTile: (rows: Int, columns: Int) {
        var rows: Int32 = 0, columns: Int32 = 0
        dk_gemm_tile(c, &rows, &columns)
        return (Int(rows), Int(columns))
    }

    /// Peak FP32 GFLOP/s of this path's widest FMA (0 where unsupported); see `dk_probe_fma_gflops`.
    public func probePeakGFLOPs(threads: Int, seconds: Double) -> Double {
        dk_probe_fma_gflops(c, Int32(threads), seconds)
    }
}

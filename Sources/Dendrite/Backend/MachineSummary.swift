import CKernels
import Foundation

/// The lines `dendrite info` and the benchmark harness print about the CPU and the C kernels' setup.
public enum MachineSummary {
    public static func lines() -> [String] {
        let cpu = CPUInfo.current, path = CodePath.inUse
        let (blocking, source) = GEMMBlocking.current(for: path)
        let tile = path.gemmTile
        let paths = CodePath.allCases.map { $0.isSupported ? $0.rawValue : "\($0.rawValue) (unsupported)" }
        let chosen = path == CodePath.best ? "the best this CPU supports" : "set by \(CodePath.environmentVariable) or the program"
        return [
            "CPU:               \(cpu.modelName)\(cpu.identifier.isEmpty ? "" : " (\(cpu.identifier))")",
            "caches:            \(cpu.cacheSummary)",
            "code paths:        \(paths.joined(separator: ", "))"
                + (cpu.splits512BitFMA ? " (512-bit FMAs run as two 256-bit halves: avx512 and avx2 share one FMA peak)" : ""),
            "C kernels run:     \(path) (\(chosen))",
            "GEMM blocking:     MC \(blocking.mc), KC \(blocking.kc), NC \(blocking.nc), tile \(tile.rows)×\(tile.columns) (\(source.rawValue))",
            "tuning file:       \(BlockingWisdom.defaultPath)",
            dk_conv2d_winograd_allowed() != 0
                ? "convolutions:      Winograd F(4×4, 3×3) for 3×3 stride-1 layers of 16-512 channels (DENDRITE_WINOGRAD=0: implicit GEMM)"
                : "convolutions:      implicit GEMM or direct (Winograd switched off by DENDRITE_WINOGRAD)",
            "streaming stores:  softmax and activation outputs from \(String(format: "%g", Double(dk_streaming_min_bytes()) / Double(1 << 20))) MB "
                + (dk_streaming_probed_last_level_slow() != 0
                    ? "(every core's L2: measured, the last-level cache is no faster than memory here)"
                    : "(the last-level cache)"),
        ]
    }
}

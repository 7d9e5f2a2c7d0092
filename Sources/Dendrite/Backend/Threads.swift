import CKernels

/// The number of threads every kernel uses: one setting for the whole process, shared by the C kernels'
/// OpenMP team, every build of the Swift kernels' worker pool, and any loaded BLAS library.
public enum Threads {
    /// Threads per kernel call; values below 1 mean 1. Defaults to the active processor count.
    public static var count: Int {
        get { Int(dk_get_num_threads()) }
        set {
            let threads = Swift.max(1, newValue)
            dk_set_num_threads(Int32(threads))
            PortableSwiftKernels.threads = threads
            AVX2SwiftKernels.threads = threads
            AVX512SwiftKernels.threads = threads
            for apply in librarySetters { apply(threads) }
        }
    }

    /// How loaded libraries with thread pools of their own (OpenBLAS) follow the setting.
    nonisolated(unsafe) private static var librarySetters: [(Int) -> Void] = []

    /// Makes a library's thread count follow ``count`` from now on, starting with the current value.
    static func follow(_ setThreads: @escaping (Int) -> Void) {
        librarySetters.append(setThreads)
        setThreads(count)
    }
}

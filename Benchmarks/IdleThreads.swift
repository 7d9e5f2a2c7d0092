import Dendrite
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Puts idle worker threads to sleep between samples of different backends. After a parallel call,
/// LLVM OpenMP's workers spin for 200 ms (KMP_BLOCKTIME) and OpenBLAS's for about 2^28 cycles, waiting
/// for more work; interleaved with another backend they would steal its cores. A training run uses one
/// backend, so each sample should start on a machine that backend has to itself.
enum IdleThreads {
    private typealias PauseAll = @convention(c) (Int32) -> Int32
    private typealias Shutdown = @convention(c) () -> Int32

    /// OpenMP 5.0's omp_pause_resource_all. A hard pause (2): libomp 14 ignores the soft one (1) and its
    /// workers kept spinning into the next backend's samples. The next parallel region starts new ones.
    private static let pauseOpenMP: PauseAll? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "omp_pause_resource_all")
        .map { unsafeBitCast($0, to: PauseAll.self) }

    /// OpenBLAS stops its thread pool with this (its fork handler does); the next call starts a new one.
    /// Looked up in the copy CBLASGEMM.openBLAS() loaded, never loading one itself.
    private static let stopOpenBLAS: Shutdown? = CBLASGEMM.openBLASNames.lazy
        .compactMap { dlopen($0, RTLD_NOW | RTLD_NOLOAD) }.first
        .flatMap { dlsym($0, "blas_thread_shutdown_") }
        .map { unsafeBitCast($0, to: Shutdown.self) }

    /// A CBLAS library named by DENDRITE_BLAS may have no call that stops its pool: PyPI's scipy-openblas
    /// exports none, and its workers spin for about 2^28 cycles (0.1 s at 2.8 GHz) after each call. Its
    /// multi-threaded samples are followed by this long a wait; without it, the C backend's 2-thread
    /// samples measured 0.55-0.67x OpenBLAS while a run without that library gave 1.15-1.23x. (That
    /// library's own 2-thread samples are erratic either way: it wakes its sleeping pool slowly.)
    private static let cblasSpinSeconds = 0.15

    static func sleep(after backend: String) {
        if backend == "openblas" { _ = stopOpenBLAS?() }
        if backend != "openblas" && Backends.isYardstick(backend) && Threads.count > 1 { keepCoresBusy(seconds: cblasSpinSeconds) }
        _ = pauseOpenMP?(2)
    }

    /// Waits with every thread of the next samples busy, not asleep. A virtual machine's CPU left idle
    /// for the wait was seen to be shared with some other load for the next hundreds of milliseconds: a
    /// 2-thread GEMM's second thread then started 50-300 us late in one call of ten, and those samples
    /// ran 10-25 % slow (BENCHMARKS.md). The backend measured after a CBLAS yardstick, always the same one
    /// in a round's fixed order, paid for that wait; busy, the next sample runs as one after no wait.
    private static func keepCoresBusy(seconds: Double) {
        _ = CodePath.inUse.probePeakGFLOPs(threads: Threads.count, seconds: seconds)
    }
}

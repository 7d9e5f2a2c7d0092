// Keeps a pool worker off its caller's CPU. Linux wakes a thread on the waker's CPU when the thread's own
// CPU is busy at that moment, and its load balancer leaves recently run ("cache hot") threads where they
// are. A worker woken while something else briefly held the other core then shared the caller's core for
// seconds, both spinning between kernels: in the harness, whose samples of other backends start and stop
// their own threads, 5 of 7 two-thread samples of a Swift convolution ran at or below the one-thread
// speed, the worker found on the caller's CPU for every task it ran. A worker that finds itself there
// moves: an affinity mask without that CPU, restored at once, makes the kernel migrate it.

#if os(Linux)
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

enum CPUPlacement {
    private typealias GetCPU = @convention(c) () -> Int32
    private typealias Affinity = @convention(c) (pid_t, Int, UnsafeMutablePointer<cpu_set_t>) -> Int32

    // glibc declares these only for _GNU_SOURCE, which its Swift module does not define.
    private static let getCPU = symbol("sched_getcpu", as: GetCPU.self)
    private static let getAffinity = symbol("sched_getaffinity", as: Affinity.self)
    private static let setAffinity = symbol("sched_setaffinity", as: Affinity.self)

    private static func symbol<T>(_ name: String, as type: T.Type) -> T? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: type) }
    }

    /// The CPU the calling thread runs on, -1 where unknown.
    static func current() -> Int { getCPU.map { Int($0()) } ?? -1 }

    /// Moves the calling thread off `cpu` to another CPU it may run on, if it has one.
    static func leave(_ cpu: Int) {
        let size = MemoryLayout<cpu_set_t>.size
        guard let getAffinity, let setAffinity, cpu >= 0, cpu < 8 * size else { return }
        var allowed = cpu_set_t()
        guard getAffinity(0, size, &allowed) == 0 else { return }
        var others = allowed
        let elsewhere = withUnsafeMutableBytes(of: &others) { bytes in
            bytes[cpu / 8] &= ~UInt8(1 << (cpu % 8))
            return bytes.contains { $0 != 0 }
        }
        guard elsewhere, setAffinity(0, size, &others) == 0 else { return }
        _ = setAffinity(0, size, &allowed)
    }
}
#else
enum CPUPlacement {
    static func current() -> Int { -1 }
    static func leave(_ cpu: Int) {}
}
#endif

import ArgumentParser
import Dendrite

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the kernel backends, the thread count, OpenMP, the CPU, its caches, the C kernels' code paths and GEMM blocking and the instruction set in use.")

    @OptionGroup var backendOptions: BackendOptions

    func run() throws {
        let backend = try backendOptions.makeBackend()
        print("Dendrite kernel backends")
        for name in Backends.names {
            let status: String
            do {
                let candidate = try Backends.named(name)
                status = "available, \(Threads.count) thread\(Threads.count == 1 ? "" : "s"), \(candidate.instructionSet)"
            } catch {
                status = "unavailable: \(error)"
            }
            print("  \(name == backend.name ? "*" : " ") \(name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(status)")
        }
        print("selected backend:  \(backend.name)")
        print("threads:           \(Threads.count)")
        print("OpenMP:            \(CKernelSet.openMPEnabled ? "on" : "off")")
        MachineSummary.lines().forEach { print($0) }
        switch ProcessGroup.mpiAvailability {
        case .success where ProcessGroup.launchedByMPI:
            let group = try ProcessGroup.join()
            print("MPI:               Open MPI, rank \(group.rank) of \(group.size)")
            group.finish()
        case .success: print("MPI:               Open MPI available (not launched by mpirun: one process)")
        case .failure(let error): print("MPI:               unavailable: \(error)")
        }
    }
}

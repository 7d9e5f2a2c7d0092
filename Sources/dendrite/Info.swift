import ArgumentParser
import Dendrite

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the kernel backends, threads, OpenMP, the CPU and its caches, the code paths and the GEMM blocking.")

    @OptionGroup var backendOptions: BackendOptions

    func run() throws {
        let backend = try backendOptions.makeBackend()
        print("Dendrite kernel backends")
        for name in Backends.names {
            let status: String
            do {
                let candidate = try Backends.named(name)
                status = "available, \(candidate.threads) thread\(candidate.threads == 1 ? "" : "s"), \(candidate.instructionSet)"
            } catch {
                status = "unavailable: \(error)"
            }
            print("  \(name == backend.name ? "*" : " ") \(name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(status)")
        }
        print("selected backend:  \(backend.name)")
        print("threads:           \(backend.threads)")
        print("OpenMP:            \(CBackend.openMPEnabled ? "on" : "off")")
        MachineSummary.lines().forEach { print($0) }
    }
}

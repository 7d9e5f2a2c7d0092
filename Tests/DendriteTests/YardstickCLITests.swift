// CBLAS yardsticks named by DENDRITE_BLAS: a list of libraries is raced side by side by the harness,
// each as its own backend, while `--backend blas`, which trains with one, refuses a list by name.

import Foundation
import Testing

@Suite struct YardstickCLITests {
    /// Debian's OpenBLAS by its soname, listed twice: two libraries to the harness without a second install.
    static let twoLibraries = "libopenblas.so.0:libopenblas.so.0"

    static var openBLASInstalled: Bool { dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL) != nil }

    func dendrite(_ arguments: [String], blas: String) throws -> (status: Int32, output: String) {
        try runProcess("/usr/bin/env", ["DENDRITE_BLAS=\(blas)", try dendriteExecutable()] + arguments)
    }

    @Test("--backend blas with a list in DENDRITE_BLAS is one error naming the libraries")
    func trainingRefusesAList() throws {
        guard Self.openBLASInstalled else {
            print("YardstickCLITests: skipped (needs libopenblas.so.0: apt-get install libopenblas0)")
            return
        }
        let (status, output) = try dendrite(["train", "--backend", "blas", "--data", "/nonexistent"], blas: Self.twoLibraries)
        #expect(status != 0, "exited 0: \(output)")
        let errors = output.split(separator: "\n").filter { $0.hasPrefix("Error: ") }
        #expect(errors.count == 1 && errors[0].contains("DENDRITE_BLAS lists 2 CBLAS libraries")
                && errors[0].contains("libopenblas.so.0"), "\(output)")
    }

    @Test("the harness races every library DENDRITE_BLAS lists, as blas1 and blas2")
    func harnessRacesEachLibrary() throws {
        guard Self.openBLASInstalled else {
            print("YardstickCLITests: skipped (needs libopenblas.so.0: apt-get install libopenblas0)")
            return
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dendrite-yardsticks-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (status, output) = try dendrite(["bench", "--allow-debug", "--quick", "--paths", "none",
                                             "--filter", "NN 128×256×10", "--output", folder.path], blas: Self.twoLibraries)
        #expect(status == 0, "\(output)")
        #expect(output.contains("blas1: libopenblas.so.0 (") && output.contains("blas2: libopenblas.so.0 ("),
                "\(output)")
        // OpenBLAS names the kernels it chose for this CPU.
        #expect(output.contains(" kernels) for products"), "\(output)")
        let data = try Data(contentsOf: folder.appendingPathComponent("results.json"))
        let record = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let rows = try #require(record["results"] as? [[String: Any]])
        let threadCounts = ProcessInfo.processInfo.activeProcessorCount > 1 ? 2 : 1
        for backend in ["blas1", "blas2"] {
            let times = rows.filter { $0["backend"] as? String == backend }
                .compactMap { ($0["seconds"] as? [String: Any])?["median"] as? Double }
            #expect(times.count == threadCounts && times.allSatisfy { $0 > 0 }, "\(backend): \(times) (a row per thread count)")
        }
    }
}

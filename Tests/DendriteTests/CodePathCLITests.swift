// The code path and blocking as the `dendrite` binary takes them from the environment: a bad
// DENDRITE_ISA, DENDRITE_BLOCKING or DENDRITE_WINOGRAD is one clear error and a non-zero exit, and the lab run's bits
// on the AVX2 path under the fallback blocking stay pinned.

import Dendrite
import Foundation
import Testing

@Suite struct CodePathCLITests {
    /// Runs the `dendrite` binary `swift test` builds, with extra environment (through env(1)).
    func dendrite(_ arguments: [String], environment: [String: String]) throws -> (status: Int32, output: String) {
        try runProcess("/usr/bin/env", environment.map { "\($0.key)=\($0.value)" } + [dendriteExecutable()] + arguments)
    }

    static let badEnvironments: [(String, String, String)] = [
        ("DENDRITE_ISA", "avx3", "not a code path"),
        ("DENDRITE_ISA", "AVX2", "not a code path"),
        ("DENDRITE_BLOCKING", "144,512", "is not MC,KC,NC"),
        ("DENDRITE_BLOCKING", "144;512;256", "is not MC,KC,NC"),
        ("DENDRITE_BLOCKING", "145,512,256", "MC=145"),
        ("DENDRITE_BLOCKING", "144,0,256", "KC=0"),
        ("DENDRITE_BLOCKING", "144,512,250", "NC=250"),
        ("DENDRITE_WINOGRAD", "no", "is not 1, on, 0 or off"),
    ]

    @Test("a bad DENDRITE_ISA, DENDRITE_BLOCKING or DENDRITE_WINOGRAD is one error naming it", arguments: badEnvironments)
    func badEnvironmentIsAnError(variable: String, value: String, message: String) throws {
        for command in [["info"], ["train", "--data", "/nonexistent"]] {
            let (status, output) = try dendrite(command, environment: [variable: value])
            #expect(status != 0, "\(variable)=\(value) \(command) exited 0: \(output)")
            let errors = output.split(separator: "\n").filter { $0.hasPrefix("Error: ") }
            #expect(errors.count == 1 && errors[0].contains(variable) && errors[0].contains(message),
                    "\(variable)=\(value) \(command): \(output)")
        }
    }

    @Test("a path this CPU lacks is refused; info lists the paths and the blocking's source")
    func pathsAndBlockingAreReported() throws {
        for path in CodePath.allCases {
            let (status, output) = try dendrite(["info"], environment: ["DENDRITE_ISA": path.rawValue,
                                                                       "DENDRITE_BLOCKING": "144,512,256"])
            if path.isSupported {
                #expect(status == 0 && output.contains("C kernels run:     \(path)")
                        && output.contains("MC 144, KC 512, NC 256") && output.contains("DENDRITE_BLOCKING"), "\(output)")
            } else {
                #expect(status != 0 && output.contains("lacks it"), "\(path): \(output)")
            }
        }
    }

    /// The lab's run (one epoch of the default MLP on Fashion-MNIST) on the AVX2 path with the
    /// fallback blocking prints the test loss it always has. Skipped without AVX2 or the dataset.
    @Test("the lab run's test loss on the AVX2 path with blocking 144,512,256 is 0.42053749")
    func labRunBitsArePinned() throws {
        let data = "/usr/share/datasets/fashion-mnist"
        guard CodePath.avx2.isSupported, FileManager.default.fileExists(atPath: data) else {
            print("CodePathCLITests: lab run skipped (needs AVX2 and \(data))")
            return
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dendrite-lab-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (status, output) = try dendrite(["train", "--checkpoint-dir", folder, "--log-every", "0"],
                                            environment: ["DENDRITE_ISA": "avx2", "DENDRITE_BLOCKING": "144,512,256"])
        #expect(status == 0 && output.contains("test_loss: 0.42053749,"), "\(output)")
    }
}

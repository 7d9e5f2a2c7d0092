import Foundation
import Testing
@testable import Dendrite

/// Data-parallel training under `mpirun`, run as a user runs it (skipped where Open MPI is not installed;
/// `scripts/setup.sh` installs it). The synthetic data has 256 training images: 8 batches of 32 per epoch.
private let mpirunPath = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }

@Suite(.serialized, .enabled(if: mpirunPath != nil, "mpirun is not installed"))
struct DistributedTests {
    static let mpirun = mpirunPath
    static let data = writeSyntheticFolder()

    /// Runs `dendrite` (alone, or under mpirun with `processes` ranks) and returns its status and output.
    func run(processes: Int?, _ arguments: [String], mpiFlags: [String] = []) throws -> (status: Int32, output: String) {
        guard let processes else { return try runProcess(dendriteExecutable(), arguments) }
        return try runProcess(DistributedTests.mpirun!, DistributedTests.mpirunFlags + ["-np", String(processes)] + mpiFlags
            + [dendriteExecutable()] + arguments)
    }

    static let mpirunFlags = ["--allow-run-as-root", "--oversubscribe"]

    func train(processes: Int?, folder: String, _ extra: [String] = [], mpiFlags: [String] = []) throws -> String {
        let model = extra.contains("--layers") ? [] : ["--hidden", "16"]
        let (status, output) = try run(processes: processes, ["train", "--data", DistributedTests.data, "--batch-size", "32",
                                                              "--threads", "1", "--checkpoint-dir", folder] + model + extra,
                                       mpiFlags: mpiFlags)
        #expect(status == 0, "\(output)")
        return output
    }

    /// The train_loss of every log line, in order.
    func losses(_ output: String) -> [Double] {
        output.split(separator: "\n").compactMap { line in
            line.range(of: "train_loss: ").flatMap { Double(line[$0.upperBound...].prefix(10)) }
        }
    }

    func testAccuracy(_ output: String) throws -> Double {
        let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("test_loss: ") })
        return try #require(Double(line.split(separator: "test_accuracy: ")[1].prefix(6)))
    }

    func finalCheckpoint(_ folder: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: try #require(Checkpoint.files(in: folder).last)))
    }

    /// N ranks train what one process trains: the first 20 losses agree to 1e-5, the accuracy to 0.005.
    /// With dropout too: each row gets the mask one process would give it.
    @Test(arguments: [2, 3]) func ranksAgreeWithOneProcess(processes: Int) throws {
        let flags = ["--epochs", "3", "--log-every", "1", "--layers", "dense 16, relu, dropout 0.3, dense 4"]
        let single = try train(processes: nil, folder: temporaryFolder(), flags)
        let parallel = try train(processes: processes, folder: temporaryFolder(), flags)
        let (a, b) = (losses(single), losses(parallel))
        #expect(a.count == 24 && b.count == 24, "\(a.count) and \(b.count) log lines")
        for (step, (x, y)) in zip(a, b).prefix(20).enumerated() {
            #expect(abs(x - y) <= 1e-5 * abs(x), "step \(step + 1): one process \(x), \(processes) ranks \(y)")
        }
        #expect(abs(try testAccuracy(single) - testAccuracy(parallel)) <= 0.005)
        #expect(parallel.contains("\(processes) processes (data-parallel over MPI)"), "\(parallel)")
    }

    /// Two runs with the same N give the same checkpoint, over shared memory and over TCP alike, and a
    /// resumed run (from mid-epoch and from an epoch's end) gives it too.
    @Test func sameBitsForTheSameN() throws {
        let flags = ["--epochs", "2", "--log-every", "0", "--checkpoint-every", "3"]
        let first = temporaryFolder(), second = temporaryFolder(), tcp = temporaryFolder(), resumed = temporaryFolder()
        _ = try train(processes: 2, folder: first, flags)
        _ = try train(processes: 2, folder: second, flags)
        _ = try train(processes: 2, folder: tcp, flags, mpiFlags: ["--mca", "btl", "tcp,self"])
        #expect(try finalCheckpoint(first) == finalCheckpoint(second))
        #expect(try finalCheckpoint(first) == finalCheckpoint(tcp))
        // Keep the checkpoint of step 9 (epoch 1, batch 1) only, then resume.
        _ = try train(processes: 2, folder: resumed, ["--epochs", "2", "--log-every", "0", "--checkpoint-every", "9"])
        for file in Checkpoint.files(in: resumed) where !file.hasSuffix("000000009.safetensors") {
            try FileManager.default.removeItem(atPath: file)
        }
        let output = try train(processes: 2, folder: resumed, flags + ["--resume"])
        #expect(output.contains("Resuming") && !output.contains("not bitwise"), "\(output)")
        #expect(try finalCheckpoint(first) == finalCheckpoint(resumed))
    }

    @Test func badSetupsAreClearErrors() throws {
        // mpirun's MPMD form: rank 1 gets another learning rate.
        let binary = try dendriteExecutable()
        let common = ["train", "--data", DistributedTests.data, "--threads", "1", "--log-every", "0"]
        let (status, output) = try runProcess(DistributedTests.mpirun!, DistributedTests.mpirunFlags + ["-np", "1", binary]
            + common + ["--checkpoint-dir", temporaryFolder(), ":", "-np", "1", binary] + common
            + ["--checkpoint-dir", temporaryFolder(), "--lr", "0.002"])
        #expect(status != 0 && output.contains("rank 1 was started with other flags than rank 0"),
                "\(output)")
        #expect(!output.contains("Epoch:"), "trained anyway: \(output)")

        let tooMany = try run(processes: 3, common + ["--batch-size", "2", "--checkpoint-dir", temporaryFolder()])
        #expect(tooMany.status != 0 && tooMany.output.contains("3 processes cannot share a batch of 2 examples"),
                "\(tooMany.output)")
    }
}

/// The optimizer's shards (ZeRO stage 1): contiguous, covering the arena once, starting on 64-byte lines.
@Test(arguments: [(269_322, 2), (269_322, 3), (10, 3), (0, 2), (1_000_003, 7)])
func shardsCoverTheArenaOnce(count: Int, ranks: Int) {
    let shards = GradientSync.shards(count: count, ranks: ranks)
    #expect(shards.count == ranks)
    #expect(shards.first?.lowerBound == 0 && shards.last?.upperBound == count)
    for (a, b) in zip(shards, shards.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
    for shard in shards { #expect(shard.lowerBound % GradientSync.shardAlignment == 0) }
    if count >= 1000 * ranks {
        let sizes = shards.map(\.count)
        #expect(sizes.max()! - sizes.min()! <= 2 * GradientSync.shardAlignment, "\(sizes)")
    }
}

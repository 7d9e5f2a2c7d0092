import Foundation

/// The checks that keep the ranks of a data-parallel run in step: the same run (flags and data) on every
/// rank at the start, and the same weights after every epoch.
enum DataParallelChecks {
    /// Refuses to train when ranks were launched with different flags or data.
    static func checkSameRun(_ configuration: TrainingConfiguration, data: DataFolder, group: ProcessGroup) throws {
        var run = configuration
        run.threads = 0  // ranks may use different thread counts
        let configurationHash = UInt64(Array(run.json.utf8).withUnsafeBytes { Safetensors.crc32($0) })
        let dataHash = UInt64(data.train.images.pixels.withUnsafeBytes { Safetensors.crc32($0) })
            ^ UInt64(data.train.labels.map { UInt8(truncatingIfNeeded: $0) }.withUnsafeBytes { Safetensors.crc32($0) }) << 32
        let hashes = group.allGather([configurationHash, dataHash])
        for r in 1..<group.size {
            if hashes[2 * r] != hashes[0] {
                throw DendriteError.invalidArgument("rank \(r) was started with other flags than rank 0 (configuration "
                    + "hash \(hashes[2 * r]) against \(hashes[0])); every rank must run the same command")
            }
            if hashes[2 * r + 1] != hashes[1] {
                throw DendriteError.invalidArgument("rank \(r) reads other training data than rank 0 (hash "
                    + "\(hashes[2 * r + 1]) against \(hashes[1])); every host needs the same files at the same --data path")
            }
        }
    }

    /// Stops the run when the ranks' weights differ (they apply the same update to the same weights, so
    /// they differ only if something went wrong: a rank with other kernels, or memory corruption).
    static func checkSameWeights(_ arena: ParameterArena, group: ProcessGroup, epoch: Int) throws {
        let bytes = UnsafeRawBufferPointer(start: arena.values.pointer, count: arena.count * MemoryLayout<Float>.stride)
        let checksums = group.allGather([UInt64(Safetensors.crc32(bytes))])
        if let other = checksums.indices.first(where: { checksums[$0] != checksums[0] }) {
            throw DendriteError.numerical("after epoch \(epoch) the weights of rank \(other) differ from rank 0's "
                + "(checksums \(checksums.map(String.init).joined(separator: ", "))); the ranks fell out of step")
        }
    }
}

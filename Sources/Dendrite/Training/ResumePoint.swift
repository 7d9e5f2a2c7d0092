import Foundation

/// Where `--resume` continues a run, and whether a checkpoint's position can continue it with the data at hand.
public enum ResumePoint {
    /// The newest checkpoint of `folder` that reads and verifies, and whose step is the one its name states,
    /// with its path and one line per newer file skipped and why: a damaged or mislabelled newest file gives
    /// way to the one before it. Throws when no file can be used, naming each and its problem.
    public static func latest(in folder: String) throws -> (checkpoint: Checkpoint, path: String, skipped: [String]) {
        var skipped: [String] = []
        for path in Checkpoint.files(in: folder).reversed() {
            do {
                let checkpoint = try Checkpoint.read(path: path)
                let named = Checkpoint.step(fromFileName: (path as NSString).lastPathComponent)!
                guard checkpoint.step == named else {
                    skipped.append("\(path): its name says step \(named), its metadata step \(checkpoint.step)")
                    continue
                }
                return (checkpoint, path, skipped)
            } catch {
                skipped.append("\(error)")
            }
        }
        throw DendriteError.checkpoint(path: folder, problem: skipped.isEmpty
            ? "--resume: no checkpoint-*.\(Checkpoint.fileExtension) in this folder"
            : "--resume: no usable checkpoint in this folder: " + skipped.joined(separator: "; "))
    }

    /// Checks a checkpoint's position against the data and configuration it is to continue with: the next
    /// batch must exist in an epoch of this data, the step must be the one the epoch and batch imply (it is
    /// not when the data or the file changed), and the generator state the one the seed gives that epoch.
    /// A position past the data would otherwise make the loop spin without ever training a batch.
    public static func check(_ checkpoint: Checkpoint, path: String, trainingImages: Int, batchSize: Int) throws {
        func fail(_ problem: String) -> DendriteError { .checkpoint(path: path, problem: problem) }
        let batches = (trainingImages + batchSize - 1) / batchSize
        let data = "\(trainingImages) training images in batches of \(batchSize) make \(batches) batch\(batches == 1 ? "" : "es") per epoch"
        guard checkpoint.batch < batches else {
            throw fail("its next batch is \(checkpoint.batch) of epoch \(checkpoint.epoch), but \(data): "
                + "resume with the data the run was started with")
        }
        let (product, overflow) = checkpoint.epoch.multipliedReportingOverflow(by: batches)
        guard !overflow, product + checkpoint.batch == checkpoint.step else {
            throw fail("its step \(checkpoint.step) is not epoch \(checkpoint.epoch) × \(batches) + batch \(checkpoint.batch) "
                + "(\(data)): the data differs from the run's, or the file was edited")
        }
        let expected = Trainer.shuffleGenerator(checkpoint.configuration.seed, epoch: checkpoint.epoch).state
        guard checkpoint.generatorState == expected else {
            throw fail("its generator_state is not the one seed \(checkpoint.configuration.seed) gives epoch "
                + "\(checkpoint.epoch): the file was edited")
        }
    }
}

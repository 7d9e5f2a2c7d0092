import Foundation
import Testing
@testable import Dendrite

/// CIFAR-10 batch bytes: per record its label, then random pixels, the red plane, the green, the blue.
func cifarBatch(labels: [UInt8], seed: UInt64) -> [UInt8] {
    var generator = SeededGenerator(seed: seed)
    return labels.flatMap { label -> [UInt8] in
        [label] + (0..<3 * 32 * 32).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
    }
}

/// A toy CIFAR-10 folder: the five training batches with `trainingRecords` records each, labels that tell the
/// batches apart, and a test batch; returns the folder and the bytes of its batches.
func writeCIFARFolder(trainingRecords: [Int] = [2, 3, 1, 2, 4], testRecords: Int = 3, compressed: Bool = false,
                      in folder: String = temporaryFolder()) -> (folder: String, training: [[UInt8]], test: [UInt8]) {
    precondition(trainingRecords.count == 5, "CIFAR-10 has five training batches")
    let training = trainingRecords.enumerated().map { batch, records in
        cifarBatch(labels: (0..<records).map { UInt8((batch * 3 + $0) % 10) }, seed: UInt64(batch + 1))
    }
    let test = cifarBatch(labels: (0..<testRecords).map { UInt8(9 - $0 % 10) }, seed: 10)
    try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let files = training.enumerated().map { ("data_batch_\($0 + 1).bin", $1) } + [("test_batch.bin", test)]
    for (name, bytes) in files {
        let path = "\(folder)/\(name)" + (compressed ? ".gz" : "")
        let written = FileManager.default.createFile(atPath: path, contents: Data(compressed ? gzipped(bytes) : bytes))
        precondition(written, "cannot write the test data file \(path)")
    }
    return (folder, training, test)
}

/// The CIFAR-10 reader and its detection in a data folder, on files written here.
@Suite struct CIFAR10Tests {
    /// What the reader should make of a batch's bytes: each image channels last (NHWC), so that pixel (y, x)
    /// channel c is the byte at c·1024 + 32y + x of its record's planes.
    func channelsLast(_ batch: [UInt8]) -> [UInt8] {
        var images: [UInt8] = []
        for record in 0..<batch.count / 3073 {
            for y in 0..<32 {
                for x in 0..<32 {
                    for channel in 0..<3 { images.append(batch[record * 3073 + 1 + channel * 1024 + y * 32 + x]) }
                }
            }
        }
        return images
    }

    /// Where two arrays first differ (nil if nowhere): a failure names one element rather than printing thousands.
    func firstDifference<T: Equatable>(_ found: [T], _ expected: [T]) -> Int? {
        let common = min(found.count, expected.count)
        if let index = (0..<common).first(where: { found[$0] != expected[$0] }) { return index }
        return found.count == expected.count ? nil : common
    }

    func labels(_ batch: [UInt8]) -> [Int32] { stride(from: 0, to: batch.count, by: 3073).map { Int32(batch[$0]) } }

    @Test(arguments: [false, true]) func imagesAreChannelsLastAndTrainingIsTheBatchesInOrder(compressed: Bool) throws {
        let (path, training, test) = writeCIFARFolder(compressed: compressed)
        let folder = try DataFolder(path: path)
        let trainingBytes = Array(training.joined())
        #expect(folder.train.count == 12 && folder.test.count == 3)
        #expect(folder.train.exampleShape == [32, 32, 3] && folder.train.featureCount == 3072)
        #expect(folder.train.classCount == 10 && folder.test.classCount == 10, "CIFAR-10's, not the largest label + 1")
        #expect(firstDifference(folder.train.images.pixels, channelsLast(trainingBytes)) == nil)
        #expect(folder.train.labels == labels(trainingBytes))
        #expect(firstDifference(folder.test.images.pixels, channelsLast(test)) == nil)
        #expect(folder.test.labels == labels(test))
        // One pixel worked by hand: record 1 of the test batch, row 2, column 5, blue.
        let (nhwc, planar): (Int, Int) = (3072 + (2 * 32 + 5) * 3 + 2, 3073 + 1 + 2 * 1024 + 2 * 32 + 5)
        #expect(folder.test.images.pixels[nhwc] == test[planar])
    }

    /// The batcher needs nothing new: an image's 3072 bytes become one (32, 32, 3) example of floats.
    @Test func batchesAreNHWCFloats() throws {
        let folder = try DataFolder(path: writeCIFARFolder().folder)
        let batcher = Batcher(dataset: folder.test, batchSize: 2)
        batcher.startInOrder()
        #expect(batcher.load(batch: 0, on: Backends.c) == 2)
        #expect(batcher.images.value.shape == Shape(2, 32, 32, 3))
        let expected = folder.test.images.pixels[..<(2 * 3072)].map { Float($0) * (Float(1) / 255) }
        #expect(firstDifference(batcher.images.value.scalars, expected) == nil)
    }

    /// The folder that cifar-10-binary.tar.gz unpacks to is found inside --data, its batches.meta.txt ignored.
    @Test func theArchiveFolderIsLookedInto() throws {
        let parent = temporaryFolder()
        let (inside, training, _) = writeCIFARFolder(in: "\(parent)/cifar-10-batches-bin")
        try "airplane\nautomobile\n".write(toFile: "\(inside)/batches.meta.txt", atomically: true, encoding: .utf8)
        let folder = try DataFolder(path: parent)
        #expect(folder.train.labels == labels(Array(training.joined())))
    }

    /// `classes` sets the class count as it does for MNIST; labels above it are named with the training files.
    @Test func classesSetsTheClassCount() throws {
        let path = writeCIFARFolder().folder
        #expect(try DataFolder(path: path, classes: 12).train.classCount == 12)
        let trainingFiles = (1...5).map { "\(path)/data_batch_\($0).bin" }.joined(separator: ", ")
        #expect(throws: DendriteError.data(path: trainingFiles, problem: "label 3 is outside the 3 classes 0..<3")) {
            try DataFolder(path: path, classes: 3)
        }
    }

    static let malformed: [(name: String, bytes: [UInt8], problem: String)] = {
        let record = cifarBatch(labels: [3], seed: 1)
        let tooMany = [UInt8](repeating: 0, count: 10_001 * 3073)
        return [
            ("empty", [], "holds zero records"),
            ("truncated", Array(record.dropLast()), "its 3072 bytes are not a whole number of 3073-byte records "
                + "(a label byte, then 3×32×32 pixel bytes): the last is 3072 bytes"),
            ("trailing bytes", record + record.prefix(100), "its 3173 bytes are not a whole number of 3073-byte records "
                + "(a label byte, then 3×32×32 pixel bytes): the last is 100 bytes"),
            ("label 10", record + cifarBatch(labels: [10], seed: 2), "record 1 (at byte 3073) has label 10; CIFAR-10 labels are 0–9"),
            ("label 255", cifarBatch(labels: [255], seed: 2), "record 0 (at byte 0) has label 255; CIFAR-10 labels are 0–9"),
            ("too many records", tooMany, "holds more than 10000 records, the size of a CIFAR-10 batch"),
            // A small gzip file inflating to 30 MB of valid-looking records: refused after the 10,000th.
            ("gzip of too many records", gzipped(tooMany), "holds more than 10000 records, the size of a CIFAR-10 batch"),
            ("truncated gzip", Array(gzipped(record).prefix(20)), "truncated gzip data"),
            ("gzip of nothing", gzipped([]), "holds zero records"),
        ]
    }()

    @Test(arguments: malformed.map(\.name)) func malformedBatchFilesAreNamed(malformation name: String) throws {
        let (_, bytes, problem) = CIFAR10Tests.malformed.first { $0.name == name }!
        #expect(throws: DendriteError.data(path: "f", problem: problem)) { try CIFAR10.parse(bytes, path: "f") }
        let folder = writeCIFARFolder().folder
        let file = "\(folder)/data_batch_3.bin"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        #expect(throws: DendriteError.data(path: file, problem: problem)) { try DataFolder(path: folder) }
    }

    @Test(arguments: ["data_batch_4.bin", "test_batch.bin"]) func missingBatchFilesAreNamed(file: String) throws {
        let folder = writeCIFARFolder().folder
        try FileManager.default.removeItem(atPath: "\(folder)/\(file)")
        #expect(throws: DendriteError.data(path: "\(folder)/\(file)[.gz]", problem: "no such file")) { try DataFolder(path: folder) }
    }

    @Test func aFolderOfNeitherFormatSaysWhatWasLookedFor() throws {
        let folder = temporaryFolder()
        try FileManager.default.createDirectory(atPath: "\(folder)/cifar-10-batches-bin", withIntermediateDirectories: false)
        #expect(throws: DendriteError.data(path: folder, problem: "holds no data: expected the four MNIST-format files "
            + "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) or the six "
            + "CIFAR-10 batch files (data_batch_1.bin … data_batch_5.bin, test_batch.bin) in it or in its cifar-10-batches-bin "
            + "folder, each plain or .gz")) {
            try DataFolder(path: folder)
        }
    }

    @Test func aFolderOfBothFormatsIsRefused() throws {
        let folder = writeSyntheticFolder(train: 10, test: 10)
        _ = writeCIFARFolder(compressed: true, in: folder)
        #expect(throws: DendriteError.data(path: folder, problem:
            "holds both MNIST-format and CIFAR-10 files; give each data set its own folder")) {
            try DataFolder(path: folder)
        }
    }
}

/// `dendrite train` and `eval` on CIFAR-10 data, run as a user runs them.
extension CLITests {
    @Test func trainsAndEvaluatesAConvNetOnCIFAR10() throws {
        let data = writeCIFARFolder(trainingRecords: [8, 8, 8, 8, 8], testRecords: 10).folder
        let run = temporaryFolder()
        let (status, output) = try dendrite(["train", "--data", data, "--layers", "conv 4 3x3, relu, maxpool 2, flatten, dense 10",
                                             "--epochs", "1", "--batch-size", "16", "--log-every", "0", "--checkpoint-dir", run])
        #expect(status == 0 && output.contains("Training on 40 images"), "\(output)")
        let checkpoint = try #require(Checkpoint.files(in: run).last)
        let configuration = try Checkpoint.read(path: checkpoint).configuration
        #expect(configuration.inputShape == [32, 32, 3] && configuration.classes == 10)
        let evaluated = try dendrite(["eval", "--checkpoint", checkpoint, "--data", data])
        #expect(try evaluated.status == 0 && evaluated.output.hasPrefix(figures(output) + " (10 images"), "\(evaluated.output)")
    }

    @Test func badCIFAR10DataIsAnErrorNamingTheFile() throws {
        let data = writeCIFARFolder().folder
        try Data(cifarBatch(labels: [1, 12], seed: 3)).write(to: URL(fileURLWithPath: "\(data)/data_batch_2.bin"))
        try expectError(["train", "--data", data, "--checkpoint-dir", temporaryFolder()],
                        mentioning: "\(data)/data_batch_2.bin: record 1 (at byte 3073) has label 12")
    }

    /// A checkpoint of grey 6×6 images does not evaluate colour 32×32 ones (of as many classes).
    @Test func evalRefusesAModelTrainedOnOtherShapes() throws {
        let run = temporaryFolder()
        let trained = try dendrite(["train", "--data", CLITests.data, "--classes", "10", "--hidden", "0", "--log-every", "0",
                                    "--checkpoint-dir", run])
        #expect(trained.status == 0, "\(trained.output)")
        let checkpoint = try #require(Checkpoint.files(in: run).last)
        let data = writeCIFARFolder().folder
        try expectError(["eval", "--checkpoint", checkpoint, "--data", data],
                        mentioning: "was trained on examples of shape [6, 6, 1]; \(data) has [32, 32, 3]")
    }
}

/// The binary CIFAR-10 format (https://www.cs.toronto.edu/~kriz/cifar.html): a batch file is a run of
/// 3073-byte records, each a label byte (0–9) then a 32×32 colour image stored plane by plane: 1024 red bytes,
/// 1024 green, 1024 blue, each plane row by row. There is no header; a file's length gives its record count.
/// The training set is `data_batch_1.bin` … `data_batch_5.bin` in that order, the test set `test_batch.bin`.
/// Files may be gzip-compressed.
public enum CIFAR10 {
    public static let side = 32, channels = 3, classCount = 10
    /// The label byte, then the image.
    static let recordSize = 1 + side * side * channels
    /// The official batches hold 10,000 records each. A file holding more is refused: with no header to
    /// check, a small gzip file could otherwise inflate to gigabytes of valid records (all zeros, say).
    public static let maxRecordsPerFile = 10_000
    static let trainingFiles = (1...5).map { "data_batch_\($0).bin" }
    static let testFile = "test_batch.bin"
    /// The folder that the official archive, cifar-10-binary.tar.gz, unpacks to.
    static let archiveFolder = "cifar-10-batches-bin"

    /// Parses a batch file's bytes already in memory (the fuzz target calls this): its images, converted to
    /// the model's channels-last layout (NHWC) so that batches need no conversion but to floats, and its labels.
    public static func parse(_ raw: [UInt8], path: String) throws -> (images: Images, labels: [UInt8]) {
        func fail(_ problem: String) -> DendriteError { .data(path: path, problem: problem) }
        let largest = maxRecordsPerFile * recordSize
        // Compressed data is inflated no further than the largest batch, and one byte more to tell a larger one,
        // into a buffer no larger than the compressed bytes can fill. (No batch starts like gzip, 1f 8b: its
        // first byte is a label.)
        let bytes = GzipReader.isCompressed(raw)
            ? try GzipReader(raw, path: path).read(Swift.min(largest, raw.count * GzipReader.maxExpansion) + 1) : raw
        guard !bytes.isEmpty else { throw fail("holds zero records") }
        guard bytes.count <= largest else {
            throw fail("holds more than \(maxRecordsPerFile) records, the size of a CIFAR-10 batch")
        }
        guard bytes.count % recordSize == 0 else {
            throw fail("its \(bytes.count) bytes are not a whole number of \(recordSize)-byte records (a label byte, "
                + "then \(channels)×\(side)×\(side) pixel bytes): the last is \(bytes.count % recordSize) bytes")
        }
        let count = bytes.count / recordSize
        let labels = stride(from: 0, to: bytes.count, by: recordSize).map { bytes[$0] }
        if let record = labels.firstIndex(where: { Int($0) >= classCount }) {
            throw fail("record \(record) (at byte \(record * recordSize)) has label \(labels[record]); "
                + "CIFAR-10 labels are 0–\(classCount - 1)")
        }
        let plane = side * side
        let pixels = [UInt8](unsafeUninitializedCapacity: count * plane * channels) { interleaved, initialized in
            bytes.withUnsafeBufferPointer { records in
                for record in 0..<count {
                    let planes = records.baseAddress! + record * recordSize + 1
                    let image = interleaved.baseAddress! + record * plane * channels
                    for pixel in 0..<plane {
                        for channel in 0..<channels { image[pixel * channels + channel] = planes[channel * plane + pixel] }
                    }
                }
            }
            initialized = count * plane * channels
        }
        return (Images(count: count, height: side, width: side, channels: channels, pixels: pixels), labels)
    }

    /// Reads a batch file (gzip or not).
    public static func readBatch(path: String) throws -> (images: Images, labels: [UInt8]) {
        try parse(readDataFile(at: path), path: path)
    }

    /// The training set (the five training batches, in order) and the test set of a folder holding the six
    /// batch files. `classes` sets the class count instead of CIFAR-10's 10.
    static func loadFolder(_ folder: String, classes: Int?) throws -> (train: Dataset, test: Dataset) {
        // Every file is found before any is read: a missing one fails at once.
        let trainingPaths = try trainingFiles.map { try DataFolder.locate($0, in: folder) }
        let testPath = try DataFolder.locate(testFile, in: folder)
        var pixels: [UInt8] = [], labels: [UInt8] = []
        for path in trainingPaths {
            let batch = try readBatch(path: path)
            pixels += batch.images.pixels
            labels += batch.labels
        }
        let trainingImages = Images(count: labels.count, height: side, width: side, channels: channels, pixels: pixels)
        let trainingFilesNamed = trainingPaths.joined(separator: ", ")
        let train = try Dataset(images: trainingImages, labels: labels, classCount: classes ?? classCount,
                                imagesPath: trainingFilesNamed, labelsPath: trainingFilesNamed)
        let testBatch = try readBatch(path: testPath)
        let test = try Dataset(images: testBatch.images, labels: testBatch.labels, classCount: train.classCount,
                               imagesPath: testPath, labelsPath: testPath)
        return (train, test)
    }
}

import Foundation

/// Labeled images held as bytes (a quarter of the memory of floats); batches convert them on the fly.
public struct Dataset: Sendable {
    public let images: Images
    public let labels: [Int32]
    public let classCount: Int

    public var count: Int { images.count }
    public var featureCount: Int { images.featureCount }
    /// The shape of one example as a model sees it: (height, width, channels), channels last (NHWC).
    public var exampleShape: [Int] { [images.height, images.width, images.channels] }

    /// Pairs images with labels, checking that they agree. `classCount` defaults to the largest label + 1, and
    /// then every class below it must have an example: one stray label of 255 must not build a 256-class model.
    public init(images: Images, labels: [UInt8], classCount: Int? = nil, imagesPath: String = "images",
                labelsPath: String = "labels") throws {
        guard images.count > 0 else { throw DendriteError.data(path: imagesPath, problem: "holds zero images") }
        guard images.featureCount > 0 else {
            throw DendriteError.data(path: imagesPath, problem: "images are \(images.height)×\(images.width) pixels")
        }
        guard images.count == labels.count else {
            throw DendriteError.data(path: labelsPath,
                                     problem: "\(labels.count) labels for \(images.count) images in \(imagesPath)")
        }
        let classes = classCount ?? (Int(labels.max() ?? 0) + 1)
        if classCount == nil {
            var present = [Bool](repeating: false, count: classes)
            for label in labels { present[Int(label)] = true }
            let missing = (0..<classes).filter { !present[$0] }
            guard missing.isEmpty else {
                throw DendriteError.data(path: labelsPath, problem: "the largest label is \(classes - 1), but "
                    + "\(Dataset.describe(missing)) \(missing.count == 1 ? "has" : "have") no example; "
                    + "if the data really has \(classes) classes, pass --classes \(classes)")
            }
        }
        if let bad = labels.first(where: { Int($0) >= classes }) {
            throw DendriteError.data(path: labelsPath, problem: "label \(bad) is outside the \(classes) classes 0..<\(classes)")
        }
        self.images = images
        self.labels = labels.map(Int32.init)
        self.classCount = classes
    }

    /// "label 3" or "labels 1, 3, 10–254": runs of consecutive labels shortened.
    private static func describe(_ labels: [Int]) -> String {
        var runs: [String] = []
        var start = 0
        while start < labels.count {
            var end = start
            while end + 1 < labels.count && labels[end + 1] == labels[end] + 1 { end += 1 }
            runs.append(end == start ? "\(labels[start])" : end == start + 1 ? "\(labels[start]), \(labels[end])"
                : "\(labels[start])–\(labels[end])")
            start = end + 1
        }
        return (labels.count == 1 ? "label " : "labels ") + runs.joined(separator: ", ")
    }
}

/// The training and test sets of a data folder, in either format Dendrite reads, told apart by the names of
/// the files: MNIST's four IDX files, or CIFAR-10's six batch files (directly in the folder, or in the
/// `cifar-10-batches-bin` folder that the official archive unpacks to). Any file may have a `.gz` suffix.
public struct DataFolder: Sendable {
    public let train: Dataset
    public let test: Dataset

    /// Debian's `dataset-fashion-mnist` package puts the real Fashion-MNIST here.
    public static let defaultPath = "/usr/share/datasets/fashion-mnist"
    static let mnistFiles = (trainImages: "train-images-idx3-ubyte", trainLabels: "train-labels-idx1-ubyte",
                             testImages: "t10k-images-idx3-ubyte", testLabels: "t10k-labels-idx1-ubyte")

    /// Loads a folder of either format. `classes` sets the class count instead of the format's (MNIST's is
    /// inferred from the training labels, CIFAR-10's is 10).
    public init(path: String, classes: Int? = nil) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DendriteError.data(path: path, problem: path == DataFolder.defaultPath
                ? "no such folder; install the data with: apt-get install dataset-fashion-mnist"
                : "no such folder")
        }
        let sets = switch try DataFolder.format(of: path) {
        case .mnist: try DataFolder.loadMNIST(path, classes: classes)
        case .cifar10(let folder): try CIFAR10.loadFolder(folder, classes: classes)
        }
        train = sets.train
        test = sets.test
    }

    private enum Format {
        case mnist
        case cifar10(folder: String)
    }

    /// The format whose files the folder holds; any one of them decides, so that a missing one is named rather
    /// than the folder said to hold no data. The archive's folder is looked into only when the folder itself
    /// holds neither format's files.
    private static func format(of path: String) throws -> Format {
        func holdsAny(_ names: [String], in folder: String) -> Bool {
            names.contains { somethingExists(at: "\(folder)/\($0)") || somethingExists(at: "\(folder)/\($0).gz") }
        }
        let mnistNames = [mnistFiles.trainImages, mnistFiles.trainLabels, mnistFiles.testImages, mnistFiles.testLabels]
        let cifarNames = CIFAR10.trainingFiles + [CIFAR10.testFile]
        switch (holdsAny(mnistNames, in: path), holdsAny(cifarNames, in: path)) {
        case (true, true):
            throw DendriteError.data(path: path, problem: "holds both MNIST-format and CIFAR-10 files; give each data set its own folder")
        case (true, false): return .mnist
        case (false, true): return .cifar10(folder: path)
        case (false, false):
            let archiveFolder = "\(path)/\(CIFAR10.archiveFolder)"
            if holdsAny(cifarNames, in: archiveFolder) { return .cifar10(folder: archiveFolder) }
            throw DendriteError.data(path: path, problem: "holds no data: expected the four MNIST-format files ("
                + mnistNames.joined(separator: ", ") + ") or the six CIFAR-10 batch files (data_batch_1.bin … "
                + "data_batch_5.bin, test_batch.bin) in it or in its \(CIFAR10.archiveFolder) folder, each plain or .gz")
        }
    }

    /// The path of a data file of the folder: `name`, or else `name.gz`.
    static func locate(_ name: String, in folder: String) throws -> String {
        for candidate in ["\(folder)/\(name)", "\(folder)/\(name).gz"] where somethingExists(at: candidate) {
            if let problem = regularFileProblem(at: candidate) { throw DendriteError.data(path: candidate, problem: problem) }
            return candidate
        }
        throw DendriteError.data(path: "\(folder)/\(name)[.gz]", problem: "no such file")
    }

    private static func loadMNIST(_ path: String, classes: Int?) throws -> (train: Dataset, test: Dataset) {
        let trainImagesPath = try locate(mnistFiles.trainImages, in: path)
        let trainLabelsPath = try locate(mnistFiles.trainLabels, in: path)
        let testImagesPath = try locate(mnistFiles.testImages, in: path)
        let testLabelsPath = try locate(mnistFiles.testLabels, in: path)
        let trainImages = try IDX.readImages(path: trainImagesPath)
        let trainLabels = try IDX.readLabels(path: trainLabelsPath)
        let testImages = try IDX.readImages(path: testImagesPath)
        let testLabels = try IDX.readLabels(path: testLabelsPath)
        let train = try Dataset(images: trainImages, labels: trainLabels, classCount: classes, imagesPath: trainImagesPath,
                                labelsPath: trainLabelsPath)
        guard testImages.height == trainImages.height, testImages.width == trainImages.width else {
            throw DendriteError.data(path: testImagesPath, problem:
                "images are \(testImages.height)×\(testImages.width), training images are \(trainImages.height)×\(trainImages.width)")
        }
        let test = try Dataset(images: testImages, labels: testLabels, classCount: train.classCount,
                               imagesPath: testImagesPath, labelsPath: testLabelsPath)
        return (train, test)
    }
}

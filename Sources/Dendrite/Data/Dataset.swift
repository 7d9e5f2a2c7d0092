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

/// The four standard files of an MNIST-format folder, train and test.
public struct DataFolder: Sendable {
    public let train: Dataset
    public let test: Dataset

    /// Debian's `dataset-fashion-mnist` package puts the real Fashion-MNIST here.
    public static let defaultPath = "/usr/share/datasets/fashion-mnist"
    static let stems = (trainImages: "train-images-idx3-ubyte", trainLabels: "train-labels-idx1-ubyte",
                        testImages: "t10k-images-idx3-ubyte", testLabels: "t10k-labels-idx1-ubyte")

    /// Loads a folder holding the four files, each plain or with a `.gz` suffix. `classes` sets the class
    /// count instead of inferring it from the training labels.
    public init(path: String, classes: Int? = nil) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DendriteError.data(path: path, problem: path == DataFolder.defaultPath
                ? "no such folder; install the data with: apt-get install dataset-fashion-mnist"
                : "no such folder")
        }
        func locate(_ stem: String) throws -> String {
            for candidate in ["\(path)/\(stem)", "\(path)/\(stem).gz"] where somethingExists(at: candidate) {
                if let problem = regularFileProblem(at: candidate) { throw DendriteError.data(path: candidate, problem: problem) }
                return candidate
            }
            throw DendriteError.data(path: "\(path)/\(stem)[.gz]", problem: "no such file")
        }
        let trainImagesPath = try locate(DataFolder.stems.trainImages)
        let trainLabelsPath = try locate(DataFolder.stems.trainLabels)
        let testImagesPath = try locate(DataFolder.stems.testImages)
        let testLabelsPath = try locate(DataFolder.stems.testLabels)
        let trainImages = try IDX.readImages(path: trainImagesPath)
        let trainLabels = try IDX.readLabels(path: trainLabelsPath)
        let testImages = try IDX.readImages(path: testImagesPath)
        let testLabels = try IDX.readLabels(path: testLabelsPath)
        train = try Dataset(images: trainImages, labels: trainLabels, classCount: classes, imagesPath: trainImagesPath,
                            labelsPath: trainLabelsPath)
        guard testImages.height == trainImages.height, testImages.width == trainImages.width else {
            throw DendriteError.data(path: testImagesPath, problem:
                "images are \(testImages.height)×\(testImages.width), training images are \(trainImages.height)×\(trainImages.width)")
        }
        test = try Dataset(images: testImages, labels: testLabels, classCount: train.classCount,
                           imagesPath: testImagesPath, labelsPath: testLabelsPath)
    }
}

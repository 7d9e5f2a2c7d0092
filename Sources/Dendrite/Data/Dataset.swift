import Foundation

/// Labeled images held as bytes (a quarter of the memory of floats); batches convert them on the fly.
public struct Dataset: Sendable {
    public let images: IDX.Images
    public let labels: [Int32]
    public let classCount: Int

    public var count: Int { images.count }
    public var featureCount: Int { images.featureCount }
    /// The shape of one example as a model sees it: (height, width, channels), channels last (NHWC).
    public var exampleShape: [Int] { [images.height, images.width, 1] }

    /// Pairs images with labels, checking that they agree. `classCount` defaults to max label + 1.
    public init(images: IDX.Images, labels: [UInt8], classCount: Int? = nil, imagesPath: String = "images",
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
        if let bad = labels.first(where: { Int($0) >= classes }) {
            throw DendriteError.data(path: labelsPath, problem: "label \(bad) is outside the \(classes) classes 0..<\(classes)")
        }
        self.images = images
        self.labels = labels.map(Int32.init)
        self.classCount = classes
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

    /// Loads a folder holding the four files, each plain or with a `.gz` suffix.
    public init(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DendriteError.data(path: path, problem: path == DataFolder.defaultPath
                ? "no such folder; install the data with: apt-get install dataset-fashion-mnist"
                : "no such folder")
        }
        func locate(_ stem: String) throws -> String {
            for candidate in ["\(path)/\(stem)", "\(path)/\(stem).gz"]
            where FileManager.default.fileExists(atPath: candidate) { return candidate }
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
        train = try Dataset(images: trainImages, labels: trainLabels, imagesPath: trainImagesPath,
                            labelsPath: trainLabelsPath)
        guard testImages.height == trainImages.height, testImages.width == trainImages.width else {
            throw DendriteError.data(path: testImagesPath, problem:
                "images are \(testImages.height)×\(testImages.width), training images are \(trainImages.height)×\(trainImages.width)")
        }
        test = try Dataset(images: testImages, labels: testLabels, classCount: train.classCount,
                           imagesPath: testImagesPath, labelsPath: testLabelsPath)
    }
}

import CZlib
import Foundation
@testable import Dendrite

/// A fresh temporary folder for one test.
func temporaryFolder(_ name: String = #function) -> String {
    let path = NSTemporaryDirectory() + "dendrite-tests-\(getpid())-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// IDX bytes: big-endian magic 0x000008dd, dimensions, then the data.
func idxBytes(dimensions: [Int], payload: [UInt8]) -> [UInt8] {
    var bytes: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
    for d in dimensions { bytes += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
    return bytes + payload
}

/// gzip-compresses with zlib (the reader's other half, used only to make test files).
func gzipped(_ input: [UInt8]) -> [UInt8] {
    var stream = z_stream()
    precondition(deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY,
                               ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK)
    defer { deflateEnd(&stream) }
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 64)
    var input = input
    let produced = input.withUnsafeMutableBufferPointer { source in
        output.withUnsafeMutableBufferPointer { target in
            stream.next_in = source.baseAddress
            stream.avail_in = uInt(source.count)
            stream.next_out = target.baseAddress
            stream.avail_out = uInt(target.count)
            precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
            return target.count - Int(stream.avail_out)
        }
    }
    return Array(output[0..<produced])
}

/// A learnable toy dataset: class k lights up band k of a side×side image, plus noise.
func syntheticImages(count: Int, side: Int = 6, classes: Int = 4, seed: UInt64) -> (pixels: [UInt8], labels: [UInt8]) {
    var generator = SeededGenerator(seed: seed)
    var pixels = [UInt8](), labels = [UInt8]()
    for _ in 0..<count {
        let label = Int(generator.next() % UInt64(classes))
        labels.append(UInt8(label))
        for row in 0..<side {
            for _ in 0..<side {
                let band = row * classes / side == label
                let noise = Double(generator.next() % 100)
                pixels.append(UInt8(min(255, (band ? 150 : 20) + noise)))
            }
        }
    }
    return (pixels, labels)
}

/// Writes the four standard MNIST-format files of a toy dataset into a new folder.
func writeSyntheticFolder(train: Int = 256, test: Int = 128, side: Int = 6, compressed: Bool = false) -> String {
    let folder = temporaryFolder()
    let (trainPixels, trainLabels) = syntheticImages(count: train, side: side, seed: 1)
    let (testPixels, testLabels) = syntheticImages(count: test, side: side, seed: 2)
    let files: [(String, [UInt8])] = [
        ("train-images-idx3-ubyte", idxBytes(dimensions: [train, side, side], payload: trainPixels)),
        ("train-labels-idx1-ubyte", idxBytes(dimensions: [train], payload: trainLabels)),
        ("t10k-images-idx3-ubyte", idxBytes(dimensions: [test, side, side], payload: testPixels)),
        ("t10k-labels-idx1-ubyte", idxBytes(dimensions: [test], payload: testLabels)),
    ]
    for (name, bytes) in files {
        let path = "\(folder)/\(name)" + (compressed ? ".gz" : "")
        let written = FileManager.default.createFile(atPath: path, contents: Data(compressed ? gzipped(bytes) : bytes))
        precondition(written, "cannot write the test data file \(path)")
    }
    return folder
}

/// A variable of normal random values.
func randomVariable(_ shape: Shape, seed: UInt64, scale: Float = 1, requiresGrad: Bool = true) -> Variable {
    var generator = SeededGenerator(seed: seed)
    let values = (0..<shape.count).map { _ in scale * Float(generator.nextNormal()) }
    return Variable(Tensor(shape: shape, values: values), requiresGrad: requiresGrad)
}

/// The lab's MLP with these hidden sizes, ending in `classes` outputs (the synthetic data has 4).
func mlp(_ hidden: [Int], classes: Int = 4, activation: Activation = .relu) -> ModelSpec {
    .multilayerPerceptron(hidden: hidden, activation: activation, initializer: .randomNormal(), classes: classes)
}

/// The `dendrite` executable `swift test` built next to the test binary.
func dendriteExecutable() throws -> String {
    URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        .deletingLastPathComponent().appendingPathComponent("dendrite").path
}

/// Runs a program to its end; returns its exit status and its output (stdout and stderr together).
func runProcess(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, output)
}

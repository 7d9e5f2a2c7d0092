import Foundation

/// The IDX format of MNIST and Fashion-MNIST: a big-endian header (magic 0x0000_08_dd, where 08 is
/// "unsigned byte" and dd the number of dimensions, then one u32 per dimension) and the raw bytes.
/// Files may be gzip-compressed.
public enum IDX {
    /// Images: `count` of `height × width` bytes each.
    public struct Images: Sendable {
        public let count: Int, height: Int, width: Int
        public let pixels: [UInt8]
        public var featureCount: Int { height * width }

        /// Images from bytes already in memory (synthetic data, say): `count` images of `height × width`.
        public init(count: Int, height: Int, width: Int, pixels: [UInt8]) {
            precondition(count >= 0 && height >= 0 && width >= 0 && pixels.count == count * height * width,
                         "IDX.Images: \(pixels.count) pixels for \(count) images of \(height)×\(width)")
            self.count = count
            self.height = height
            self.width = width
            self.pixels = pixels
        }
    }

    /// Reads an idx3-ubyte image file (gzip or not).
    public static func readImages(path: String) throws -> Images {
        let (dims, payload) = try read(path: path, expectedDimensions: 3, kind: "idx3 image")
        return Images(count: dims[0], height: dims[1], width: dims[2], pixels: payload)
    }

    /// Reads an idx1-ubyte label file (gzip or not).
    public static func readLabels(path: String) throws -> [UInt8] {
        try read(path: path, expectedDimensions: 1, kind: "idx1 label").payload
    }

    /// Parses IDX bytes already in memory (the fuzz targets call this).
    public static func parse(_ raw: [UInt8], path: String, expectedDimensions: Int, kind: String) throws
        -> (dimensions: [Int], payload: [UInt8]) {
        let bytes = Gzip.isCompressed(raw) ? try Gzip.decompress(raw, path: path) : raw
        func fail(_ problem: String) -> DendriteError { .data(path: path, problem: problem) }
        guard bytes.count >= 4 else { throw fail("too short for an IDX header (\(bytes.count) bytes)") }
        guard bytes[0] == 0, bytes[1] == 0, bytes[2] == 0x08, Int(bytes[3]) == expectedDimensions else {
            let magic = bytes[0..<4].map { String(format: "%02x", $0) }.joined()
            let expected = String(format: "000008%02x", expectedDimensions)
            throw fail("wrong magic number 0x\(magic), expected 0x\(expected) (\(kind) file)")
        }
        let headerSize = 4 + 4 * expectedDimensions
        guard bytes.count >= headerSize else { throw fail("truncated IDX header") }
        var dimensions: [Int] = []
        var expectedCount = 1
        for d in 0..<expectedDimensions {
            let o = 4 + 4 * d
            let value = Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
            dimensions.append(value)
            let (product, overflow) = expectedCount.multipliedReportingOverflow(by: value)
            guard !overflow else { throw fail("header dimensions are too large") }
            expectedCount = product
        }
        let available = bytes.count - headerSize
        guard available == expectedCount else {
            let shape = dimensions.map(String.init).joined(separator: "×")
            throw fail(available < expectedCount
                ? "truncated: header says \(shape) = \(expectedCount) bytes of data, file has \(available)"
                : "\(available - expectedCount) bytes of trailing data after \(shape) values")
        }
        return (dimensions, Array(bytes[headerSize...]))
    }

    private static func read(path: String, expectedDimensions: Int, kind: String) throws
        -> (dimensions: [Int], payload: [UInt8]) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw DendriteError.data(path: path, problem: "no such file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DendriteError.data(path: path, problem: "cannot read the file")
        }
        return try parse([UInt8](data), path: path, expectedDimensions: expectedDimensions, kind: kind)
    }
}

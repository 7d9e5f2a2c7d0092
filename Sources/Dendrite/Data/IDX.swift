import Foundation

/// The IDX format of MNIST and Fashion-MNIST: a big-endian header (magic 0x0000_08_dd, where 08 is
/// "unsigned byte" and dd the number of dimensions, then one u32 per dimension) and the raw bytes.
/// Files may be gzip-compressed.
public enum IDX {
    /// Reads an idx3-ubyte image file (gzip or not).
    public static func readImages(path: String) throws -> Images {
        let (dims, payload) = try read(path: path, expectedDimensions: 3, kind: "idx3 image")
        return Images(count: dims[0], height: dims[1], width: dims[2], pixels: payload)
    }

    /// Reads an idx1-ubyte label file (gzip or not).
    public static func readLabels(path: String) throws -> [UInt8] {
        try read(path: path, expectedDimensions: 1, kind: "idx1 label").payload
    }

    /// Parses IDX bytes already in memory (the fuzz targets call this). Compressed data is inflated in steps:
    /// the header first (so a file of the wrong kind fails at once), then exactly the bytes its dimensions
    /// require, then one byte more to detect trailing data.
    public static func parse(_ raw: [UInt8], path: String, expectedDimensions: Int, kind: String) throws
        -> (dimensions: [Int], payload: [UInt8]) {
        func fail(_ problem: String) -> DendriteError { .data(path: path, problem: problem) }
        let gzip = GzipReader.isCompressed(raw) ? try GzipReader(raw, path: path) : nil
        var offset = 0
        func read(_ count: Int) throws -> [UInt8] {
            if let gzip { return try gzip.read(count) }
            let end = offset + Swift.min(count, raw.count - offset)
            defer { offset = end }
            return Array(raw[offset..<end])
        }
        let magic = try read(4)
        guard magic.count == 4 else { throw fail("too short for an IDX header (\(magic.count) bytes)") }
        guard magic[0] == 0, magic[1] == 0, magic[2] == 0x08, Int(magic[3]) == expectedDimensions else {
            let found = magic.map { String(format: "%02x", $0) }.joined()
            let expected = String(format: "000008%02x", expectedDimensions)
            throw fail("wrong magic number 0x\(found), expected 0x\(expected) (\(kind) file)")
        }
        let header = try read(4 * expectedDimensions)
        guard header.count == 4 * expectedDimensions else { throw fail("truncated IDX header") }
        var dimensions: [Int] = []
        var expectedCount = 1
        for d in 0..<expectedDimensions {
            let o = 4 * d
            let value = Int(header[o]) << 24 | Int(header[o + 1]) << 16 | Int(header[o + 2]) << 8 | Int(header[o + 3])
            dimensions.append(value)
            let (product, overflow) = expectedCount.multipliedReportingOverflow(by: value)
            guard !overflow else { throw fail("header dimensions are too large") }
            expectedCount = product
        }
        let shape = dimensions.map(String.init).joined(separator: "×")
        func truncated(_ available: Int) -> DendriteError {
            fail("truncated: header says \(shape) = \(expectedCount) bytes of data, file has \(available)")
        }
        if gzip == nil {
            let available = raw.count - offset
            guard available == expectedCount else {
                throw available < expectedCount ? truncated(available)
                    : fail("\(available - expectedCount) bytes of trailing data after \(shape) values")
            }
            return (dimensions, Array(raw[offset...]))
        }
        // Refuse what the compressed bytes cannot hold before allocating for it.
        guard expectedCount / GzipReader.maxExpansion < raw.count else {
            throw fail("header says \(shape) = \(expectedCount) bytes of data, more than \(raw.count) bytes of gzip data can hold")
        }
        let payload = try read(expectedCount)
        guard payload.count == expectedCount else { throw truncated(payload.count) }
        guard try read(1).isEmpty else { throw fail("trailing data after the \(shape) values") }
        return (dimensions, payload)
    }

    private static func read(path: String, expectedDimensions: Int, kind: String) throws
        -> (dimensions: [Int], payload: [UInt8]) {
        try parse(readDataFile(at: path), path: path, expectedDimensions: expectedDimensions, kind: kind)
    }
}

import CZlib
import Foundation

/// The safetensors format: an 8-byte little-endian header length, a JSON header mapping each tensor name to
/// its dtype, shape and byte range in the data section (plus a `__metadata__` map of strings), then the data.
/// Dendrite writes F32 tensors only and adds a CRC-32 of the data section to the metadata, so silent
/// corruption is caught on read. PyTorch (`safetensors.torch.load_file`) and NumPy read these files.
public enum Safetensors {
    public static let checksumKey = "dendrite.crc32"

    /// Serializes tensors (in the given order) and metadata.
    public static func encode(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) -> [UInt8] {
        var data = [UInt8]()
        data.reserveCapacity(tensors.reduce(0) { $0 + 4 * $1.tensor.count })
        var entries: [String] = []
        for (name, tensor) in tensors {
            let begin = data.count
            UnsafeBufferPointer(start: tensor.pointer, count: tensor.count).withMemoryRebound(to: UInt8.self) {
                data.append(contentsOf: $0)  // little-endian floats on every platform Dendrite runs on
            }
            let shape = tensor.shape.dims.map(String.init).joined(separator: ",")
            entries.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(begin),\(data.count)]}")
        }
        var allMetadata = metadata
        allMetadata[checksumKey] = String(crc32(data))
        let metadataJSON = allMetadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(allMetadata[$0]!))" }
        var header = Array(("{\"__metadata__\":{" + metadataJSON.joined(separator: ",") + "}"
            + entries.map { "," + $0 }.joined() + "}").utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }  // pad so the data section is 8-byte aligned
        var bytes = [UInt8]()
        bytes.reserveCapacity(8 + header.count + data.count)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: header)
        bytes.append(contentsOf: data)
        return bytes
    }

    /// Parses and validates a safetensors file in memory: every size, offset and dtype is checked against
    /// the bytes present, and the checksum (when the file has one) against the data.
    public static func decode(_ bytes: [UInt8], path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        func fail(_ problem: String) -> DendriteError { .checkpoint(path: path, problem: problem) }
        guard bytes.count >= 8 else { throw fail("too short to be a safetensors file (\(bytes.count) bytes)") }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail("header length \(headerLength) runs past the end of the file (\(bytes.count) bytes): truncated?")
        }
        let dataStart = 8 + Int(headerLength)
        let headerBytes = Data(bytes[8..<dataStart])
        guard let json = try? JSONSerialization.jsonObject(with: headerBytes), let header = json as? [String: Any] else {
            throw fail("the header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        if let raw = header["__metadata__"] {
            guard let map = raw as? [String: String] else { throw fail("__metadata__ must map strings to strings") }
            metadata = map
        }
        let dataCount = bytes.count - dataStart
        var tensors: [String: Tensor] = [:]
        var ranges: [(Int, Int, String)] = []
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw fail("tensor '\(name)' has a malformed entry") }
            guard dtype == "F32" else { throw fail("tensor '\(name)' has dtype \(dtype); only F32 is supported") }
            guard shape.count <= Shape.maxRank, shape.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }) else {
                throw fail("tensor '\(name)' has an unsupported shape \(shape)")
            }
            let begin = offsets[0], end = offsets[1]
            // Shape's count, rows and cols multiply dimensions unchecked, so a zero-element shape like
            // [2^31-1, 2^31-1, 2^31-1, 0] would trap there: the product of the non-zero dimensions must fit.
            var nonZeroProduct = 1
            for d in shape {
                let (product, overflow) = nonZeroProduct.multipliedReportingOverflow(by: Swift.max(d, 1))
                guard !overflow else { throw fail("tensor '\(name)' has a shape \(shape) too large to address") }
                nonZeroProduct = product
            }
            let elements = shape.contains(0) ? 0 : nonZeroProduct
            guard begin >= 0, end >= begin, end <= dataCount else {
                throw fail("tensor '\(name)' has offsets [\(begin), \(end)] outside the \(dataCount) data bytes")
            }
            guard elements <= dataCount / 4, end - begin == 4 * elements else {
                throw fail("tensor '\(name)' of shape \(shape) needs \(elements) floats but its offsets hold \(end - begin) bytes")
            }
            ranges.append((begin, end, name))
            var tensor = Tensor(zeros: Shape(shape))
            let destination = UnsafeMutableRawPointer(tensor.mutablePointer)
            bytes.withUnsafeBytes { raw in
                destination.copyMemory(from: raw.baseAddress! + dataStart + begin, byteCount: end - begin)
            }
            tensors[name] = tensor
        }
        ranges.sort { $0.0 < $1.0 }
        for (previous, next) in zip(ranges, ranges.dropFirst()) where next.0 < previous.1 {
            throw fail("tensors '\(previous.2)' and '\(next.2)' overlap")
        }
        if let expected = metadata[checksumKey] {
            let actual = bytes.withUnsafeBufferPointer { crc32(UnsafeBufferPointer(rebasing: $0[dataStart...])) }
            guard expected == String(actual) else {
                throw fail("checksum mismatch (stored \(expected), computed \(actual)): the file is corrupted")
            }
        }
        return (tensors, metadata)
    }

    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String], to path: String) throws {
        try AtomicFile.write(encode(tensors, metadata: metadata), to: path)
    }

    public static func read(path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DendriteError.checkpoint(path: path, problem: "no such file or not readable")
        }
        return try decode([UInt8](data), path: path)
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { crc32($0) }
    }

    static func crc32(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var crc = CZlib.crc32(0, nil, 0)
        var offset = 0
        while offset < bytes.count {  // zlib takes 32-bit lengths
            let chunk = Swift.min(bytes.count - offset, 1 << 30)
            crc = CZlib.crc32(crc, bytes.baseAddress! + offset, uInt(chunk))
            offset += chunk
        }
        return UInt32(crc)
    }

    private static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}

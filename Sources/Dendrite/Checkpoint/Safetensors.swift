import CZlib
import Foundation

/// The safetensors format: an 8-byte little-endian header length, a JSON header mapping each tensor name to
/// its dtype, shape and byte range in the data section (plus a `__metadata__` map of strings), then the data.
/// Dendrite writes F32 tensors only. PyTorch (`safetensors.torch.load_file`) and NumPy read these files.
///
/// Integrity: Dendrite adds to the metadata a CRC-32 per tensor (`dendrite.crc32.<name>`, over its name,
/// dtype, shape and data) and one of the metadata itself (`dendrite.crc32.__metadata__`, over every key and
/// value but the checksums, in key order). Neither depends on where a writer puts each tensor, so a file whose tensors
/// another tool reordered still verifies; a mismatch names the tensor or the metadata. Files without these
/// keys (written by NumPy or PyTorch) are read unverified.
public enum Safetensors {
    public static let checksumPrefix = "dendrite.crc32."
    /// "__metadata__" is reserved by the format, so it cannot collide with a tensor's name.
    public static let metadataChecksumKey = checksumPrefix + "__metadata__"
    /// Older Dendrite files carry one CRC-32 of the data section under this key; it is still checked.
    static let dataChecksumKey = "dendrite.crc32"
    /// safetensors' own limit: a larger header is refused before it is parsed.
    public static let maxHeaderBytes = 100_000_000

    /// Serializes tensors (in the given order) and metadata, adding the checksums.
    public static func encode(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) -> [UInt8] {
        var data = [UInt8]()
        data.reserveCapacity(tensors.reduce(0) { $0 + 4 * $1.tensor.count })
        var entries: [String] = []
        var allMetadata = metadata.filter { !isChecksumKey($0.key) }
        for (name, tensor) in tensors {
            let begin = data.count
            let raw = UnsafeRawBufferPointer(start: tensor.pointer, count: 4 * tensor.count)
            data.append(contentsOf: raw)  // little-endian floats on every platform Dendrite runs on
            allMetadata[checksumPrefix + name] = String(tensorChecksum(name: name, dtype: "F32", shape: tensor.shape.dims, data: raw))
            let shape = tensor.shape.dims.map(String.init).joined(separator: ",")
            entries.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(begin),\(data.count)]}")
        }
        allMetadata[metadataChecksumKey] = String(metadataChecksum(allMetadata))
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

    /// Parses and validates a safetensors file in memory: the header's size and shape, every size, offset and
    /// dtype against the bytes present (the tensors must tile the data section, as the format requires), and
    /// the checksums when the file has them.
    public static func decode(_ bytes: [UInt8], path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try bytes.withUnsafeBufferPointer { try decode($0, path: path) }
    }

    private static func decode(_ bytes: UnsafeBufferPointer<UInt8>, path: String) throws
        -> (tensors: [String: Tensor], metadata: [String: String]) {
        func fail(_ problem: String) -> DendriteError { .checkpoint(path: path, problem: problem) }
        guard bytes.count >= 8 else { throw fail("too short to be a safetensors file (\(bytes.count) bytes)") }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(maxHeaderBytes) else {
            throw fail("its header length \(headerLength) is over the safetensors limit of \(maxHeaderBytes) bytes")
        }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail("header length \(headerLength) runs past the end of the file (\(bytes.count) bytes): truncated?")
        }
        let dataStart = 8 + Int(headerLength)
        let header = try SafetensorsHeader(UnsafeBufferPointer(rebasing: bytes[8..<dataStart]), path: path)
        let data = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[dataStart...]))
        for entry in header.entries { try validate(entry, dataCount: data.count, fail: fail) }
        var tensors: [String: Tensor] = [:]
        tensors.reserveCapacity(header.entries.count)
        for entry in header.entries {
            var tensor = Tensor(zeros: Shape(entry.shape))
            UnsafeMutableRawPointer(tensor.mutablePointer).copyMemory(from: data.baseAddress! + entry.begin,
                                                                      byteCount: entry.end - entry.begin)
            guard tensors.updateValue(tensor, forKey: entry.name) == nil else { throw fail("tensor '\(entry.name)' appears twice") }
        }
        try checkTiling(header.entries, dataCount: data.count, fail: fail)
        try verifyChecksums(header, names: tensors, data: data, fail: fail)
        return (tensors, header.metadata)
    }

    private static func validate(_ entry: SafetensorsHeader.Entry, dataCount: Int, fail: (String) -> DendriteError) throws {
        let (name, shape, begin, end) = (entry.name, entry.shape, entry.begin, entry.end)
        guard entry.dtype == "F32" else { throw fail("tensor '\(name)' has dtype \(entry.dtype); only F32 is supported") }
        guard shape.count <= Shape.maxRank, shape.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }) else {
            throw fail("tensor '\(name)' has an unsupported shape \(shape)")
        }
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
    }

    /// The tensors' byte ranges must cover the data section without overlaps or gaps, as safetensors requires:
    /// no byte of the file escapes the checksums.
    private static func checkTiling(_ entries: [SafetensorsHeader.Entry], dataCount: Int,
                                    fail: (String) -> DendriteError) throws {
        var covered = 0
        var previous: String?
        for entry in entries.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            if entry.begin < covered, let previous { throw fail("tensors '\(previous)' and '\(entry.name)' overlap") }
            guard entry.begin == covered else {
                throw fail("tensor '\(entry.name)' starts at data byte \(entry.begin), leaving bytes \(covered)..<\(entry.begin) unused")
            }
            covered = entry.end
            previous = entry.name
        }
        guard covered == dataCount else { throw fail("the last \(dataCount - covered) data bytes belong to no tensor") }
    }

    /// `names` holds the file's tensors by name.
    private static func verifyChecksums(_ header: SafetensorsHeader, names: [String: Tensor], data: UnsafeRawBufferPointer,
                                        fail: (String) -> DendriteError) throws {
        let metadata = header.metadata
        guard metadata.keys.contains(where: { $0.hasPrefix(checksumPrefix) }) else {
            if let expected = metadata[dataChecksumKey], expected != String(crc32(data)) {
                throw fail("checksum mismatch (stored \(expected), computed \(crc32(data))): the file is corrupted")
            }
            return
        }
        var damaged: [String] = []
        if metadata[metadataChecksumKey] != String(metadataChecksum(metadata)) { damaged.append("the metadata") }
        for entry in header.entries {
            let bytes = UnsafeRawBufferPointer(rebasing: data[entry.begin..<entry.end])
            let computed = tensorChecksum(name: entry.name, dtype: entry.dtype, shape: entry.shape, data: bytes)
            if metadata[checksumPrefix + entry.name] != String(computed) { damaged.append("tensor '\(entry.name)'") }
        }
        let listed = metadata.keys.filter { $0.hasPrefix(checksumPrefix) && $0 != metadataChecksumKey }
            .map { String($0.dropFirst(checksumPrefix.count)) }
        for name in listed.sorted() where names[name] == nil { damaged.append("tensor '\(name)' (missing)") }
        guard damaged.isEmpty else {
            throw fail("checksum mismatch in \(damaged.joined(separator: ", ")): the file is corrupted or was edited")
        }
    }

    private static func isChecksumKey(_ key: String) -> Bool { key.hasPrefix(checksumPrefix) || key == dataChecksumKey }

    /// CRC-32 of a tensor's name, dtype and shape (each followed by a 0 byte) and its data.
    static func tensorChecksum(name: String, dtype: String, shape: [Int], data: UnsafeRawBufferPointer) -> UInt32 {
        var description = Array(name.utf8) + [0] + Array(dtype.utf8) + [0]
        description += Array(shape.map(String.init).joined(separator: ",").utf8) + [0]
        return description.withUnsafeBytes { crc32(data, continuing: crc32($0)) }
    }

    /// CRC-32 of the metadata but its checksums: each key and value followed by a 0 byte, keys in byte order.
    static func metadataChecksum(_ metadata: [String: String]) -> UInt32 {
        var crc: UInt32 = 0
        for key in metadata.keys.filter({ !$0.hasPrefix(checksumPrefix) }).sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            for var text in [key, metadata[key]!] {
                crc = text.withUTF8 { crc32(UnsafeRawBufferPointer($0), continuing: crc) }
                crc = withUnsafeBytes(of: UInt8(0)) { crc32($0, continuing: crc) }
            }
        }
        return crc
    }

    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String], to path: String) throws {
        try AtomicFile.write(encode(tensors, metadata: metadata), to: path)
    }

    public static func read(path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        if let problem = regularFileProblem(at: path) { throw DendriteError.checkpoint(path: path, problem: problem) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DendriteError.checkpoint(path: path, problem: "cannot be read")
        }
        return try decode([UInt8](data), path: path)
    }

    static func crc32(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        var crc = uLong(crc)
        var offset = 0
        while offset < bytes.count {  // zlib takes 32-bit lengths
            let chunk = Swift.min(bytes.count - offset, 1 << 30)
            crc = CZlib.crc32(crc, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset, uInt(chunk))
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

import Foundation
import Testing
@testable import Dendrite

@Suite struct CheckpointTests {
    let tensors: [(name: String, tensor: Tensor)] = [
        ("layers.1.weight", Tensor(shape: Shape(2, 3), values: [1, -2, 3.5, 0, .greatestFiniteMagnitude, -1e-30])),
        ("layers.1.bias", Tensor(shape: Shape([3]), values: [0.25, 0.5, 0.75])),
        ("step", Tensor(shape: .scalar, values: [42])),
    ]

    @Test func safetensorsRoundTrip() throws {
        let bytes = Safetensors.encode(tensors, metadata: ["note": "a \"quoted\" value\n"])
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.1) << (8 * $1.0) }
        #expect((8 + headerLength) % 8 == 0, "the data section starts 8-byte aligned")
        let (decoded, metadata) = try Safetensors.decode(bytes, path: "t")
        #expect(metadata["note"] == "a \"quoted\" value\n")
        for (name, tensor) in tensors {
            #expect(decoded[name]?.shape == tensor.shape)
            #expect(decoded[name]?.scalars == tensor.scalars)
        }
    }

    func expectCheckpointError(_ bytes: [UInt8], containing text: String) {
        do {
            _ = try Safetensors.decode(bytes, path: "ckpt")
            Issue.record("expected an error containing '\(text)'")
        } catch let error as DendriteError {
            #expect(error.description.contains(text), "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func damagedFilesAreRejected() {
        let bytes = Safetensors.encode(tensors, metadata: [:])
        expectCheckpointError(Array(bytes.prefix(5)), containing: "too short")
        expectCheckpointError(Array(bytes.prefix(40)), containing: "runs past the end")
        expectCheckpointError(Array(bytes.dropLast(4)), containing: "outside the")
        var flipped = bytes
        flipped[flipped.count - 3] ^= 0x10
        expectCheckpointError(flipped, containing: "checksum mismatch in tensor 'step'")
        let lyingHeader = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8]}}"
        var lying = withUnsafeBytes(of: UInt64(lyingHeader.utf8.count).littleEndian) { Array($0) }
        lying += Array(lyingHeader.utf8) + [UInt8](repeating: 0, count: 8)
        expectCheckpointError(lying, containing: "needs 4 floats but its offsets hold 8 bytes")
        let overlapping = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}"
        var overlap = withUnsafeBytes(of: UInt64(overlapping.utf8.count).littleEndian) { Array($0) }
        overlap += Array(overlapping.utf8) + [UInt8](repeating: 0, count: 12)
        expectCheckpointError(overlap, containing: "overlap")
        var garbage = withUnsafeBytes(of: UInt64(4).littleEndian) { Array($0) }
        garbage += Array("nope".utf8)
        expectCheckpointError(garbage, containing: "not a JSON object")
    }

    /// The bytes of a safetensors file whose header is `header` (a JSON object, as text) and data `data`.
    func file(header: String, data: [UInt8] = []) -> [UInt8] {
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Array($0) } + Array(header.utf8) + data
    }

    /// The same file as another writer might lay it out: the tensors' data in reverse order, the header's
    /// entries in another order and spacing, the metadata (checksums included) unchanged.
    func reordered(_ bytes: [UInt8]) throws -> [UInt8] {
        let length = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.1) << (8 * $1.0) }
        let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as? [String: Any])
        let data = Array(bytes[(8 + length)...])
        var entries: [String: Any] = ["__metadata__": header["__metadata__"]!]
        var newData: [UInt8] = []
        for (name, value) in header.sorted(by: { $0.key > $1.key }) where name != "__metadata__" {
            var entry = try #require(value as? [String: Any])
            let offsets = try #require(entry["data_offsets"] as? [Int])
            entry["data_offsets"] = [newData.count, newData.count + offsets[1] - offsets[0]]
            newData += data[offsets[0]..<offsets[1]]
            entries[name] = entry
        }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: entries, options: [.prettyPrinted]), as: UTF8.self)
        return file(header: json, data: newData)
    }

    /// Issue 16, item 4: the checksums cover the metadata and the tensor table as well as the data, name what
    /// differs, and do not depend on the order in which a writer put the tensors.
    @Test func checksumsCoverHeaderAndNameWhatDiffers() throws {
        let bytes = Safetensors.encode(tensors, metadata: ["configuration": #"{"activation":"relu"}"#])
        let moved = try reordered(bytes)
        #expect(moved != bytes)
        let (decoded, metadata) = try Safetensors.decode(moved, path: "t")
        #expect(metadata["configuration"] == #"{"activation":"relu"}"#)
        for (name, tensor) in tensors { #expect(decoded[name]?.scalars == tensor.scalars) }

        func flipping(_ text: String, bit: UInt8 = 1) -> [UInt8] {
            let at = bytes.indices.first { bytes[$0...].starts(with: Array(text.utf8)) }!
            var damaged = bytes
            damaged[at] ^= bit
            return damaged
        }
        expectCheckpointError(flipping("relu"), containing: "checksum mismatch in the metadata: the file is corrupted")
        expectCheckpointError(flipping("bias\":{"), containing: "checksum mismatch in tensor 'layers.1.cias', tensor 'layers.1.bias' (missing)")
        expectCheckpointError(flipping("bias\":\""), containing: "checksum mismatch in tensor 'layers.1.bias', tensor 'layers.1.cias' (missing)")
        expectCheckpointError(flipping("configuration", bit: 0x20), containing: "checksum mismatch in the metadata")
        var data = bytes
        data[data.count - 7] ^= 0x10  // in the data of "layers.1.bias", the second tensor written
        expectCheckpointError(data, containing: "checksum mismatch in tensor 'layers.1.bias': ")
    }

    /// Files written without checksums (NumPy, PyTorch) still load; a file carrying them cannot drop them.
    @Test func filesWithoutChecksumsLoad() throws {
        let header = #"{"w\u00e9\ud83d\ude42":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}}"#
        let (decoded, metadata) = try Safetensors.decode(file(header: header, data: [0, 0, 128, 63, 0, 0, 0, 64]), path: "t")
        #expect(decoded["wé🙂"]?.scalars == [1, 2] && metadata == ["format": "pt"])
    }

    /// Issue 16, item 5: the header is capped as in safetensors, and its table must describe the data exactly.
    @Test func headerSizeAndTableAreBounded() {
        let claim = withUnsafeBytes(of: UInt64(Safetensors.maxHeaderBytes + 1).littleEndian) { Array($0) }
        expectCheckpointError(claim + Array("{}".utf8), containing: "over the safetensors limit of 100000000 bytes")
        let entry = #"{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#
        expectCheckpointError(file(header: #"{"a":\#(entry),"a":\#(entry)}"#, data: [0, 0, 0, 0]), containing: "tensor 'a' appears twice")
        let gap = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        expectCheckpointError(file(header: gap, data: [UInt8](repeating: 0, count: 8)), containing: "leaving bytes 0..<4 unused")
        expectCheckpointError(file(header: #"{"a":\#(entry)}"#, data: [UInt8](repeating: 0, count: 8)),
                              containing: "the last 4 data bytes belong to no tensor")
        expectCheckpointError(file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}"#, data: [0, 0, 0, 0]),
                              containing: "tensor 'a' has an unknown or repeated field 'extra'")
        var invalidName = file(header: #"{"a":\#(entry)}"#, data: [0, 0, 0, 0])
        invalidName[10] = 0xFF
        expectCheckpointError(invalidName, containing: "the header holds a string that is not UTF-8")
    }

    /// The atomic writer replaces a file whole and leaves no temporary file behind.
    @Test func atomicWriteReplacesWhole() throws {
        let path = temporaryFolder() + "/file.bin"
        try AtomicFile.write([1, 2, 3], to: path)
        try AtomicFile.write([4, 5], to: path)
        #expect(FileManager.default.contents(atPath: path) == Data([4, 5]))
        let folder = (path as NSString).deletingLastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["file.bin"])
    }

    /// A write that cannot happen is an error naming the target and the cause, and leaves the folder
    /// as it was: no temporary file, the existing files untouched. The first two cases fail for root
    /// too (a regular file where the folder should be; a folder where the file should be, so the
    /// temporary file is written and then cannot be renamed); a read-only folder stops other users.
    @Test func unwritableTargetIsAClearErrorAndLeavesNothing() throws {
        let folder = temporaryFolder()
        let file = folder + "/not-a-folder", occupied = folder + "/checkpoint.safetensors"
        try AtomicFile.write([7], to: file)
        try FileManager.default.createDirectory(atPath: occupied, withIntermediateDirectories: false)
        try AtomicFile.write([8], to: occupied + "/inside")
        let before = folderContents(folder)

        expectWriteFails(to: file + "/checkpoint.safetensors", naming: "Not a directory")
        expectWriteFails(to: occupied, naming: "Is a directory")
        if getuid() != 0 {  // root writes into read-only folders
            chmod(folder, 0o500)
            defer { chmod(folder, 0o700) }
            expectWriteFails(to: folder + "/new.safetensors", naming: "Permission denied")
        }
        let after = folderContents(folder)
        #expect(after == before,
                "the failed writes changed \(folder): \(before.keys.sorted()) became \(after.keys.sorted())")
    }

    private func expectWriteFails(to path: String, naming cause: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try AtomicFile.write([1, 2, 3], to: path)
            Issue.record("writing \(path) succeeded; expected an error (\(cause))", sourceLocation: sourceLocation)
        } catch {
            let message = "\(error)"
            #expect(error is DendriteError && message.contains(path) && message.contains(cause),
                    "the error should name \(path) and '\(cause)': \(message)", sourceLocation: sourceLocation)
        }
    }

    /// Every file and folder under `folder` (relative path) with its bytes (none for a folder).
    private func folderContents(_ folder: String) -> [String: Data] {
        var contents: [String: Data] = [:]
        for case let name as String in FileManager.default.enumerator(atPath: folder)! {
            contents[name] = FileManager.default.contents(atPath: folder + "/" + name) ?? Data()
        }
        return contents
    }
}

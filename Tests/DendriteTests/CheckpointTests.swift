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
        expectCheckpointError(flipped, containing: "checksum mismatch")
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

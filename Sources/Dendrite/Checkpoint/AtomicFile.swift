import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that readers (and a crash at any instant) see the old content or the new, never a mix:
/// write a temporary file in the same folder, fsync it, rename it over the target, fsync the folder.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        let temporary = "\(folder)/.\((path as NSString).lastPathComponent).tmp-\(getpid())"
        // Errors name the target (what the user asked for); the temporary file is removed, the target untouched.
        func failure(_ what: String) -> DendriteError {
            .io(path: path, problem: "\(what): \(String(cString: strerror(errno)))")
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw failure("cannot create the temporary file \(temporary)") }
        var ok = false
        defer {
            if !ok { unlink(temporary) }
        }
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = systemWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    let error = failure("writing the temporary file failed")
                    close(fd)
                    throw error
                }
                offset += written
            }
        }
        guard fsync(fd) == 0 else {
            let error = failure("fsync of the temporary file failed")
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw failure("closing the temporary file failed") }
        guard rename(temporary, path) == 0 else { throw failure("rename failed") }
        ok = true
        let folderFD = open(folder, O_RDONLY)
        if folderFD >= 0 {
            fsync(folderFD)  // makes the rename itself durable
            close(folderFD)
        }
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
private let systemWrite = Darwin.write
#endif

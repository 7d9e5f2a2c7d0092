import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What stands at a path where a readable regular file is expected, in words for an error message; nil when
/// it is one (public for the command line's checks). A folder, a symbolic link loop or a dangling link would otherwise all read as "no such file",
/// and a named pipe or a device (/dev/zero) would make the reader wait or read forever.
public func regularFileProblem(at path: String) -> String? {
    var info = stat()
    guard stat(path, &info) == 0 else {
        let error = errno
        switch error {
        case ELOOP: return "is a symbolic link loop"
        case ENOENT where lstat(path, &info) == 0:
            var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(path, &target, target.count - 1)
            let destination = length > 0 ? String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
            return "is a symbolic link to '\(destination)', which does not exist"
        case ENOENT, ENOTDIR: return "no such file"
        default: return "cannot be read (\(String(cString: strerror(error))))"
        }
    }
    switch info.st_mode & S_IFMT {
    case S_IFREG: return nil
    case S_IFDIR: return "is a folder, not a file"
    case S_IFIFO: return "is a named pipe, not a file"
    case S_IFSOCK: return "is a socket, not a file"
    default: return "is a device, not a file"
    }
}

/// The bytes of a data file, or an error naming it: what stands there instead of a file, or why it cannot be read.
func readDataFile(at path: String) throws -> [UInt8] {
    if let problem = regularFileProblem(at: path) { throw DendriteError.data(path: path, problem: problem) }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw DendriteError.data(path: path, problem: "cannot read the file")
    }
    return [UInt8](data)
}

/// Why a file could not be written at `path` (replaced if it exists, created in its folder if not), in
/// words for an error message; nil when it can. Output paths are checked with it before a run starts, so
/// that a bad one fails at once rather than after the training.
public func writableFileProblem(at path: String) -> String? {
    if somethingExists(at: path) {
        if let problem = regularFileProblem(at: path) { return problem }
    }
    let folder = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
    var info = stat()
    guard stat(folder, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return "its folder \(folder) does not exist" }
    guard access(folder, W_OK) == 0 else { return "its folder \(folder) is not writable (\(String(cString: strerror(errno))))" }
    return nil
}

/// Whether anything (a file, a folder, even a dangling or looping symbolic link) is at a path.
func somethingExists(at path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What stands at a path where a readable regular file is expected, in words for an error message; nil when
/// it is one. A folder, a symbolic link loop or a dangling link would otherwise all read as "no such file",
/// and a named pipe or a device (/dev/zero) would make the reader wait or read forever.
func regularFileProblem(at path: String) -> String? {
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

/// Whether anything (a file, a folder, even a dangling or looping symbolic link) is at a path.
func somethingExists(at path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

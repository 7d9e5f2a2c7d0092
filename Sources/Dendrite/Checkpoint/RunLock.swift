import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Exclusive use of a run folder, so that two trainers (or a `--resume` beside a live run) never interleave
/// their checkpoints: an `flock` on the folder's lock file, which holds the owner's PID for the message a
/// second run gets. The kernel drops the lock when its process ends however it ends, so a crashed run's
/// lock file never blocks the next run. The file itself stays: removing it would let a third run lock a
/// new file while a second still holds the old one.
public final class RunLock {
    public static let fileName = ".dendrite.lock"
    public let path: String
    private let descriptor: Int32

    /// Takes the lock of `folder` (which must exist), or throws naming the PID of the run that holds it.
    public init(folder: String) throws {
        path = "\(folder)/\(RunLock.fileName)"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw DendriteError.io(path: path, problem: "cannot open the run's lock file (\(String(cString: strerror(errno))))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let error = errno
            let owner = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(descriptor)
            guard error == EWOULDBLOCK else {
                throw DendriteError.io(path: path, problem: "cannot lock the run folder (\(String(cString: strerror(error))))")
            }
            let who = owner.flatMap(Int32.init).map { "PID \($0)" } ?? "its PID not yet written"
            throw DendriteError.io(path: folder, problem: "another run (\(who)) is training in this folder; "
                + "wait for it to end, or choose another --checkpoint-dir")
        }
        let pid = Array("\(getpid())\n".utf8)
        guard ftruncate(descriptor, 0) == 0, pwrite(descriptor, pid, pid.count, 0) == pid.count else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw DendriteError.io(path: path, problem: "cannot write the run's lock file (\(reason))")
        }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }  // releases the lock
}

import Foundation
import Testing
@testable import Dendrite

/// Issue 16, item 6: one run per folder; the lock goes with the process that holds it.
@Suite struct RunLockTests {
    @Test func secondLockIsRefusedNamingTheHolder() throws {
        let folder = temporaryFolder()
        do {
            let first = try RunLock(folder: folder)
            withExtendedLifetime(first) {
                _ = #expect(throws: DendriteError.io(path: folder, problem: "another run (PID \(getpid())) is training in this folder; "
                    + "wait for it to end, or choose another --checkpoint-dir")) { try RunLock(folder: folder) }
            }
        }
        _ = try RunLock(folder: folder)  // the first was released with its object
    }

    /// A crashed run leaves its lock file (with its PID) but not its lock.
    @Test func aDeadRunsLockFileDoesNotBlock() throws {
        let folder = temporaryFolder()
        try "999999999\n".write(toFile: "\(folder)/\(RunLock.fileName)", atomically: false, encoding: .utf8)
        let lock = try RunLock(folder: folder)
        #expect(try String(contentsOfFile: lock.path, encoding: .utf8) == "\(getpid())\n")
    }
}

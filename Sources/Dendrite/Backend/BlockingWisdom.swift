import Foundation

/// GEMM blockings found by `dendrite tune`, stored per kind of CPU and code path so later runs start
/// from them (like FFTW's wisdom). A text file, one line per entry:
///
///     avx512 144,256,4096 Intel(R) Xeon(R) Processor @ 2.80GHz [GenuineIntel family 6 model 106; …]
///
/// (code path, MC,KC,NC, then `CPUInfo.key` to the end of the line); `#` starts a comment line.
public struct BlockingWisdom: Sendable {
    public struct Entry: Equatable, Sendable {
        public var path: CodePath
        public var blocking: GEMMBlocking
        public var cpu: String
    }

    public static let environmentVariable = "DENDRITE_WISDOM"

    /// `$DENDRITE_WISDOM`, else `$XDG_CACHE_HOME/dendrite/blocking`, else `~/.cache/dendrite/blocking`.
    public static var defaultPath: String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment[environmentVariable], !path.isEmpty { return path }
        if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") { return cache + "/dendrite/blocking" }
        return NSHomeDirectory() + "/.cache/dendrite/blocking"
    }

    public let file: String
    public private(set) var entries: [Entry] = []

    /// Reads `file`; a missing file is empty wisdom, a malformed line an error naming it.
    public init(file: String = BlockingWisdom.defaultPath) throws {
        self.file = file
        guard FileManager.default.fileExists(atPath: file) else { return }
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw DendriteError.io(path: file, problem: "cannot read the stored blocking: \(error.localizedDescription)")
        }
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = trimmed.split(separator: " ", maxSplits: 2)
            guard fields.count == 3, let path = CodePath(rawValue: String(fields[0])),
                  let blocking = GEMMBlocking(parsing: fields[1]) else {
                throw DendriteError.io(path: file, problem: "line \(number + 1) is not 'PATH MC,KC,NC CPU': '\(trimmed)' "
                    + "(delete the file or run dendrite tune again)")
            }
            entries.append(Entry(path: path, blocking: blocking, cpu: String(fields[2])))
        }
    }

    /// The stored blocking for `path` on `cpu` (a `CPUInfo.key`), if any.
    public func blocking(for path: CodePath, cpu: String = CPUInfo.current.key) -> GEMMBlocking? {
        entries.last { $0.path == path && $0.cpu == cpu }?.blocking
    }

    /// Replaces the entry for `path` on `cpu`.
    public mutating func record(_ blocking: GEMMBlocking, for path: CodePath, cpu: String = CPUInfo.current.key) {
        entries.removeAll { $0.path == path && $0.cpu == cpu }
        entries.append(Entry(path: path, blocking: blocking, cpu: cpu))
    }

    /// Writes the file atomically (a temporary file renamed over it), creating its folder.
    public func save() throws {
        let url = URL(fileURLWithPath: file)
        let lines = ["# GEMM blocking found by `dendrite tune`: code path, MC,KC,NC, CPU"]
            + entries.map { "\($0.path) \($0.blocking) \($0.cpu)" }
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        } catch {
            throw DendriteError.io(path: file, problem: "cannot store the blocking: \(error.localizedDescription)")
        }
    }
}

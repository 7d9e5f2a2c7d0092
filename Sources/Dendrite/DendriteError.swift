/// Errors a user can act on; each message names the file, flag or value at fault.
public enum DendriteError: Error, CustomStringConvertible, Equatable {
    case invalidArgument(String)
    case unavailable(String)
    case data(path: String, problem: String)
    case checkpoint(path: String, problem: String)
    case numerical(String)
    case io(path: String, problem: String)
    /// A run ended by a signal after writing a checkpoint; `message` says where. Exit with 128 + `signal`.
    case stopped(signal: Int32, message: String)

    public var description: String {
        switch self {
        case .invalidArgument(let message), .unavailable(let message), .numerical(let message), .stopped(_, let message): message
        case .data(let path, let problem): "\(path): \(problem)"
        case .checkpoint(let path, let problem): "checkpoint \(path): \(problem)"
        case .io(let path, let problem): "\(path): \(problem)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ctrl-C (SIGINT) and a scheduler's SIGTERM before preemption ask a training run to stop cleanly: the handler
/// only records the signal, and the training loop, which reads it after every step, writes a checkpoint and
/// ends the run. A second signal ends the process at once, with the same exit status (128 + the signal); the
/// checkpoints already written are whole, since each is written atomically.
public enum StopRequest {
    /// Set by the handler, read by the loop. Allocated once, before any handler is installed, so that the
    /// handler's access is a plain store: no lazy initialization, no allocation, nothing unsafe in a handler.
    private static let received: UnsafeMutablePointer<sig_atomic_t> = {
        let flag = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
        flag.initialize(to: 0)
        return flag
    }()

    /// Installs the handlers for SIGINT and SIGTERM (for the rest of the process).
    public static func install() {
        _ = received
        var action = sigaction()
        #if canImport(Glibc)
        action.__sigaction_handler.sa_handler = handle
        #else
        action.__sigaction_u.__sa_handler = handle
        #endif
        sigemptyset(&action.sa_mask)
        for signal in [SIGINT, SIGTERM] { sigaction(signal, &action, nil) }
    }

    /// The signal that asked the run to stop, or nil. Reads one word: safe in the allocation-free training step.
    public static var signal: Int32? {
        let value = received.pointee
        return value == 0 ? nil : value
    }

    /// "SIGINT" or "SIGTERM", for messages.
    public static func name(of signal: Int32) -> String { signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)" }

    private static let handle: @convention(c) (Int32) -> Void = { signal in
        if received.pointee != 0 { _exit(128 + signal) }
        received.pointee = signal
    }
}

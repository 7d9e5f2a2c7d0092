import CStopSignal
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ctrl-C (SIGINT) and a scheduler's SIGTERM before preemption ask a training run to stop cleanly: the handler
/// (in C, `CStopSignal`: a signal handler must touch nothing but a lock-free atomic) only records the signal,
/// and the training loop, which reads it after every step, writes a checkpoint and ends the run. A second
/// signal ends the process at once with 128 + that signal; the checkpoints already written are whole, since
/// each is written atomically.
public enum StopRequest {
    /// Installs the handlers for SIGINT and SIGTERM (for the rest of the process); call it from the main thread.
    public static func install() { dendrite_stop_install() }

    /// The signal that asked the run to stop, or nil. One atomic load: safe in the allocation-free training step.
    public static var signal: Int32? {
        let received = dendrite_stop_signal()
        return received == 0 ? nil : received
    }

    /// "SIGINT" or "SIGTERM", for messages.
    public static func name(of signal: Int32) -> String {
        signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
    }
}

import Foundation

/// Writes a profiler's events as Chrome trace JSON (`traceEvents`, `ph: "X"`, µs), one row per phase
/// (data, forward, backward, optimizer, evaluation, communication, step), one process per MPI rank;
/// chrome://tracing and Perfetto open it.
public enum ChromeTrace {
    public static func json(_ profiler: Profiler) -> String { document(events(profiler, process: 0)) }

    /// The trace document of events gathered from one or more processes.
    public static func document(_ events: [String]) -> String {
        "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n" + events.joined(separator: ",\n") + "\n]}\n"
    }

    /// One process's events (pid = its rank, shown as "rank N"), each a JSON object.
    public static func events(_ profiler: Profiler, process rank: Int) -> [String] {
        let pid = rank + 1
        var parts = ["{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":\(pid),\"args\":{\"name\":\"rank \(rank)\"}}"]
        for phase in Profiler.Phase.allCases {
            parts.append("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":\(pid),\"tid\":\(phase.rawValue),\"args\":{\"name\":\"\(phase.label)\"}}")
        }
        for event in profiler.traceEvents {
            let start = Double(event.start &- profiler.origin) / 1e3
            let duration = Double(event.duration) / 1e3
            let shape = event.stats.shape.isEmpty ? "" : ",\"args\":{\"shape\":\"\(event.stats.shape)\"}"
            parts.append(String(format: "{\"name\":\"%@\",\"cat\":\"%@\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f",
                                event.stats.name, event.stats.phase.label, pid, event.stats.phase.rawValue, start, duration) + shape + "}")
        }
        return parts
    }

    public static func write(_ profiler: Profiler, to path: String) throws {
        try AtomicFile.write(Array(json(profiler).utf8), to: path)
    }
}

import Foundation

/// Writes a profiler's events as Chrome trace JSON (`traceEvents`, `ph: "X"`, µs), one row per phase
/// (data, forward, backward, optimizer, evaluation, step); chrome://tracing and Perfetto open it.
public enum ChromeTrace {
    public static func json(_ profiler: Profiler) -> String {
        var parts: [String] = []
        for phase in Profiler.Phase.allCases {
            parts.append("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":\(phase.rawValue),\"args\":{\"name\":\"\(phase.label)\"}}")
        }
        for event in profiler.traceEvents {
            let start = Double(event.start &- profiler.origin) / 1e3
            let duration = Double(event.duration) / 1e3
            let shape = event.stats.shape.isEmpty ? "" : ",\"args\":{\"shape\":\"\(event.stats.shape)\"}"
            parts.append(String(format: "{\"name\":\"%@\",\"cat\":\"%@\",\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f",
                                event.stats.name, event.stats.phase.label, event.stats.phase.rawValue, start, duration) + shape + "}")
        }
        return "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n" + parts.joined(separator: ",\n") + "\n]}\n"
    }

    public static func write(_ profiler: Profiler, to path: String) throws {
        try AtomicFile.write(Array(json(profiler).utf8), to: path)
    }
}

import Foundation

/// Everything a run found, as written to results.json: enough to compare runs across commits or machines.
struct RunRecord: Codable {
    var date: String
    var quick: Bool
    var filter: String?
    var cpu: String
    var instructionSet: String
    var threadCounts: [Int]
    var backends: [String]
    /// Backends that could not load, with the reason.
    var unavailable: [String]
    var ceilings: [Ceiling]
    var results: [BenchResult]
    /// 1-minute load averages: well above 0 means other work shared the machine.
    var loadAverageBefore: Double?
    var loadAverageAfter: Double?
    var wallSeconds: Double
}

/// results.json, results.csv and ratios.svg in the output folder.
enum ResultFiles {
    static func write(_ record: RunRecord, to folder: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let files = [
            ("results.json", try encoder.encode(record)),
            ("results.csv", Data(csv(record.results).utf8)),
            ("ratios.svg", Data(RatioChart.svg(record.results).utf8)),
        ]
        return try files.map { name, data in
            let path = (folder as NSString).appendingPathComponent(name)
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            return path
        }
    }

    static func csv(_ results: [BenchResult]) -> String {
        let header = "case,group,backend,threads,median_s,min_s,max_s,q1_s,q3_s,samples,calls_per_sample,"
            + "gflops,gbs,samples_per_s,share_of_ceiling,peak_gflops,speed_vs_c,speed_vs_openblas"
        func number(_ value: Double?) -> String { value.map { String($0) } ?? "" }
        let rows = results.map { r in
            let s = r.seconds
            return ["\"\(r.caseName.replacingOccurrences(of: "\"", with: "\"\""))\"", r.group, r.backend, String(r.threads),
                    number(s.median), number(s.min), number(s.max), number(s.q1), number(s.q3),
                    String(s.samples), String(s.callsPerSample), number(r.gflops), number(r.gbs),
                    number(r.samplesPerSecond), number(r.shareOfCeiling), number(r.peakGFLOPs), number(r.speedVsC),
                    number(r.speedVsOpenBLAS)].joined(separator: ",")
        }
        return ([header] + rows).joined(separator: "\n") + "\n"
    }
}

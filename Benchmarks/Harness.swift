import Dendrite
import Foundation

/// What `dendrite bench` was asked for.
public struct BenchmarkOptions {
    /// Fewer and shorter samples, and no cases larger than the caches: under a minute.
    public var quick = false
    /// Runs only cases whose name or group contains this (case-insensitive).
    public var filter: String?
    public var outputDirectory = "bench-results"
    /// C kernel code paths raced beside the one in use (each supported vector path by default).
    public var otherPaths: [CodePath] = CodePath.supported.filter { $0 != .portable && $0 != CodePath.inUse }
    public init() {}
}

/// The run loop: ceilings first, then every case with its backends and thread counts interleaved
/// sample by sample, so a machine that slows down or speeds up mid-run shifts all of them alike and
/// their ratios hold.
public enum Harness {
    public static func run(_ options: BenchmarkOptions, print: (String) -> Void) throws {
        let started = Date()
        let plan = options.quick ? MeasurementPlan.quick : .full
        let cases = Cases.all(quick: options.quick).filter { Cases.matches($0, filter: options.filter) }
        guard !cases.isEmpty else {
            throw DendriteError.invalidArgument("no benchmark case matches --filter '\(options.filter ?? "")'")
        }
        try CKernelSetup.apply()
        var backends: [Backend] = [], unavailable: [String] = []
        for name in Backends.names {
            do { backends += name == "blas" ? try Backends.blasYardsticks() : [try Backends.named(name)] } catch {
                unavailable.append("\(name): \(error)")
                print("!! backend \(name) is unavailable, its rows are skipped: \(error)")
            }
        }
        // A fresh backend's thread count is "all threads", the default training uses.
        let allThreads = Threads.count
        let threadCounts = allThreads > 1 ? [1, allThreads] : [1]
        let cpu = cpuName()
        let all = Participant.all(backends, otherPaths: options.otherPaths)
        print("Dendrite benchmarks: \(cpu), backends \(all.map(\.name).joined(separator: ", ")) (c: the \(CodePath.inUse) path), "
            + "threads \(threadCounts.map(String.init).joined(separator: " and ")), \(options.quick ? "quick" : "full") run, \(cases.count) cases")
        MachineSummary.lines().forEach(print)
        for backend in backends where backend.name.hasPrefix("blas") { print("\(backend.name): \(backend.instructionSet)") }
        let loadBefore = loadAverage()
        warnIfBusy(loadBefore, when: "before the run", own: 0, print: print)
        let ceilings = Ceilings.measure(threadCounts: threadCounts, quick: options.quick)
        print(Report.ceilings(ceilings))
        print(Report.legend)
        print(Report.header)

        var results: [BenchResult] = []
        for benchCase in cases {
            let participants = all.filter { benchCase.includesOpenBLAS || !Backends.isYardstick($0.name) }
            let makeRunner = try benchCase.prepare()
            let runners = try participants.map { $0.onPath(try makeRunner($0.backend)) }
            let rowsByThreads = measure(benchCase, participants, runners, threadCounts: threadCounts, plan: plan,
                                        ceilings: ceilings)
            for (threads, var rows) in zip(threadCounts, rowsByThreads) {
                rows.compare()
                if benchCase.checksAllocations && threads == allThreads {
                    for i in rows.indices {
                        Threads.count = threads
                        rows[i].allocations = AllocationProbe.measure(calls: options.quick ? 100 : 1000, runners[i])
                    }
                }
                Report.rows(rows).forEach(print)
                results += rows
            }
        }

        let allocationLines = Report.allocations(results)
        if !allocationLines.isEmpty {
            print("Steady-state heap use of the training step (Swift objects counted via the runtime's allocation hook; "
                + "malloc figures are mallinfo2 growth, so a malloc freed within the step is not seen):")
            allocationLines.forEach(print)
        }
        let loadAfter = loadAverage()
        warnIfBusy(loadAfter, when: "during the run", own: Double(allThreads), print: print)
        if let line = Report.threadsApartSummary(results) { print(line) }
        if let line = Report.coresSharedSummary(results) { print(line) }
        let record = RunRecord(date: ISO8601DateFormatter().string(from: started), quick: options.quick, filter: options.filter,
                               cpu: cpu, instructionSet: CKernelSet.instructionSet, threadCounts: threadCounts,
                               backends: all.map(\.name), unavailable: unavailable, ceilings: ceilings,
                               results: results, loadAverageBefore: loadBefore, loadAverageAfter: loadAfter,
                               wallSeconds: Date().timeIntervalSince(started))
        let files = try ResultFiles.write(record, to: options.outputDirectory)
        print("wrote \(files.joined(separator: ", ")) in \(String(format: "%.0f", record.wallSeconds)) s")
    }

    /// Times one case on every participant at every thread count: one row per participant for each count.
    /// Each round takes one sample per participant and thread count, starting with a different count and
    /// participant each round so none always runs first; interleaving the thread counts as well keeps the
    /// scaling ratios (2 threads ÷ 1) from depending on when in the run each count was measured.
    static func measure(_ benchCase: BenchCase, _ participants: [Participant], _ runners: [Runner], threadCounts: [Int],
                        plan: MeasurementPlan, ceilings: [Ceiling]) -> [[BenchResult]] {
        let backends = participants.map(\.backend)
        let calls = threadCounts.map { threads in
            backends.indices.map { i in
                Threads.count = threads
                defer { IdleThreads.sleep(after: backends[i].name) }
                return calibrate(runners[i], plan: plan)
            }
        }
        let rounds = Swift.min(plan.samples, benchCase.maxSamples ?? plan.samples)
        var samples = threadCounts.map { _ in [[Double]](repeating: [], count: backends.count) }
        var peaks = threadCounts.map { _ in [Double]() }, roundTrips: [Double] = []
        for round in 0..<rounds {
            for countOffset in threadCounts.indices {
                let t = (round + countOffset) % threadCounts.count, threads = threadCounts[t]
                for offset in backends.indices {
                    let i = (round + offset) % backends.count
                    Threads.count = threads
                    // An untimed call wakes the worker threads the previous sample put to sleep; a single
                    // call lasting a whole sample (an epoch) pays the wake-up within noise.
                    if calls[t][i] > 1 { runners[i]() }
                    samples[t][i].append(secondsPerCall(calls[t][i], runners[i]))
                    IdleThreads.sleep(after: backends[i].name)
                }
                if benchCase.work.countsFLOPs {
                    peaks[t].append(Ceilings.samplePeak(threads: threads, seconds: plan.peakProbeSeconds))
                    IdleThreads.sleep(after: "peak probe")
                }
            }
            if ceilings.contains(where: { $0.roundTripNs != nil }) {
                roundTrips.append(Ceilings.sampleRoundTrip())
                IdleThreads.sleep(after: "round-trip probe")
            }
        }
        let roundTrip = roundTrips.isEmpty ? nil : Ceilings.median(roundTrips)
        return threadCounts.indices.map { t in
            var caseCeiling = ceilings[t]
            if !peaks[t].isEmpty { caseCeiling.peakGFLOPs = Ceilings.median(peaks[t]) }
            return backends.indices.map { i in
                var result = BenchResult(benchCase: benchCase, backend: participants[i].name, threads: threadCounts[t],
                                         seconds: Summary(secondsPerCall: samples[t][i], callsPerSample: calls[t][i]),
                                         ceiling: caseCeiling)
                if let roundTrip, let best = ceilings[t].roundTripNs {
                    result.roundTripNs = roundTrip
                    result.threadsApart = roundTrip > Ceilings.apartFactor * best
                }
                if threadCounts[t] > 1 && !peaks[t].isEmpty {
                    result.coresShared = caseCeiling.peakGFLOPs
                        < Ceilings.sharedCoresFraction(threads: threadCounts[t]) * ceilings[t].peakGFLOPs
                }
                return result
            }
        }
    }

    /// The 1-minute load average (nil where /proc/loadavg is missing).
    static func loadAverage() -> Double? {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.flatMap { Double($0) }
    }

    /// Other work on the machine skews every absolute figure; interleaving keeps ratios usable.
    /// `own` is the load this run adds itself (none before it starts, up to every core while it runs).
    static func warnIfBusy(_ load: Double?, when: String, own: Double, print: (String) -> Void) {
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        guard let load, load - own > 0.5 * cores else { return }
        print("!! BUSY MACHINE: load average " + String(format: "%.2f", load) + " on \(Int(cores)) cores \(when): "
            + "absolute times and shares of the ceilings are unreliable; ratios between backends (measured interleaved) hold better.")
    }

    static func cpuName() -> String {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = info.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
        return "\(model ?? "unknown CPU"), \(ProcessInfo.processInfo.activeProcessorCount) cores"
    }
}

import CKernels
import Foundation

/// What the CPU says about itself: the model (from /proc/cpuinfo) and the data caches (from sysfs).
public struct CPUInfo: Sendable {
    /// "Intel(R) Xeon(R) Processor @ 2.80GHz"; "unknown CPU" where /proc/cpuinfo has no model name.
    public var modelName: String
    /// Vendor, family and model numbers: "GenuineIntel family 6 model 106" (empty where unknown).
    public var identifier: String
    /// Data cache sizes in bytes (0 where unknown) and how many logical CPUs share the L3.
    public var l1d: Int, l2: Int, l3: Int, l3Sharing: Int
    /// Whether each 512-bit FMA runs as two 256-bit halves (AMD Zen 4): the AVX-512 path then has the
    /// AVX2 path's FMA peak, and its GEMM blocking lets the slivers stream from L2 (see blocking.c).
    public var splits512BitFMA: Bool

    public static let current = CPUInfo()

    init() {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        var fields: [String: String] = [:]
        for line in info.split(separator: "\n") {
            if line.isEmpty { break }  // the first CPU's block is enough
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            fields[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        modelName = fields["model name"] ?? "unknown CPU"
        if let vendor = fields["vendor_id"], let family = fields["cpu family"], let model = fields["model"] {
            identifier = "\(vendor) family \(family) model \(model)"
        } else {
            identifier = ""
        }
        let caches = dk_cpu_caches()
        l1d = caches.l1d
        l2 = caches.l2
        l3 = caches.l3
        l3Sharing = Int(caches.l3_sharing)
        splits512BitFMA = dk_cpu_splits_512bit_fma() != 0
    }

    /// Identifies the kind of CPU for stored tuning results: model name, numbers and cache sizes
    /// (virtual machines often report a generic model name).
    public var key: String {
        "\(modelName) [\(identifier); L1d \(l1d), L2 \(l2), L3 \(l3)]"
    }

    /// "L1d 48 KB, L2 1.25 MB, L3 48 MB (shared by 2 CPUs)", or "unknown" where sysfs says nothing.
    public var cacheSummary: String {
        func size(_ bytes: Int) -> String {
            bytes >= 1 << 20 ? String(format: "%g MB", Double(bytes) / Double(1 << 20)) : "\(bytes >> 10) KB"
        }
        guard l1d > 0 || l2 > 0 else { return "unknown" }
        var parts = ["L1d \(size(l1d))", "L2 \(size(l2))"]
        if l3 > 0 { parts.append("L3 \(size(l3)) (shared by \(l3Sharing) CPU\(l3Sharing == 1 ? "" : "s"))") }
        return parts.joined(separator: ", ")
    }
}

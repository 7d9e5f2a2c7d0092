// Shared test plumbing: which backends to run, a seeded generator, and comparisons that print
// readable diagnostics (kernel, shape, max abs/rel difference, first mismatches, first values).

import Dendrite
import Foundation
import Testing

// MARK: - Backends

enum TestBackends {
    /// Every kernel test runs on these: the C kernels on each code path this CPU supports ("c" is the
    /// best, "c-avx2" and "c-portable" the others) and two builds of the Swift kernels: "swift", the best
    /// build for this CPU, and "swift-portable", the baseline x86-64 one. On an AVX-512 CPU the AVX2 build
    /// is left to SwiftBuildTests, which checks it against the AVX-512 build bit for bit (every kernel
    /// test again on a third Swift build, in a debug build, would add minutes to CI for no new code).
    static let all = c + ["swift", "swift-portable"]

    /// The C backend on every code path this CPU supports, best first. Paths it lacks are skipped,
    /// and the first use says so.
    static let c: [String] = {
        for path in CodePath.allCases where !path.isSupported {
            print("KernelTests: the C kernels' \(path) path is skipped: this CPU lacks it")
        }
        return ["c"] + CodePath.supported.reversed().dropFirst().map { "c-\($0)" }
    }()

    /// One shared OpenBLAS backend, or nil when the system has no OpenBLAS (its init throws).
    /// Shared because its init writes the global C thread count (OpenBLASBackend sets
    /// `threads = super.threads`): creating one while the determinism suite has changed the count
    /// would race with it. This is created while test arguments are evaluated, before any test runs.
    static let openBLAS: Backend? = try? Backends.named("openblas")

    static var openBLASAvailable: Bool { openBLAS != nil }

    /// Matmul tests also cover OpenBLAS when the machine has it.
    static let matmul: [String] = all + (openBLASAvailable ? ["openblas"] : [])

    /// True in `swift test` (debug) builds, where Swift code (kernels and references alike) runs
    /// 100–800× slower than in release: the heaviest shapes are then reduced, see each use.
    static let isDebugBuild: Bool = {
        #if DEBUG
        return true
        #else
        return false
        #endif
    }()
}

/// A fresh backend by name. Thread counts are global per implementation; tests outside the
/// serialized determinism suite never set them and never depend on them.
/// "c-avx2" and the like are the C backend with the calling thread (a test's body runs on one)
/// switched to that code path; every other name switches it back to the process-wide path.
func makeBackend(_ name: String) throws -> Backend {
    let path = name.hasPrefix("c-") ? CodePath(rawValue: String(name.dropFirst(2))) : nil
    try CodePath.selectForThisThread(path)
    if path != nil { return Backends.c }
    if name == "openblas", let shared = TestBackends.openBLAS { return shared }
    if name.hasPrefix("swift-"), let build = SwiftKernelBuild(rawValue: String(name.dropFirst(6))) {
        return Backends.swift(build: build)
    }
    return try Backends.named(name)
}

// MARK: - Random data

/// SplitMix64: small, fast, and reproducible across platforms.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    mutating func float(_ lo: Float = -1, _ hi: Float = 1) -> Float {
        let u = Float(next() >> 40) / Float(1 << 24)
        return lo + (hi - lo) * u
    }

    mutating func int(_ below: Int) -> Int { Int(next() % UInt64(below)) }
}

func randomFloats(_ count: Int, seed: UInt64, in range: ClosedRange<Float> = -1...1) -> [Float] {
    var g = SeededGenerator(seed: seed)
    return (0..<count).map { _ in g.float(range.lowerBound, range.upperBound) }
}

/// What `kernel` leaves in a copy of `input` when it writes its output over its input.
func resultInPlace(_ input: [Float], _ kernel: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
    var values = input
    values.withUnsafeMutableBufferPointer { kernel($0.baseAddress!) }
    return values
}

/// Random values with |x| >= gap: keeps finite differences away from kinks at 0.
func randomFloatsAvoidingZero(_ count: Int, seed: UInt64, magnitude: Float, gap: Float) -> [Float] {
    var g = SeededGenerator(seed: seed)
    return (0..<count).map { _ in
        let m = g.float(gap, magnitude)
        return g.next() & 1 == 0 ? m : -m
    }
}

/// A stable seed from a test's parameters, so each case gets its own data.
func seed(_ parts: Int...) -> UInt64 {
    var h: UInt64 = 1_469_598_103_934_665_603
    for p in parts { h = (h ^ UInt64(bitPattern: Int64(p))) &* 1_099_511_628_211 }
    return h
}

// MARK: - Comparisons

/// A compact rendering of the first values of an array.
func preview<T>(_ values: some Collection<T>, count: Int = 6) -> String {
    let head = values.prefix(count).map { "\($0)" }.joined(separator: ", ")
    return "[" + head + (values.count > count ? ", … (\(values.count) total)]" : "]")
}

/// Checks got[i] against expected[i] with a per-element tolerance tolerance(i); NaN or Inf where
/// the reference is finite always fails. Returns true when everything matches. On failure records
/// one issue with the kernel name, the shape, the max abs and rel difference, the first
/// mismatching elements, and the first values of both arrays.
@discardableResult
func expectClose(_ got: [Float], _ expected: [Double], tolerance: (Int) -> Double,
                 _ what: String, shape: String, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    guard got.count == expected.count else {
        Issue.record("\(what) \(shape): got \(got.count) values, expected \(expected.count)",
                     sourceLocation: sourceLocation)
        return false
    }
    var maxAbs = 0.0, maxRel = 0.0, failures = 0
    var firstFailures: [String] = []
    for i in 0..<got.count {
        let g = Double(got[i]), e = expected[i]
        let diff = abs(g - e)
        let ok: Bool
        if e.isNaN {
            ok = g.isNaN
        } else if e.isInfinite {
            ok = g == e
        } else {
            ok = diff <= tolerance(i) // false for NaN diff
        }
        if e.isFinite {
            if diff.isNaN || diff.isInfinite {
                maxAbs = .infinity; maxRel = .infinity
            } else {
                maxAbs = max(maxAbs, diff)
                if e != 0 { maxRel = max(maxRel, diff / abs(e)) }
            }
        }
        if !ok {
            failures += 1
            if firstFailures.count < 5 {
                firstFailures.append("[\(i)] got \(got[i]) expected \(e) diff \(diff) tol \(tolerance(i))")
            }
        }
    }
    if failures > 0 {
        Issue.record("""
            \(what) \(shape): \(failures) of \(got.count) elements out of tolerance; \
            max abs diff \(maxAbs), max rel diff \(maxRel)
              first mismatches: \(firstFailures.joined(separator: "; "))
              got:      \(preview(got))
              expected: \(preview(expected))
            """, sourceLocation: sourceLocation)
    }
    return failures == 0
}

/// Same as above, with the tolerance atol + rtol·|expected|.
@discardableResult
func expectClose(_ got: [Float], _ expected: [Double], atol: Double, rtol: Double,
                 _ what: String, shape: String, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    expectClose(got, expected, tolerance: { atol + rtol * abs(expected[$0]) }, what, shape: shape,
                sourceLocation: sourceLocation)
}

/// Bitwise equality of two Float arrays (NaNs compared by bit pattern), with diagnostics.
@discardableResult
func expectBitwiseEqual(_ got: [Float], _ expected: [Float], _ what: String, shape: String,
                        sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    guard got.count == expected.count else {
        Issue.record("\(what) \(shape): \(got.count) vs \(expected.count) values", sourceLocation: sourceLocation)
        return false
    }
    var differing = 0, first = -1, maxAbs: Float = 0
    for i in 0..<got.count where got[i].bitPattern != expected[i].bitPattern {
        differing += 1
        if first < 0 { first = i }
        maxAbs = max(maxAbs, abs(got[i] - expected[i]))
    }
    if differing > 0 {
        Issue.record("""
            \(what) \(shape): \(differing) of \(got.count) elements differ bitwise; max abs diff \(maxAbs); \
            first at [\(first)]: \(got[first]) vs \(expected[first])
              got:      \(preview(got))
              expected: \(preview(expected))
            """, sourceLocation: sourceLocation)
    }
    return differing == 0
}

// MARK: - Buffer helpers

extension Array where Element == Float {
    /// The array as Doubles, for references.
    var doubles: [Double] { map(Double.init) }
}

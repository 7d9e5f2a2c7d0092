// The numerics the C and Swift kernels share: the exp, expm1 and tanh approximations and the SELU
// constants are written twice, in C (CKernels/) and in Swift (Sources/SwiftKernels/), each where its
// compiler can fold them into the vector code. These tests keep the two copies identical bit for
// bit: the constants as the sources spell them (a 1-ulp change in a high-order coefficient moves
// too few results for any input sweep to see), and the values the compiled kernels compute.

import Dendrite
import Foundation
import Testing

/// Inputs that reach every branch of the approximations: a fine grid over the range where exp
/// neither saturates nor flushes, both sides of every clamp (±8 for tanh, −88, 88.3 and 88.9 for
/// exp and expm1), values near 0, and the special values.
private let sweep: [Float] = {
    var x = stride(from: Float(-90), through: 90, by: 1.0 / 512).map { $0 }
    for edge: Float in [8, 88, 88.3, 88.38, 88.72, 88.9, 87.7] {
        var lo = edge, hi = edge
        for _ in 0..<64 {
            x += [lo, -lo, hi, -hi]
            lo = lo.nextDown
            hi = hi.nextUp
        }
    }
    var tiny: Float = 1
    while tiny > 0 {
        x += [tiny, -tiny]
        tiny /= 3
    }
    return x + [0, -0, .infinity, -.infinity, .nan, .greatestFiniteMagnitude, -.greatestFiniteMagnitude]
}()

/// A routine whose constants are written in both languages: the C functions and the Swift
/// functions that together hold them.
struct SharedRoutine: Sendable, CustomTestStringConvertible {
    var name: String, c: [String], swift: [String]
    var testDescription: String { name }

    static let all = [
        SharedRoutine(name: "exp", c: ["dk__exp_reduce", "dk__exp_poly", "dk__exp"], swift: ["expReduce", "vexp"]),
        SharedRoutine(name: "expm1", c: ["dk__exp_reduce", "dk__expm1"], swift: ["expReduce", "vexpm1"]),
        SharedRoutine(name: "tanh", c: ["tanh_approx"], swift: ["vtanh"]),
    ]
}

/// The sources of one language with comments removed, and the numeric literals of its definitions.
private struct SourceText {
    let text: String
    /// `#define NAME number` macros (C; the number may be parenthesized), substituted into the bodies
    /// they appear in.
    let macros: [String: String]

    /// Every file under `folder` (relative to the package root) whose name ends in one of `suffixes`.
    init(folder: String, suffixes: [String]) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(folder)
        let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { url in suffixes.contains { url.path.hasSuffix($0) } }
            .sorted { $0.path < $1.path } ?? []
        let joined = try files.map { try String(contentsOf: $0, encoding: .utf8) }.joined(separator: "\n")
        text = joined.replacing(try Regex(#"/\*[\s\S]*?\*/|//[^\n]*"#), with: " ")
        var macros: [String: String] = [:]
        for match in text.matches(of: try Regex(#"#define\s+(\w+)\s+\(?(-?[0-9][0-9.eE+-]*f?)\)?\s"#)) {
            macros[String(match.output[1].substring!)] = String(match.output[2].substring!)
        }
        self.macros = macros
    }

    /// The body of the definition that `declaration` (a regex ending at the name) starts, or nil;
    /// a declaration without a body (a C prototype, ending in ";") is skipped.
    func body(_ declaration: String) throws -> String? {
        let starts = text.matches(of: try Regex(declaration + #"\b"#)).map(\.range.upperBound)
        guard let open = starts.lazy.compactMap({ start -> String.Index? in
            guard let brace = self.text[start...].firstIndex(of: "{") else { return nil }
            return self.text[start..<brace].contains(";") ? nil : brace
        }).first else { return nil }
        var depth = 0, end = open
        for i in text[open...].indices {
            if text[i] == "{" { depth += 1 }
            if text[i] == "}" { depth -= 1 }
            if depth == 0 { end = i; break }
        }
        return String(text[open...end])
    }

    /// The magnitudes of the numeric literals in `code` (sign dropped: one language may subtract
    /// what the other adds), as Float bit patterns; macros are replaced by their values first.
    func literals(_ code: String) throws -> Set<UInt32> {
        var code = code
        for (name, value) in macros { code = code.replacing(try Regex(#"\b\#(name)\b"#), with: value) }
        // Identifiers are matched whole, so the digits in SIMD8 or uint32_t are not taken for numbers.
        let token = try Regex(#"[A-Za-z_][A-Za-z0-9_]*|([0-9][0-9.]*(?:[eE][-+]?[0-9]+)?)[fF]?"#)
        let numbers = code.matches(of: token).compactMap { $0.output[1].substring.flatMap { Float(String($0)) } }
        return Set(numbers.map(\.bitPattern))
    }
}

/// Renders Float bit patterns as their values, for diagnostics.
private func describe(_ bits: some Collection<UInt32>) -> String {
    "[" + bits.sorted().map { "\(Float(bitPattern: $0))" }.joined(separator: ", ") + "]"
}

@Suite("numerics shared by the C and Swift kernels")
struct SharedNumericsTests {
    private static let c = Result { try SourceText(folder: "CKernels", suffixes: [".c", ".h"]) }
    private static let swift = Result { try SourceText(folder: "Sources/SwiftKernels", suffixes: [".swift"]) }

    @Test("C and Swift sources spell the same constants", arguments: SharedRoutine.all)
    func sameConstants(routine: SharedRoutine) throws {
        let c = try Self.c.get(), swift = try Self.swift.get()
        var cValues: Set<UInt32> = [], swiftValues: Set<UInt32> = []
        for name in routine.c {
            let body = try #require(try c.body(#"\bfloat\s+"# + name), "no C function float \(name)(…) in CKernels/")
            cValues.formUnion(try c.literals(body))
        }
        for name in routine.swift {
            let body = try #require(try swift.body(#"\bfunc\s+"# + name),
                                    "no Swift func \(name) in Sources/SwiftKernels/")
            swiftValues.formUnion(try swift.literals(body))
        }
        #expect(cValues.count >= 5, "\(routine.name): only \(describe(cValues)) found in C")
        let same = cValues == swiftValues  // compared outside #expect, which would print both sets as bits
        #expect(same, """
            \(routine.name): constants differ; only in C (\(routine.c.joined(separator: ", "))): \
            \(describe(cValues.subtracting(swiftValues))); only in Swift (\(routine.swift.joined(separator: ", "))): \
            \(describe(swiftValues.subtracting(cValues)))
            """)
    }

    @Test("C and Swift sources spell the same SELU constants")
    func sameSELUConstants() throws {
        let c = try Self.c.get(), swift = try Self.swift.get()
        func cMacro(_ name: String) throws -> Float {
            let value = try #require(c.macros[name], "no #define \(name) in CKernels/")
            return try #require(Float(value.replacing("f", with: "")), "#define \(name) \(value) is not a number")
        }
        func swiftConstant(_ name: String) throws -> Float {
            let body = try #require(try swift.body(#"\bvar\s+"# + name),
                                    "no Swift var \(name) in Sources/SwiftKernels/")
            let values = try swift.literals(body)
            try #require(values.count == 1, "Swift \(name): expected one literal, found \(describe(values))")
            return Float(bitPattern: values.first!)
        }
        let alpha = try cMacro("SELU_ALPHA"), scale = try cMacro("SELU_SCALE")
        let swiftAlpha = try swiftConstant("seluAlpha"), swiftScale = try swiftConstant("seluScale")
        #expect(alpha.bitPattern == swiftAlpha.bitPattern, "SELU α: C \(alpha), Swift \(swiftAlpha)")
        #expect(scale.bitPattern == swiftScale.bitPattern, "SELU scale: C \(scale), Swift \(swiftScale)")
        // C's forward multiplies by this product, its backward by scale·α computed in Float.
        let product = try cMacro("SELU_SCALE_ALPHA")
        #expect(product.bitPattern == (scale * alpha).bitPattern,
                "SELU_SCALE_ALPHA \(product) ≠ scale·α \(scale * alpha)")
    }

    /// Each output compared bit for bit except NaN's sign and payload, which no backend promises.
    private static func canonicalNaN(_ x: [Float]) -> [Float] { x.map { $0.isNaN ? .nan : $0 } }

    /// Only the multiply-adds the two languages fuse are the same, so C is compared with the Swift
    /// build that mirrors its code path: both fuse (AVX2+FMA) or neither does (baseline x86-64).
    /// Two kernels differ by design and are left out: SELU's forward (C multiplies expm1 by the
    /// product scale·α, rounded once; Swift by α, then by the scale) and tanh's backward (C's
    /// 1 − y², a fused multiply-add on the AVX2 path; Swift's (1 − y)(1 + y)). Both are checked against
    /// the Double reference in ActivationTests; SELU's constants are checked here by its backward pass.
    @Test("C and the Swift build for this CPU compute the same activations bit for bit",
          .enabled(if: isX86_64), arguments: ActivationCases.all)
    func kernelsAgreeBitwise(act: ActivationCase) throws {
        let c = try makeBackend("c"), swift = try makeBackend("swift")
        let forward = [c, swift].map { be -> [Float] in
            var out = [Float](repeating: .nan, count: sweep.count)
            be.elementwise.activationForward(out: &out, input: sweep, count: sweep.count, activation: act.activation)
            return Self.canonicalNaN(out)
        }
        if act.activation != .selu {
            expectBitwiseEqual(forward[1], forward[0], "activationForward swift vs c \(act)", shape: "n=\(sweep.count)")
        }
        guard act.activation != .tanh else { return }
        let dout = randomFloats(sweep.count, seed: 91)
        let backward = [c, swift].map { be -> [Float] in
            var dinput = [Float](repeating: .nan, count: sweep.count)
            be.elementwise.activationBackward(dinput: &dinput, doutput: dout, output: forward[0], count: sweep.count,
                                              activation: act.activation)
            return Self.canonicalNaN(dinput)
        }
        expectBitwiseEqual(backward[1], backward[0], "activationBackward swift vs c \(act)", shape: "n=\(sweep.count)")
    }
}

private let isX86_64: Bool = {
    #if arch(x86_64)
    return true
    #else
    return false
    #endif
}()

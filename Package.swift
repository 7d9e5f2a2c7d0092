// swift-tools-version: 6.2
// 6.2+: a package that passes unsafe flags (-fopenmp) can still be used as a versioned dependency.
import PackageDescription

#if arch(x86_64)
let avx2SwiftFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"]), .define("DENDRITE_FMA")]
// AVX-512 F/CD/BW/DQ/VL (x86-64-v4, which this compiler does not name): the C kernels' avx512 path's level.
let avx512SwiftFlags: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", "skylake-avx512"]), .define("DENDRITE_FMA"), .define("DENDRITE_AVX512"),
]
// 16-lane loops on the C kernels' AVX-512 path (clang otherwise keeps auto-vectorized loops at 256
// bits); the other paths' vectors are no wider than 256 bits anyway.
let vectorWidthCFlags = ["-mprefer-vector-width=512"]
#else
let avx2SwiftFlags: [SwiftSetting] = []  // elsewhere the "AVX2" and "AVX512" modules are portable builds, never chosen
let avx512SwiftFlags: [SwiftSetting] = []
let vectorWidthCFlags: [String] = []
#endif

let package = Package(
    name: "Dendrite",
    platforms: [.macOS(.v13)],
    // MARK: - Public products
    products: [
        .library(name: "Dendrite", targets: ["Dendrite"]),
        .executable(name: "dendrite", targets: ["dendrite"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // `swift package generate-documentation --target Dendrite` (the DocC catalog in Sources/Dendrite).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // MARK: - Kernels
        .target(
            name: "CKernels",
            path: "CKernels",
            cSettings: [.unsafeFlags(["-fopenmp", "-O3"] + vectorWidthCFlags)],
            linkerSettings: [.linkedLibrary("omp5")]
        ),
        .target(
            name: "SwiftKernels",
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        ),
        // The same sources (symlinks) compiled for AVX2+FMA CPUs; Swift has no per-function target
        // attribute, so the Swift backend picks one of the modules at run time instead.
        .target(
            name: "SwiftKernelsAVX2",
            swiftSettings: avx2SwiftFlags + [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        ),
        // And for AVX-512 CPUs, whose direct GEMM tile is twice as wide (see TileVector in Matmul.swift).
        .target(
            name: "SwiftKernelsAVX512",
            swiftSettings: avx512SwiftFlags + [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        ),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        // SIGINT/SIGTERM as a stop request: a signal handler may touch only lock-free atomics, so it is C.
        .target(name: "CStopSignal"),

        // MARK: - Library, CLI, benchmarks
        .target(
            name: "Dendrite",
            dependencies: ["CKernels", "SwiftKernels", "SwiftKernelsAVX2", "SwiftKernelsAVX512", "CZlib", "CStopSignal"]
        ),
        .executableTarget(
            name: "dendrite",
            dependencies: [
                "Dendrite",
                "DendriteBenchmarks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "DendriteBenchmarks", dependencies: ["Dendrite", "CKernels"], path: "Benchmarks"),

        // MARK: - Tests
        .testTarget(name: "KernelTests", dependencies: ["Dendrite", "CKernels", "SwiftKernels"]),
        .testTarget(name: "DendriteTests", dependencies: ["Dendrite", "CZlib"]),
    ],
    swiftLanguageModes: [.v5]
)

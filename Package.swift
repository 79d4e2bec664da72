// swift-tools-version: 6.0
// trajforge: verified multi-turn tool-use trajectories -> training data for function-calling models.
// Dependencies flow downward only: trajforge -> TrajForge -> (Jinja, BPE, ByteJSON, CZlib, CArchive).
import PackageDescription

let package = Package(
    name: "trajforge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "trajforge", targets: ["trajforge"]),
        .library(name: "TrajForge", targets: ["TrajForge"]),
        .library(name: "Jinja", targets: ["Jinja"]),
        .library(name: "BPE", targets: ["BPE"]),
        .library(name: "ByteJSON", targets: ["ByteJSON"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        // Recipes are YAML (read with line numbers for errors).
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // System libraries (Debian zlib1g-dev, libarchive-dev).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        .systemLibrary(name: "CArchive", path: "Sources/CArchive", pkgConfig: "libarchive",
                       providers: [.apt(["libarchive-dev"]), .brew(["libarchive"])]),

        // Standalone libraries: they know nothing of trajectories.
        .target(name: "ByteJSON"),
        .target(name: "Jinja", dependencies: ["ByteJSON"]),
        .target(name: "BPE", dependencies: ["ByteJSON"]),

        // The library: one folder per stage.
        .target(name: "TrajForge", dependencies: [
            "ByteJSON", "Jinja", "BPE", "CZlib", "CArchive",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Yams", package: "Yams"),
        ]),

        // The command-line tool: thin, parses options and calls the library.
        .executableTarget(name: "trajforge", dependencies: [
            "TrajForge",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Benchmark harness (run with `swift run -c release trajforge-bench`).
        .executableTarget(name: "trajforge-bench", dependencies: ["TrajForge", "ByteJSON", "Jinja", "BPE"],
                          path: "tools/bench"),

        // Raw template-engine speed per template, beside tools/jinja/bench_python.py.
        .executableTarget(name: "jinja-bench", dependencies: ["Jinja", "ByteJSON"], path: "tools/jinja/bench"),

        .testTarget(name: "ByteJSONTests", dependencies: ["ByteJSON"]),
        .testTarget(name: "JinjaTests", dependencies: ["Jinja", "ByteJSON"], exclude: ["Fixtures"]),
        .testTarget(name: "BPETests", dependencies: ["BPE", "ByteJSON"]),
        .testTarget(name: "TrajForgeTests", dependencies: ["TrajForge", "ByteJSON", "Jinja", "BPE"],
                    resources: [.copy("Fixtures")]),
    ]
)

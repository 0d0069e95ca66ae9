// swift-tools-version:6.1
import PackageDescription

import Foundation

// Hot numeric code is compiled with -Ounchecked in release builds: bounds checks are proven by
// the shape contracts at each function's entry, not re-checked per element.
//
// On x86-64 it also targets AVX2 + FMA (Haswell, 2013, and every later x86-64 desktop/server
// CPU): Swift's SIMD types and vectorised loops then use 8-lane registers instead of the 4-lane
// SSE2 of the x86-64 baseline. For an older CPU build with DIGITD_TARGET_CPU=x86-64; for this
// machine exactly, DIGITD_TARGET_CPU=native.
#if arch(x86_64)
let targetCPU = ProcessInfo.processInfo.environment["DIGITD_TARGET_CPU"] ?? "haswell"
#else
let targetCPU = ProcessInfo.processInfo.environment["DIGITD_TARGET_CPU"] ?? ""
#endif
let cpuFlags = targetCPU.isEmpty ? [] : ["-target-cpu", targetCPU]
let fastMath: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo"] + cpuFlags, .when(configuration: .release)),
]

let package = Package(
    name: "digitd",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "digitd", targets: ["digitd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // C libraries from Debian's -dev packages, found through pkg-config.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CV4L2", path: "Sources/CV4L2", pkgConfig: "libv4l2",
                       providers: [.apt(["libv4l-dev"])]),
        .systemLibrary(name: "CSDL2", path: "Sources/CSDL2", pkgConfig: "sdl2",
                       providers: [.apt(["libsdl2-dev"])]),

        // Pixels: image buffers, codecs, drawing.
        .target(name: "Imaging", dependencies: ["CJPEG", "CPNG", "CZlib"], swiftSettings: fastMath),
        // Finding digits in pictures: threshold, components, candidates, MNIST normalisation.
        .target(name: "Vision", dependencies: ["Imaging"], swiftSettings: fastMath),
        // The CNN engine: tensors, layers (forward + backward), losses, optimisers, model files.
        .target(name: "NeuralNet", dependencies: ["CBLAS"], swiftSettings: fastMath),
        // IDX datasets, augmentation, the training loop, metrics, reports and plots.
        .target(name: "Training", dependencies: ["NeuralNet", "Imaging", "CZlib"], swiftSettings: fastMath),
        // Frame sources: V4L2 camera, MJPEG/Y4M streams, image files.
        .target(name: "Capture", dependencies: ["Imaging", "CV4L2"], swiftSettings: fastMath),
        // The per-frame pipeline (Vision -> NeuralNet -> readings), numbers, tracker, events.
        .target(name: "Recognition", dependencies: ["Vision", "NeuralNet", "Imaging"], swiftSettings: fastMath),
        // The SDL2 window: video texture, overlay, HUD, keys.
        .target(name: "Display", dependencies: ["Imaging", "Recognition", "CSDL2"], swiftSettings: fastMath),
        .executableTarget(
            name: "digitd",
            dependencies: [
                "Imaging", "Vision", "NeuralNet", "Training", "Capture", "Recognition", "Display",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: fastMath
        ),

        .testTarget(name: "NeuralNetTests", dependencies: ["NeuralNet", "Training"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging"]),
        .testTarget(name: "VisionTests", dependencies: ["Vision", "Imaging", "Recognition", "Training", "NeuralNet"]),
        .testTarget(name: "CaptureTests", dependencies: ["Capture", "Imaging"]),
        .testTarget(name: "RecognitionTests", dependencies: ["Recognition", "Vision", "Imaging", "NeuralNet"]),
        .testTarget(name: "CLITests", dependencies: ["digitd"]),
    ]
)

// swift-tools-version:6.0
import PackageDescription
import Foundation

// AVX2+FMA code generation for the SIMD kernels (without it SIMD8 FMA becomes a libm call per lane).
// unsafeFlags are allowed because this is a root package. GRAFT_BASELINE_CPU=1 turns it off.
let fastSwift: [SwiftSetting] = ProcessInfo.processInfo.environment["GRAFT_BASELINE_CPU"] != nil ? [] : [
    .unsafeFlags(["-target-cpu", "haswell"]),
]

// Open MPI is optional (finetune-mpi): its module, the Distributed target and the product exist only
// where its development files are installed (Debian libopenmpi-dev); GRAFT_MPI=0 or 1 overrides.
let mpiDevelopmentFiles = ["/usr/lib/x86_64-linux-gnu/pkgconfig/ompi-c.pc", "/usr/lib/aarch64-linux-gnu/pkgconfig/ompi-c.pc",
                           "/usr/lib/pkgconfig/ompi-c.pc", "/usr/local/lib/pkgconfig/ompi-c.pc"]
let withMPI = ProcessInfo.processInfo.environment["GRAFT_MPI"].map { $0 != "0" }
    ?? mpiDevelopmentFiles.contains { FileManager.default.fileExists(atPath: $0) }

let package = Package(
    name: "Graft",
    products: [
        .executable(name: "finetune", targets: ["finetune"]),
        .executable(name: "graft-bench", targets: ["graft-bench"]),
        .library(name: "Graft", targets: ["TensorCore", "DNNL", "NN", "Zoo", "WeightIO", "ImageIO", "Training"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        // Keras 3 `.keras` archives are zip files.
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        // TensorBoard event files (`--tensorboard`); the generated code is committed (scripts/generate_protos.sh).
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        // libjpeg-turbo (Debian's libjpeg62-turbo-dev) and libexif for EXIF orientation.
        .systemLibrary(name: "CJPEG", providers: [.apt(["libjpeg62-turbo-dev", "libexif-dev"])]),
        .systemLibrary(name: "CSysMem"),   // header-only: mmap/mremap wrappers for StoragePool

        .target(name: "TensorCore", dependencies: ["CBLAS", "CSysMem"], swiftSettings: fastSwift),
        // The only importer of CDNNL: oneDNN handles, training convolutions, the inference graph
        // compiler and memory planner, and the CPU backend that picks oneDNN or im2col per pass.
        .target(name: "DNNL", dependencies: ["TensorCore", "CBLAS", "CDNNL"], swiftSettings: fastSwift),
        .target(name: "NN", dependencies: ["TensorCore", "DNNL"], swiftSettings: fastSwift),
        .target(name: "Zoo", dependencies: ["NN", "DNNL"], swiftSettings: fastSwift),
        .target(name: "WeightIO", dependencies: ["NN", "Zoo", "CHDF5", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
                swiftSettings: fastSwift),
        .target(name: "ImageIO", dependencies: ["TensorCore", "CPNG", "CJPEG"], swiftSettings: fastSwift),
        .target(name: "Training", dependencies: ["NN", "Zoo", "WeightIO", "ImageIO",
                                                 .product(name: "Yams", package: "Yams"),
                                                 .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                swiftSettings: fastSwift),
        // `finetune bench`: Graft side by side with PyTorch and TensorFlow (launches Python peers).
        .target(name: "Bench", dependencies: ["TensorCore", "DNNL", "NN", "Zoo", "Training"], swiftSettings: fastSwift),
        // The command line (parse and dispatch only), shared by `finetune` and `finetune-mpi`.
        .target(name: "FinetuneCLI", dependencies: [
            "TensorCore", "DNNL", "WeightIO", "Training", "Bench", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: fastSwift),
        .executableTarget(name: "finetune", dependencies: ["FinetuneCLI"], swiftSettings: fastSwift),
        .executableTarget(name: "graft-bench", dependencies: ["TensorCore", "DNNL", "NN", "ImageIO"], swiftSettings: fastSwift),

        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "DNNL"]),
        .testTarget(name: "NNTests", dependencies: ["NN"]),
        .testTarget(name: "ZooTests", dependencies: ["Zoo"], exclude: ["Fixtures"]),
        .testTarget(name: "WeightIOTests", dependencies: ["WeightIO"], exclude: ["Fixtures"]),
        .testTarget(name: "ImageIOTests", dependencies: ["ImageIO"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training"]),
        .testTarget(name: "CLITests", dependencies: ["Training"]),
    ]
)

if withMPI {
    package.products.append(.executable(name: "finetune-mpi", targets: ["finetune-mpi"]))
    package.targets += [
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        // The MPI implementation of Training's DataParallelGroup.
        .target(name: "Distributed", dependencies: ["Training", "CMPI"], swiftSettings: fastSwift),
        .executableTarget(name: "finetune-mpi", dependencies: ["Distributed", "FinetuneCLI", "Training"], swiftSettings: fastSwift),
    ]
}

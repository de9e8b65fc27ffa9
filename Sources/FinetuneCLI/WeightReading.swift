import Foundation
import TensorCore
import WeightIO

extension Finetune {
    /// Call first in an executable's `main.swift`, before anything else starts (MPI, threads). In
    /// the hidden `__read-weights` child this reads the one weight file, streams it to standard output
    /// and exits. Otherwise it installs contained reads (unless `GRAFT_CONTAIN_HDF5=0`): weight files
    /// the user names are read by such a child of this same binary, so a crash or endless loop inside
    /// libhdf5 becomes one error line naming the file.
    public static func prepareWeightReading() {
        let arguments = CommandLine.arguments
        if arguments.count > 1 && arguments[1] == ContainedReader.subcommand {
            Foundation.exit(ContainedReader.serve(arguments: Array(arguments.dropFirst(2))))
        }
        if RuntimeOptions(environment: RuntimeEnvironment.variables).containHDF5 {
            WeightReadPolicy.install(WeightReadPolicy(containment: ContainedReader(command: [RuntimeEnvironment.executablePath,
                                                                                            ContainedReader.subcommand])))
        }
    }
}

/// `--allow-nonfinite-weights`: keep NaN/Inf weights (the installed policy refuses them).
func allowNonFiniteWeights(_ allow: Bool) {
    guard allow else { return }
    var policy = WeightReadPolicy.installed
    policy.allowNonFiniteWeights = true
    WeightReadPolicy.install(policy)
}

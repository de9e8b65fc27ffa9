import ArgumentParser
import Foundation
import TensorCore
import Training
import WeightIO

/// `finetune`: parses the command line and dispatches to the Training module's jobs.
/// Every error ends as one line on stderr and a non-zero exit.
struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Transfer learning for convolutional networks: import, freeze, rebuild or extend the head, train, export.",
        discussion: """
        Quick start (shipped trunk and demo data, no download):
          finetune --base vgg --classes 3
        Models: `finetune zoo`. Recipes: recipes/*.yaml (`finetune --recipe recipes/vgg-cifar3.yaml`).
        """,
        subcommands: [Train.self, Predict.self, Evaluate.self, Export.self, Inspect.self, ZooList.self, Augment.self, Bench.self],
        defaultSubcommand: Train.self)
}

/// Runs `body`, turning any error into one clear line and exit code 1.
func runReportingErrors(_ body: () throws -> Void) throws {
    do { try body() } catch let e as ExitCode { throw e } catch {
        let message = String(describing: error)
        FileHandle.standardError.write(Data("error: \(message.split(separator: "\n").joined(separator: "; "))\n".utf8))
        throw ExitCode(1)
    }
}

// Weight files the user names are read by a child process (this binary's hidden subcommand), so a
// crash or endless loop inside libhdf5 becomes one error line naming the file.
if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == ContainedReader.subcommand {
    exit(ContainedReader.serve(arguments: Array(CommandLine.arguments.dropFirst(2))))
}
if RuntimeOptions(environment: RuntimeEnvironment.variables).containHDF5 {
    WeightReadPolicy.install(WeightReadPolicy(containment: ContainedReader(command: [RuntimeEnvironment.executablePath,
                                                                                    ContainedReader.subcommand])))
}

/// `--allow-nonfinite-weights`: keep NaN/Inf weights (the installed policy refuses them).
func allowNonFiniteWeights(_ allow: Bool) {
    guard allow else { return }
    var policy = WeightReadPolicy.installed
    policy.allowNonFiniteWeights = true
    WeightReadPolicy.install(policy)
}

Finetune.main()

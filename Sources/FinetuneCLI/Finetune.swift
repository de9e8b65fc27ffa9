import ArgumentParser
import Foundation
import Training

/// `finetune` (and `finetune-mpi`, the same command line): parses the command line and dispatches
/// to the Training module's jobs. Every error ends as one line on stderr and a non-zero exit.
public struct Finetune: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Transfer learning for convolutional networks: import, freeze, rebuild or extend the head, train, export.",
        discussion: """
        Quick start (shipped trunk and demo data, no download):
          finetune --base vgg --classes 3
        Models: `finetune zoo`. Recipes: recipes/*.yaml (`finetune --recipe recipes/vgg-cifar3.yaml`).
        """,
        subcommands: [Train.self, Predict.self, Evaluate.self, Export.self, Inspect.self, ZooList.self, Augment.self, Bench.self, LRFind.self],
        defaultSubcommand: Train.self)
}

/// Runs `body`, turning any error into one clear line and exit code 1.
func runReportingErrors(_ body: () throws -> Void) throws {
    do { try body() } catch let e as ExitCode { throw e } catch {
        let message = String(describing: error)
        FileHandle.standardError.write(Data("error: \(message.split(separator: "\n").joined(separator: "; "))\n".utf8))
        // finetune-mpi: the other ranks would wait for this one forever; end the whole job.
        if let group = DataParallel.group { group.abort(code: 1) }
        throw ExitCode(1)
    }
}


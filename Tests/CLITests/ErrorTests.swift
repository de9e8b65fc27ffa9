import Foundation
import Testing

/// Bad input ends as ONE line on stderr starting with "error:" that names the file, key or value,
/// a non-zero exit, and no training (no checkpoint written).
@Suite struct ErrorTests {
    /// Runs `finetune ARGS` and checks the one-line error; returns that line.
    @discardableResult
    static func fails(_ args: [String], naming needles: [String], out: URL? = nil,
                      sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let r = try CLI.run(args)
        #expect(r.status != 0, "expected a failure: \(r)", sourceLocation: sourceLocation)
        #expect(!r.terminatedBySignal, "\(r)", sourceLocation: sourceLocation)
        #expect(r.stderrLines.count == 1, "expected one stderr line: \(r)", sourceLocation: sourceLocation)
        let line = r.stderrLines.first ?? ""
        #expect(line.hasPrefix("error: "), "\(r)", sourceLocation: sourceLocation)
        for n in needles {
            #expect(line.contains(n), "'\(line)' should name \(n)", sourceLocation: sourceLocation)
        }
        #expect(!r.stdout.contains("epoch 1/"), "training started: \(r)", sourceLocation: sourceLocation)
        if let out {
            #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("checkpoint.h5").path),
                    "a checkpoint was written", sourceLocation: sourceLocation)
            #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("model.h5").path),
                    sourceLocation: sourceLocation)
            #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("recipe.yaml").path),
                    "a refused run wrote recipe.yaml", sourceLocation: sourceLocation)
        }
        return line
    }

    @Test func aZooModelWithoutDataFolderIsRefused() throws {
        let tmp = try TempDir()
        let out = tmp.path("run")
        try Self.fails(["--base", "lenet5", "--weights", "none", "--out", out.path], naming: ["--data"], out: out)
    }

    @Test func recipeWithATypoKeyNamesTheKeyAndItsLine() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1"], train: 2, val: 1)
        let recipe = tmp.path("typo.yaml")
        try """
        # a recipe with a typo on line 4
        model: lenet5
        weights: none
        batchsize: 8
        epochs: 1

        """.write(to: recipe, atomically: true, encoding: .utf8)
        let out = tmp.path("run")
        let line = try Self.fails(["--recipe", recipe.path, "--data", data.path, "--out", out.path],
                                  naming: ["'batchsize'", "line 4", "batch_size"], out: out)
        #expect(!line.contains("line 5"))

        // A nested key and a bad value, each with its line.
        try "model: lenet5\naugmentation:\n  flip: true\n  rotaton: 10\n".write(to: recipe, atomically: true, encoding: .utf8)
        try Self.fails(["--recipe", recipe.path, "--data", data.path, "--out", out.path],
                       naming: ["augmentation.rotaton", "line 4"], out: out)
        try "model: lenet5\nepochs: many\n".write(to: recipe, atomically: true, encoding: .utf8)
        try Self.fails(["--recipe", recipe.path, "--data", data.path, "--out", out.path],
                       naming: ["epochs", "line 2"], out: out)
        // A recipe file that does not exist.
        try Self.fails(["--recipe", tmp.path("nope.yaml").path, "--data", data.path, "--out", out.path],
                       naming: ["nope.yaml"], out: out)
    }

    @Test func missingDataFolder() throws {
        let tmp = try TempDir()
        let missing = tmp.path("no-such-data")
        let out = tmp.path("run")
        try Self.fails(CLI.lenet(data: missing, out: out), naming: [missing.path], out: out)
    }

    @Test func emptyClassFolder() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1"], train: 3, val: 0)
        let empty = data.appendingPathComponent("train/7")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try "not an image".write(to: empty.appendingPathComponent("README.txt"), atomically: true, encoding: .utf8)
        let out = tmp.path("run")
        try Self.fails(CLI.lenet(data: data, out: out), naming: ["'7'", empty.path], out: out)
    }

    /// A run refused at the start leaves an earlier run in the same output folder untouched.
    @Test func refusedRunLeavesAnExistingOutputFolderAlone() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1"], train: 2, val: 1)
        let out = tmp.path("run")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let earlier = "# recipe of an earlier run\nmodel: lenet5\n"
        try earlier.write(to: out.appendingPathComponent("recipe.yaml"), atomically: true, encoding: .utf8)
        let r = try CLI.run(CLI.lenet(data: data, out: out, extra: ["--classes", "3"]))
        #expect(r.status != 0 && r.stderrLines.count == 1, "\(r)")
        #expect(try String(contentsOf: out.appendingPathComponent("recipe.yaml"), encoding: .utf8) == earlier)
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("checkpoint.h5").path))
    }

    @Test func classCountThatDoesNotMatchTheFolders() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1", "2"], train: 2, val: 1)
        let out = tmp.path("run")
        try Self.fails(CLI.lenet(data: data, out: out, extra: ["--classes", "5"]), naming: ["--classes 5", "3 classes"], out: out)
    }

    @Test func unwritableOutputFolder() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1"], train: 2, val: 1)
        try Self.fails(CLI.lenet(data: data, out: URL(fileURLWithPath: "/proc/x")), naming: ["/proc/x"])
        // A regular file where the output folder should be.
        let file = tmp.path("a-file")
        try "x".write(to: file, atomically: true, encoding: .utf8)
        try Self.fails(CLI.lenet(data: data, out: file), naming: [file.path])
    }

    @Test func missingWeightsFile() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1"], train: 2, val: 1)
        let out = tmp.path("run")
        let weights = tmp.path("missing-weights.h5")
        var args = CLI.lenet(data: data, out: out)
        args[args.firstIndex(of: "none")!] = weights.path
        try Self.fails(args, naming: [weights.path, "not found"], out: out)
        // The other commands report it the same way.
        try Self.fails(["predict", "--base", "lenet5", "--weights", weights.path, data.appendingPathComponent("train").path],
                       naming: [weights.path])
        try Self.fails(["evaluate", "--model", weights.path, "--data", data.path], naming: [weights.path])
        try Self.fails(["inspect", weights.path], naming: [weights.path])
    }

    @Test func weightsFileThatIsNotHDF5() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1"], train: 2, val: 1)
        let out = tmp.path("run")
        let weights = tmp.path("notes.h5")
        try "these are not weights\n".write(to: weights, atomically: true, encoding: .utf8)
        var args = CLI.lenet(data: data, out: out)
        args[args.firstIndex(of: "none")!] = weights.path
        try Self.fails(args, naming: [weights.path, "HDF5"], out: out)
        try Self.fails(["predict", "--model", weights.path, data.appendingPathComponent("train").path], naming: [weights.path])
    }

    @Test func resumeOrExtendWithoutTheirFiles() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1"], train: 2, val: 1)
        try Self.fails(["--resume", tmp.path("not-a-run").path], naming: [tmp.path("not-a-run").path])
        let out = tmp.path("run")
        let model = tmp.path("missing-model.h5")
        try Self.fails(["--extend", model.path, "--data", data.path, "--out", out.path, "--epochs", "1"],
                       naming: [model.path], out: out)
    }
}

import Foundation
import Testing

/// `--cache-memory`: over the budget, images stream from disk and trunk features go to files in the
/// run folder; the run computes exactly what the in-memory run computes.
@Suite struct CacheMemoryTests {
    @Test func aTinyBudgetStreamsAndWritesFeatureFilesWithTheSameResult() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1", "2"], train: 8, val: 3)
        // Phase 1 on cached trunk features (frozen trunk, no augmentation), phase 2 on images.
        let extra = ["--freeze", "trunk", "--unfreeze-at", "2:all", "--optimizer", "adam", "--lr", "0.003"]
        let inMemory = tmp.path("in-memory"), streamed = tmp.path("streamed")
        let a = try CLI.succeed(CLI.lenet(data: data, out: inMemory, epochs: 2, extra: extra))
        #expect(a.stdout.contains("cache   train images decoded in memory"), "\(a)")
        #expect(a.stdout.contains("cache   trunk features in memory"), "\(a)")
        let b = try CLI.succeed(CLI.lenet(data: data, out: streamed, epochs: 2, extra: extra + ["--cache-memory", "1KiB"]))
        #expect(b.stdout.contains("cache   train images stream from disk"), "\(b)")
        #expect(b.stdout.contains("cache   val images stream from disk"), "\(b)")
        #expect(b.stdout.contains("cache   trunk features in files"), "\(b)")
        try Compare.runs(inMemory, streamed)
        // The feature files are a cache of the run, not an output.
        let left = try FileManager.default.contentsOfDirectory(atPath: streamed.path).filter { $0.contains("features") }
        #expect(left.isEmpty, "\(left)")
    }

    @Test func aBudgetThatIsNotASizeIsRefused() throws {
        let r = try CLI.run(["--base", "lenet5", "--cache-memory", "lots", "--data", "nowhere"])
        #expect(r.status != 0 && r.stderr.contains("--cache-memory lots"), "\(r)")
    }
}

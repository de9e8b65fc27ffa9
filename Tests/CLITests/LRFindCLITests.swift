import Foundation
import Testing

/// `finetune lr-find` on a tiny LeNet run: the sweep, its files, and a stop on divergence.
@Suite struct LRFindCLITests {
    @Test func sweepWritesThePlotAndASuggestionAndNothingElse() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1", "2"])
        let out = tmp.path("lr")
        let r = try CLI.succeed(["lr-find", "--steps", "30", "--start-lr", "1e-5", "--end-lr", "1"] + CLI.lenet(data: data, out: out))
        let line = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("lr-find suggested lr ") }, "\(r)")
        let value = try #require(Double(line.split(separator: " ")[3]))
        #expect(value >= 1e-5 && value <= 1, "\(line)")
        let json = try #require(try Data(contentsOf: out.appendingPathComponent("lr-find.json")).jsonObject as? [String: Any])
        let points = try #require(json["points"] as? [[String: Double]])
        #expect(points.count == 30 || json["diverged"] as? Bool == true)
        let lrs = points.compactMap { $0["lr"] }
        #expect(lrs.first.map { abs($0 - 1e-5) < 1e-9 } == true && zip(lrs, lrs.dropFirst()).allSatisfy { $0 < $1 })
        let html = try String(contentsOf: out.appendingPathComponent("lr-find.html"), encoding: .utf8)
        #expect(html.contains("<svg") && html.contains("learning rate"))
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        #expect(files == ["lr-find.html", "lr-find.json"], "lr-find wrote \(files)")
    }

    @Test func sweepStopsWhenTheLossDiverges() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1", "2"])
        let out = tmp.path("lr")
        let r = try CLI.succeed(["lr-find", "--steps", "200", "--start-lr", "1e-3", "--end-lr", "1e6"] + CLI.lenet(data: data, out: out))
        #expect(r.stdout.contains("stopped when the loss diverged"), "\(r)")
        let json = try #require(try Data(contentsOf: out.appendingPathComponent("lr-find.json")).jsonObject as? [String: Any])
        #expect(json["diverged"] as? Bool == true && ((json["points"] as? [Any])?.count ?? 200) < 200)
    }
}

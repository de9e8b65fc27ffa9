import Foundation
import Testing

/// Output of a run whose stdout is not a terminal (the tests' pipe): one line per epoch, no
/// per-batch lines; `--log-json FILE`: one JSON object per event.
@Suite struct RunLogTests {
    @Test func pipedRunPrintsEpochLinesAndLogJSONHasOneObjectPerEvent() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1", "2"])
        let out = tmp.path("run"), log = tmp.path("events.jsonl")
        // Not --plain: the style must come from stdout not being a terminal.
        var args = CLI.lenet(data: data, out: out, epochs: 3, extra: ["--freeze", "none", "--log-json", log.path])
        args.removeAll { $0 == "--plain" }
        let run = try CLI.succeed(args)
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("epoch ") }.count == 3, "\(run)")
        #expect(!run.stdout.contains(" batch "), "a short epoch prints no progress line off the terminal: \(run)")

        let text = try String(contentsOf: log, encoding: .utf8)
        let objects = text.split(separator: "\n").map { String($0).jsonObject as? [String: Any] }
        #expect(objects.allSatisfy { $0 != nil }, "every line is one JSON object: \(text)")
        let events = objects.compactMap { $0?["event"] as? String }
        #expect(events.filter { $0 == "epoch_end" }.count == 3, "\(events)")
        #expect(events.filter { $0 == "checkpoint" }.count == 3, "\(events)")
        #expect(events.first == "phase" && events.last == "done", "\(events)")
        let ends = objects.compactMap { $0 }.filter { $0["event"] as? String == "epoch_end" }
        #expect(ends.map { $0["epoch"] as? Int } == [1, 2, 3])
        #expect(ends.allSatisfy { $0["val_loss"] is Double && $0["train_loss"] is Double && $0["time"] is String })
    }
}

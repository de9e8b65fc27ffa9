import Foundation

extension ImageFolderDataset {
    /// A multi-label dataset from a CSV label file with a header row. Two layouts are accepted:
    ///
    ///     file,labels                  file,cat,dog,person
    ///     a.png,cat dog                a.png,1,1,0
    ///     b.png,person                 b.png,0,0,1
    ///
    /// Left: the second column lists label names separated by spaces, `;` or `|`; the classes are the
    /// sorted union of the names. Right: one numeric column per class (0/1 or soft targets), the
    /// classes in header order. File paths are relative to `imagesFolder` (default: the label file's
    /// folder). Blank lines and lines starting with `#` are ignored; fields may be double-quoted.
    public init(labelFile: URL, imagesFolder: URL? = nil, options: DatasetOptions = DatasetOptions()) throws {
        let text: String
        do {
            text = try String(contentsOf: labelFile, encoding: .utf8)
        } catch {
            throw ImageIOError.unreadableFile(path: labelFile.path, reason: (error as NSError).localizedDescription)
        }
        let folder = imagesFolder ?? labelFile.deletingLastPathComponent()
        var rows: [(line: Int, fields: [String])] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? String(raw.dropLast()) : String(raw)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            rows.append((number + 1, try CSV.fields(line, file: labelFile.path, line: number + 1)))
        }
        guard let header = rows.first else {
            throw ImageIOError.invalidLabelFile(path: labelFile.path, line: 1, reason: "no header row")
        }
        guard header.fields.count >= 2 else {
            throw ImageIOError.invalidLabelFile(path: labelFile.path, line: header.line,
                                                reason: "header needs a file column and label column(s)")
        }
        let body = rows.dropFirst()
        let namesLayout = header.fields.count == 2
        let classNames: [String]
        if namesLayout {
            classNames = Set(body.flatMap { $0.fields.count > 1 ? CSV.labelNames($0.fields[1]) : [] }).sorted()
        } else {
            classNames = header.fields.dropFirst().map { $0.trimmingCharacters(in: .whitespaces) }
        }
        guard !classNames.isEmpty else {
            throw ImageIOError.invalidLabelFile(path: labelFile.path, line: header.line, reason: "no class names found")
        }
        let classIndex = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, $0) })

        var candidates: [ImageSample] = []
        var skipped: [SkippedFile] = []
        for row in body {
            guard row.fields.count == header.fields.count else {
                throw ImageIOError.invalidLabelFile(path: labelFile.path, line: row.line,
                                                    reason: "\(row.fields.count) fields, header has \(header.fields.count)")
            }
            var targets = [Float](repeating: 0, count: classNames.count)
            if namesLayout {
                for name in CSV.labelNames(row.fields[1]) { targets[classIndex[name]!] = 1 }
            } else {
                for (k, field) in row.fields.dropFirst().enumerated() {
                    guard let v = Float(field.trimmingCharacters(in: .whitespaces)), v.isFinite else {
                        throw ImageIOError.invalidLabelFile(path: labelFile.path, line: row.line,
                                                            reason: "'\(field)' for class '\(classNames[k])' is not a number")
                    }
                    targets[k] = v
                }
            }
            let file = folder.appendingPathComponent(row.fields[0].trimmingCharacters(in: .whitespaces))
            let sample = ImageSample(file: file, label: targets.firstIndex(where: { $0 > 0 }) ?? -1, targets: targets)
            if !FileManager.default.fileExists(atPath: file.path) {
                skipped.append(SkippedFile(path: file.path, reason: "no such file (listed in \(labelFile.lastPathComponent) line \(row.line))"))
            } else if !DatasetScan.isDecodable(file) {
                skipped.append(SkippedFile(path: file.path, reason: "unsupported image format (PNG and JPEG are decoded)"))
            } else {
                candidates.append(sample)
            }
        }
        let (readable, unreadable) = DatasetScan.verify(candidates, options: options)
        let dataset = ImageFolderDataset(root: folder, classNames: classNames, samples: readable, isMultiLabel: true,
                                         skipped: skipped + unreadable)
        DatasetScan.report(dataset, options: options)
        if let empty = dataset.classCounts.firstIndex(of: 0) {
            throw ImageIOError.emptyClass(name: classNames[empty], location: labelFile.path)
        }
        self = dataset
    }
}

/// Minimal CSV field splitting: commas, optional double quotes ("" inside quotes is a quote).
enum CSV {
    static func fields(_ line: String, file: String, line number: Int) throws -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        var chars = line.makeIterator()
        while let ch = chars.next() {
            if quoted {
                if ch == "\"" {
                    // A doubled quote is a literal quote; a single one closes the field.
                    var lookahead = chars
                    if lookahead.next() == "\"" { current.append("\""); chars = lookahead } else { quoted = false }
                } else {
                    current.append(ch)
                }
            } else if ch == "\"" && current.trimmingCharacters(in: .whitespaces).isEmpty {
                quoted = true; current = ""
            } else if ch == "," {
                fields.append(current); current = ""
            } else {
                current.append(ch)
            }
        }
        if quoted { throw ImageIOError.invalidLabelFile(path: file, line: number, reason: "unterminated quote") }
        fields.append(current)
        return fields
    }

    static func labelNames(_ field: String) -> [String] {
        field.split(whereSeparator: { $0 == " " || $0 == ";" || $0 == "|" || $0 == "\t" }).map(String.init)
    }
}

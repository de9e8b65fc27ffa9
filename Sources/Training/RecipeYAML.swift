import Foundation
import Yams

/// Why a recipe was rejected. Every case names the key (dotted for nested keys, e.g.
/// `augmentation.flip`) and, when it came from a file, the 1-based line.
public enum RecipeError: Error, Equatable, CustomStringConvertible {
    /// Not valid YAML (the message includes libyaml's position).
    case syntax(String)
    /// The document is not a key/value mapping.
    case notAMapping(line: Int?)
    case unknownKey(key: String, line: Int?, suggestion: String?)
    case duplicateKey(key: String, line: Int?)
    /// Wrong type or a value outside what the key allows.
    case invalidValue(key: String, line: Int?, message: String)

    public var description: String {
        func at(_ line: Int?) -> String { line.map { "line \($0): " } ?? "" }
        switch self {
        case .syntax(let m): return "recipe is not valid YAML: \(m)"
        case .notAMapping(let line): return "recipe \(at(line))expected a mapping of keys to values"
        case let .unknownKey(key, line, suggestion):
            return "recipe \(at(line))unknown key '\(key)'" + (suggestion.map { " (did you mean '\($0)'?)" } ?? "")
        case let .duplicateKey(key, line): return "recipe \(at(line))key '\(key)' appears twice"
        case let .invalidValue(key, line, message): return "recipe \(at(line))'\(key)': \(message)"
        }
    }

    public var line: Int? {
        switch self {
        case .syntax: nil
        case .notAMapping(let l): l
        case .unknownKey(_, let l, _), .duplicateKey(_, let l), .invalidValue(_, let l, _): l
        }
    }
}

extension Recipe {
    /// Parses a YAML recipe over the defaults; unknown keys, duplicate keys, type errors and
    /// out-of-range values throw `RecipeError` naming the key and line.
    public static func load(yaml: String) throws -> Recipe {
        let root = try composeRecipe(yaml)
        guard let root else { return Recipe() }
        var recipe = Recipe()
        recipe.apply(try decodeOverrides(node: root, source: yaml))
        try recipe.validate(lines: keyLines(root))
        return recipe
    }

    public static func load(contentsOf url: URL) throws -> Recipe {
        try load(yaml: String(contentsOf: url, encoding: .utf8))
    }

    /// Recipe file (optional) + command-line overrides, validated.
    public static func resolve(file: URL?, overrides: RecipeOverrides = .init()) throws -> Recipe {
        var r = try file.map { try load(contentsOf: $0) } ?? Recipe()
        r.apply(overrides)
        try r.validate()
        return r
    }

    /// The recipe as YAML (every key, snake_case, optional ones omitted when unset); loading it
    /// gives back an equal recipe.
    public func yaml(header: String? = nil) throws -> String {
        let body = Self.plainNumbers(try YAMLEncoder().encode(self))
        guard let header else { return body }
        return header.split(separator: "\n", omittingEmptySubsequences: false).map { "# \($0)\n" }.joined() + body
    }

    /// Yams writes floats in scientific form (`9e-1`); rewrite `key: <float>` values the way Swift
    /// prints them (`0.9`, `0.001`, `1e-05`), which read back to the same Double.
    static func plainNumbers(_ yaml: String) -> String {
        yaml.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard let colon = line.range(of: ": ") else { return String(line) }
            let value = line[colon.upperBound...]
            guard value.contains("e"), !value.contains(" "), let d = Double(value), d.isFinite else { return String(line) }
            return String(line[..<colon.upperBound]) + "\(d)"
        }.joined(separator: "\n")
    }

    /// Writes the resolved recipe (atomically) to `url`, usually `<out>/recipe.yaml`.
    public func write(to url: URL, header: String? = "resolved recipe written by finetune") throws {
        try AtomicFile.write(yaml(header: header), to: url)
    }

    /// Range checks that YAML types cannot express. `lines` maps top-level keys to their lines.
    public func validate(lines: [String: Int] = [:]) throws {
        func fail(_ key: String, _ message: String) -> RecipeError {
            .invalidValue(key: key, line: lines[key], message: message)
        }
        if model.isEmpty { throw fail("model", "must not be empty") }
        if let c = classes, c < 1 { throw fail("classes", "must be >= 1, got \(c)") }
        if let s = inputSize, s < 1 { throw fail("input_size", "must be >= 1, got \(s)") }
        if let c = inputChannels, c < 1 { throw fail("input_channels", "must be >= 1, got \(c)") }
        if let names = classNames {
            if names.isEmpty { throw fail("class_names", "must name at least one class folder") }
            if let dup = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
                throw fail("class_names", "'\(dup)' appears twice")
            }
            if let c = classes, c != names.count {
                throw fail("classes", "is \(c) but class_names lists \(names.count) classes (\(names.joined(separator: ", ")))")
            }
        }
        if batchSize < 1 { throw fail("batch_size", "must be >= 1, got \(batchSize)") }
        if epochs < 1 { throw fail("epochs", "must be >= 1, got \(epochs)") }
        if !(lr > 0) || !lr.isFinite { throw fail("lr", "must be > 0, got \(lr)") }
        if !(0..<1).contains(momentum) { throw fail("momentum", "must be in [0, 1), got \(momentum)") }
        if nesterov && optimizer == .sgd && momentum == 0 { throw fail("nesterov", "needs momentum > 0") }
        if weightDecay < 0 { throw fail("weight_decay", "must be >= 0, got \(weightDecay)") }
        if l1 < 0 { throw fail("l1", "must be >= 0, got \(l1)") }
        if stepEvery < 1 { throw fail("step_every", "must be >= 1, got \(stepEvery)") }
        if !(stepFactor > 0) { throw fail("step_factor", "must be > 0, got \(stepFactor)") }
        if minLR < 0 || minLR > lr { throw fail("min_lr", "must be in [0, lr], got \(minLR)") }
        if warmup < 0 || warmup >= epochs { throw fail("warmup", "must be in [0, epochs), got \(warmup)") }
        for u in unfreezeAt where u.epoch > epochs {
            throw fail("unfreeze_at", "epoch \(u.epoch) is after the last epoch (\(epochs))")
        }
        if !(trunkLRScale >= 0) { throw fail("trunk_lr_scale", "must be >= 0, got \(trunkLRScale)") }
        if let d = dropout, !(0..<1).contains(d) { throw fail("dropout", "must be in [0, 1), got \(d)") }
        if !(0..<1).contains(labelSmoothing) { throw fail("label_smoothing", "must be in [0, 1), got \(labelSmoothing)") }
        if labelSmoothing > 0 && loss != .softmax { throw fail("label_smoothing", "applies to the softmax loss only") }
        if let t = threads, t < 1 { throw fail("threads", "must be >= 1, got \(t)") }
        if out.isEmpty { throw fail("out", "must not be empty") }
        if let e = earlyStopping {
            if e.patience < 1 {
                throw RecipeError.invalidValue(key: "early_stopping.patience", line: lines["early_stopping.patience"],
                                               message: "must be >= 1, got \(e.patience)")
            }
            if !(e.minDelta >= 0) {
                throw RecipeError.invalidValue(key: "early_stopping.min_delta", line: lines["early_stopping.min_delta"],
                                               message: "must be >= 0, got \(e.minDelta)")
            }
        }
        if !(0..<1).contains(validationSplit) { throw fail("validation_split", "must be in [0, 1), got \(validationSplit)") }
        let a = augmentation
        for (k, v) in [("rotation", a.rotation), ("translation", a.translation), ("zoom", a.zoom), ("crop", a.crop),
                       ("color_jitter", a.colorJitter), ("noise", a.noise), ("erasing", a.erasing)] where !(v >= 0) {
            throw RecipeError.invalidValue(key: "augmentation.\(k)", line: lines["augmentation.\(k)"], message: "must be >= 0, got \(v)")
        }
        if a.crop > 1 || a.erasing > 1 {
            let k = a.crop > 1 ? "crop" : "erasing"
            throw RecipeError.invalidValue(key: "augmentation.\(k)", line: lines["augmentation.\(k)"], message: "must be <= 1")
        }
    }

    // MARK: - YAML plumbing

    static func composeRecipe(_ yaml: String) throws -> Node? {
        do { return try Yams.compose(yaml: yaml) } catch let YamlError.duplicatedKeysInMapping(keys, context) {
            throw RecipeError.duplicateKey(key: keys.first ?? "?", line: context.mark.line > 0 ? context.mark.line : nil)
        } catch {
            throw RecipeError.syntax("\(error)")
        }
    }

    static func decodeOverrides(yaml: String) throws -> RecipeOverrides {
        guard let root = try composeRecipe(yaml) else { return RecipeOverrides() }
        return try decodeOverrides(node: root, source: yaml)
    }

    /// Checks keys (with lines) and decodes; maps `DecodingError`s back to key + line.
    static func decodeOverrides(node root: Node, source: String?) throws -> RecipeOverrides {
        try checkKeys(root)
        do {
            return try YAMLDecoder().decode(RecipeOverrides.self, from: root)
        } catch let error as DecodingError {
            throw describe(error, root: root)
        }
    }

    /// Unknown and duplicate keys at the top level and inside `augmentation` / `head`.
    static func checkKeys(_ root: Node) throws {
        guard let mapping = root.mapping else { throw RecipeError.notAMapping(line: root.mark?.line) }
        try checkMapping(mapping, allowed: Recipe.keys, prefix: "")
        for (k, v) in mapping {
            guard let name = k.string else { continue }
            let nested: [String]? = name == "augmentation" ? Augmentation.keys : name == "head" ? Head.keys
                : name == "early_stopping" ? EarlyStopping.keys : nil
            if let nested, let m = v.mapping { try checkMapping(m, allowed: nested, prefix: name + ".") }
        }
    }

    private static func checkMapping(_ mapping: Node.Mapping, allowed: [String], prefix: String) throws {
        var seen = Set<String>()
        for (k, _) in mapping {
            guard let name = k.string else {
                throw RecipeError.invalidValue(key: prefix + "?", line: k.mark?.line, message: "keys must be plain words")
            }
            guard allowed.contains(name) else {
                throw RecipeError.unknownKey(key: prefix + name, line: k.mark?.line, suggestion: closestKey(name, in: allowed))
            }
            guard seen.insert(name).inserted else { throw RecipeError.duplicateKey(key: prefix + name, line: k.mark?.line) }
        }
    }

    /// Dotted key → line of the key, for top-level and nested keys.
    static func keyLines(_ root: Node) -> [String: Int] {
        var lines: [String: Int] = [:]
        for (k, v) in root.mapping ?? [:] {
            guard let name = k.string else { continue }
            lines[name] = k.mark?.line
            for (nk, _) in v.mapping ?? [:] { if let n = nk.string { lines["\(name).\(n)"] = nk.mark?.line } }
        }
        return lines
    }

    static func describe(_ error: DecodingError, root: Node) -> RecipeError {
        let (path, message): ([CodingKey], String)
        switch error {
        case let .typeMismatch(type, ctx): (path, message) = (ctx.codingPath, "expected \(typeName(type))")
        case let .valueNotFound(type, ctx): (path, message) = (ctx.codingPath, "expected \(typeName(type)), found nothing")
        case let .keyNotFound(key, ctx): (path, message) = (ctx.codingPath + [key], "missing")
        case let .dataCorrupted(ctx): (path, message) = (ctx.codingPath, ctx.debugDescription)
        @unknown default: (path, message) = ([], "\(error)")
        }
        // Walk the node tree along the coding path for the line and the offending text.
        var node: Node? = root
        var keyLine: Int?
        var names: [String] = []
        for key in path {
            if let i = key.intValue, let seq = node?.sequence {
                node = i < seq.count ? seq[i] : nil
                names.append("[\(i)]")
            } else if let m = node?.mapping {
                let entry = m.first { $0.key.string == key.stringValue }
                keyLine = entry?.key.mark?.line ?? keyLine
                node = entry?.value
                names.append((names.isEmpty ? "" : ".") + key.stringValue)
            }
        }
        let dotted = names.joined()
        var text = message
        if let found = node?.scalar?.string, !message.contains("got '") { text += ", got '\(found)'" }
        else if node?.mapping != nil, !message.contains("got") { text += ", got a mapping" }
        else if node?.sequence != nil, !message.contains("got") { text += ", got a list" }
        return .invalidValue(key: dotted.isEmpty ? "?" : dotted, line: node?.mark?.line ?? keyLine, message: text)
    }

    private static func typeName(_ t: Any.Type) -> String {
        switch t {
        case is Int.Type, is UInt64.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        default: t is [Any].Type ? "a list" : "\(t)"
        }
    }
}

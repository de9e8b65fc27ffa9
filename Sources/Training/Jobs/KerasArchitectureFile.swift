import Foundation
import WeightIO
import Yams

/// A Keras architecture sidecar (`--architecture`): what `model.to_json()` or the older
/// `model.to_yaml()` wrote, the format found from the content. YAML is read here (Training holds the
/// YAML dependency) into the same JSON-like values WeightIO parses.
public enum KerasArchitectureFile {
    public static func read(path: String) throws -> KerasModelConfig {
        let container = try modelFileContainer(path: path)
        guard container == .json || container == .text else {
            throw JobError("\(path): not an architecture file (JSON or YAML): it is a \(container == .zip ? "zip archive" : "HDF5 file"); pass it as --model")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw JobError("\(path): cannot be read as UTF-8 text")
        }
        if container == .json { return try parseKerasModelConfig(text, file: path) }
        let value: Any?
        // The basic resolver: every scalar a string (converted below). Yams's default resolver matches
        // shared NSRegularExpressions, which crash when used from several threads at once on Linux.
        do { value = try Yams.load(yaml: text, .basic) } catch {
            throw JobError("\(path): not valid YAML or JSON (\(String(describing: error).split(separator: "\n").first ?? ""))")
        }
        guard let root = jsonLike(value) as? [String: Any] else {
            throw JobError("\(path): the architecture is not a mapping with class_name and config")
        }
        return try parseKerasModelConfig(object: root, file: path)
    }

    /// YAML values as JSONSerialization would give them: string keys, NSNumber numbers and booleans,
    /// NSNull (YAML 1.1 spellings, as PyYAML writes them). Old Keras YAML tags tuples
    /// (`!!python/tuple`); they read as lists.
    static func jsonLike(_ v: Any?) -> Any {
        switch v {
        case nil: return NSNull()
        case let d as [AnyHashable: Any]:
            var out: [String: Any] = [:]
            for (k, x) in d { out["\(k.base)"] = jsonLike(x) }
            return out
        case let d as [String: Any]: return d.mapValues { jsonLike($0) }
        case let a as [Any]: return a.map { jsonLike($0) }
        case let b as Bool: return NSNumber(value: b)
        case let i as Int: return NSNumber(value: i)
        case let x as Double: return NSNumber(value: x)
        case is NSNull: return NSNull()
        case let s as String:
            switch s {
            case "null", "Null", "NULL", "~", "": return NSNull()
            case "true", "True", "TRUE": return NSNumber(value: true)
            case "false", "False", "FALSE": return NSNumber(value: false)
            case ".inf", ".Inf": return NSNumber(value: Double.infinity)
            case "-.inf", "-.Inf": return NSNumber(value: -Double.infinity)
            case ".nan", ".NaN": return NSNumber(value: Double.nan)
            default: break
            }
            if let i = Int(s) { return NSNumber(value: i) }
            if s.first.map({ $0.isNumber || $0 == "-" || $0 == "+" || $0 == "." }) == true, let x = Double(s) { return NSNumber(value: x) }
            return s
        default: return "\(v!)"
        }
    }
}

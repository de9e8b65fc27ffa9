import Foundation

// Keras names layers it is not given a name for by class plus a per-session counter (`conv2d`,
// `conv2d_1`, ...; Keras 2.0-2.2 started at `conv2d_1`, and a session that built another model first
// counts on from there). keras.applications.InceptionV3 names none of its convolutions and BatchNorms, so
// the same architecture arrives as `conv2d`...`conv2d_93` or `conv2d_1`...`conv2d_94` or `conv2d_95`....
// Keras's own `load_weights(h5)` therefore matches such files by layer order, not name. Here the
// counter order stands in for it: within one class, both sides number layers in creation order, so the
// k-th `conv2d*` of the file is the k-th of the model. Shapes are still checked tensor by tensor after.

/// Keras class prefixes whose auto-generated names are matched by counter order (weightless ones for
/// a full-model file's architecture check).
let autoNamedClassPrefixes: Set<String> = [
    "conv2d", "batch_normalization", "dense", "depthwise_conv2d", "separable_conv2d",
    "activation", "max_pooling2d", "average_pooling2d", "concatenate", "add", "zero_padding2d", "dropout",
]

/// `conv2d_12` -> ("conv2d", 12), `conv2d` -> ("conv2d", 0) when the prefix is an auto-named class.
func autoName(_ name: String) -> (prefix: String, counter: Int)? {
    if autoNamedClassPrefixes.contains(name) { return (name, 0) }
    guard let r = name.range(of: #"_[0-9]+$"#, options: .regularExpression),
          let k = Int(name[name.index(after: r.lowerBound)...]) else { return nil }
    let prefix = String(name[..<r.lowerBound])
    return autoNamedClassPrefixes.contains(prefix) ? (prefix, k) : nil
}

/// File layer name -> model layer name for auto-named classes whose names differ between the file and
/// the model but whose counts agree: the k-th (by counter) file layer of a class is the model's k-th.
/// Classes whose names already agree, or whose counts differ (a different network), get no aliases.
func autoNameAliases(fileLayers: [String], modelLayers: [String]) -> [String: String] {
    func byClass(_ names: [String]) -> [String: [(Int, String)]] {
        var t: [String: [(Int, String)]] = [:]
        for n in Set(names) { if let a = autoName(n) { t[a.prefix, default: []].append((a.counter, n)) } }
        return t.mapValues { $0.sorted { $0.0 < $1.0 } }
    }
    let file = byClass(fileLayers), model = byClass(modelLayers)
    var aliases: [String: String] = [:]
    for (prefix, f) in file {
        guard let m = model[prefix], m.count == f.count, f.map(\.1) != m.map(\.1) else { continue }
        for (a, b) in zip(f, m) where a.1 != b.1 { aliases[a.1] = b.1 }
    }
    return aliases
}

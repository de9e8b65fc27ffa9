import TensorCore

/// Base class of layers and models. Children and parameters are discovered by reflection over stored
/// properties, so a parameter's path (`block1_conv1.weight`, `layer1.0.conv1.weight`) is the chain of
/// property names and array indices; `_`-prefixed properties are private state, never paths.
/// Containers with dynamic names (Sequential) override `namedChildren()`.
open class Module {
    /// Training mode: dropout active, BatchNorm on batch statistics (unless frozen).
    public private(set) var isTraining = true

    public init() {}

    open func namedChildren() -> [(String, Module)] {
        var result: [(String, Module)] = []
        visitStoredProperties { name, value in
            if let m = value as? Module { result.append((name, m)) }
            else if let list = value as? [Module] {
                for (i, m) in list.enumerated() { result.append(("\(name).\(i)", m)) }
            }
        }
        return result
    }

    open func localParameters() -> [(String, Parameter)] {
        var result: [(String, Parameter)] = []
        visitStoredProperties { name, value in
            if let p = value as? Parameter { result.append((name, p)) }
        }
        return result
    }

    private func visitStoredProperties(_ body: (String, Any) -> Void) {
        var mirrors: [Mirror] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        while let m = mirror { mirrors.append(m); mirror = m.superclassMirror }
        for m in mirrors.reversed() {
            for child in m.children {
                guard let label = child.label, !label.hasPrefix("_"), label != "isTraining" else { continue }
                if let unwrapped = Module.unwrapOptional(child.value) { body(label, unwrapped) }
            }
        }
    }

    private static func unwrapOptional(_ value: Any) -> Any? {
        let m = Mirror(reflecting: value)
        guard m.displayStyle == .optional else { return value }
        return m.children.first?.value
    }

    /// Sets training/inference mode on this module and every descendant.
    public func setTraining(_ on: Bool) {
        isTraining = on
        for (_, child) in namedChildren() { child.setTraining(on) }
    }
}

extension Module {
    /// Every parameter and buffer with its full path, in declaration order.
    public func namedParameters(prefix: String = "") -> [(String, Parameter)] {
        var result: [(String, Parameter)] = []
        for (name, p) in localParameters() { result.append((prefix + name, p)) }
        for (name, child) in namedChildren() {
            result.append(contentsOf: child.namedParameters(prefix: prefix + name + "."))
        }
        return result
    }

    /// Every descendant module with its path (depth-first, parents before children).
    public func namedModules(prefix: String = "") -> [(String, Module)] {
        var result: [(String, Module)] = []
        for (name, child) in namedChildren() {
            let path = prefix + name
            result.append((path, child))
            result.append(contentsOf: child.namedModules(prefix: path + "."))
        }
        return result
    }

    public func parameter(at path: String) -> Parameter? {
        namedParameters().first { $0.0 == path }?.1
    }

    /// Freezes (or unfreezes) the trainable parameters whose path matches; returns how many changed state or matched.
    @discardableResult
    public func freeze(_ on: Bool = true, where match: (String) -> Bool) -> Int {
        var n = 0
        for (path, p) in namedParameters() where p.kind == .trainable && match(path) {
            p.isFrozen = on
            n += 1
        }
        return n
    }

    public var trainableParameterCount: Int {
        namedParameters().filter { $0.1.requiresGrad }.reduce(0) { $0 + $1.1.value.count }
    }

    /// All scalars, buffers included (Keras's count_params counts BatchNorm statistics too).
    public var parameterCount: Int {
        namedParameters().reduce(0) { $0 + $1.1.value.count }
    }

    public func zeroGrad() {
        for (_, p) in namedParameters() { p.zeroGrad() }
    }
}

/// A layer maps one activation to another. `outputShape(for:)` lets callers validate a whole model
/// against an input size (throwing, with the layer named) before any work or trap happens.
public protocol Layer: Module {
    func callAsFunction(_ x: Var) -> Var
    func outputShape(for inputShape: [Int]) throws -> [Int]
}

public enum ShapeError: Error, CustomStringConvertible, Equatable {
    /// A layer cannot take this input (output would be empty, channel mismatch, ...).
    case invalidInput(layer: String, input: [Int], reason: String)

    public var description: String {
        switch self {
        case let .invalidInput(layer, input, reason): "\(layer): input \(input) \(reason)"
        }
    }
}

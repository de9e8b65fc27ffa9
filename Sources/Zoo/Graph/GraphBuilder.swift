import NN

/// Writes a model graph top to bottom, torchvision style, tracking every node's shape so a size the
/// network cannot take fails here, naming the layer:
///
/// ```swift
/// var b = GraphBuilder(shape: [3, 224, 224])
/// try b.conv("conv1", 64, kernel: 7, stride: 2)
/// let shortcut = b.last
/// try b.conv("block1_conv", 64, kernel: 3, padding: .same)
/// try b.add("block1_add", [shortcut, b.last])
/// ```
/// Each method appends one node reading `from` (default: the last node) and returns its name.
public struct GraphBuilder {
    public let input: String
    public let inputShape: [Int]
    public private(set) var nodes: [Node] = []
    private var shapes: [String: [Int]]
    /// The most recent node (or the input).
    public private(set) var last: String

    public init(input: String = "input", shape: [Int]) {
        self.input = input
        self.inputShape = shape
        shapes = [input: shape]
        last = input
    }

    /// Shape of the last node.
    public var shape: [Int] { shapes[last]! }
    public var channels: Int { shape[0] }
    public func shape(of name: String) -> [Int]? { shapes[name] }

    /// Appends `kind` as node `name` reading `inputs` (default: the last node).
    @discardableResult
    public mutating func node(_ name: String, _ kind: any LayerKind, _ inputs: [String]? = nil) throws -> String {
        let ins = inputs ?? [last]
        let inShapes = try ins.map { i -> [Int] in
            guard let s = shapes[i] else {
                throw ShapeError.invalidInput(layer: name, input: [], reason: "reads '\(i)', which is not defined before it")
            }
            return s
        }
        guard shapes[name] == nil else {
            throw ShapeError.invalidInput(layer: name, input: [1] + inShapes[0], reason: "is defined twice")
        }
        do { shapes[name] = try kind.outputShape(inShapes) } catch let ShapeError.invalidInput(l, i, reason) {
            throw ShapeError.invalidInput(layer: l.isEmpty ? name : "\(name) (\(l))", input: i, reason: reason)
        }
        nodes.append(Node(name: name, layer: kind, inputs: ins))
        last = name
        return name
    }

    public func graph() throws -> ModelGraph { try ModelGraph(input: input, inputShape: inputShape, nodes: nodes, output: last) }

    private func from(_ f: String?) -> [String]? { f.map { [$0] } }

    @discardableResult
    public mutating func conv(_ name: String, _ out: Int, kernel: Int, stride: Int = 1, padding: SpecPadding = .valid,
                              bias: Bool = true, groups: Int = 1, activation: ZooActivation? = nil, kernelWidth: Int? = nil,
                              from: String? = nil) throws -> String {
        try node(name, Conv2DKind(filters: out, kernel: kernel, stride: stride, padding: padding, useBias: bias, groups: groups,
                                  activation: activation?.fused, kernelWidth: kernelWidth), self.from(from))
    }

    @discardableResult
    public mutating func depthwiseConv(_ name: String, kernel: Int, stride: Int = 1, padding: SpecPadding = .valid,
                                       depthMultiplier: Int = 1, bias: Bool = true, activation: ZooActivation? = nil,
                                       from: String? = nil) throws -> String {
        try node(name, DepthwiseConv2DKind(kernel: kernel, stride: stride, padding: padding, depthMultiplier: depthMultiplier,
                                           useBias: bias, activation: activation?.fused), self.from(from))
    }

    @discardableResult
    public mutating func batchNorm(_ name: String, epsilon: Float, scale: Bool = true, from: String? = nil) throws -> String {
        try node(name, BatchNormKind(epsilon: epsilon, scale: scale), self.from(from))
    }

    @discardableResult
    public mutating func activation(_ name: String, _ a: ZooActivation, from: String? = nil) throws -> String {
        try node(name, ActivationKind(a.nn), self.from(from))
    }

    @discardableResult
    public mutating func zeroPad(_ name: String, _ p: Int, from: String? = nil) throws -> String {
        try node(name, ZeroPadding2DKind(top: p, bottom: p, left: p, right: p), self.from(from))
    }

    @discardableResult
    public mutating func pool(_ name: String, _ kind: PoolKind, kernel: Int, stride: Int, padding: SpecPadding = .valid,
                              ceilMode: Bool = false, from: String? = nil) throws -> String {
        try node(name, Pool2DKind(kind, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode), self.from(from))
    }

    @discardableResult
    public mutating func localResponseNorm(_ name: String, size: Int, alpha: Float, beta: Float, k: Float) throws -> String {
        try node(name, LocalResponseNormKind(size: size, alpha: alpha, beta: beta, k: k))
    }

    /// The head pooling node (`flatten`, `avg_pool`, `max_pool`, or `name`).
    @discardableResult
    public mutating func pooling(_ p: HeadPooling, name: String? = nil, keepDims: Bool = false) throws -> String {
        let n = name ?? p.layerName
        switch p {
        case .flatten: return try node(n, FlattenKind())
        case .globalAverage: return try node(n, GlobalPool2DKind(.average, keepDims: keepDims))
        case .globalMax: return try node(n, GlobalPool2DKind(.max, keepDims: keepDims))
        }
    }

    @discardableResult
    public mutating func dense(_ name: String, _ out: Int, bias: Bool = true, activation: ZooActivation? = nil) throws -> String {
        try node(name, DenseKind(units: out, useBias: bias, activation: activation?.fused))
    }

    /// A dropout node, or nothing when `rate` is 0 (dropout has no parameters, so keys don't change).
    @discardableResult
    public mutating func dropout(_ name: String, _ rate: Float) throws -> String {
        rate > 0 ? try node(name, DropoutKind(rate: rate)) : last
    }

    @discardableResult
    public mutating func add(_ name: String, _ inputs: [String]) throws -> String { try node(name, AddKind(), inputs) }

    @discardableResult
    public mutating func multiply(_ name: String, _ inputs: [String]) throws -> String { try node(name, MultiplyKind(), inputs) }

    @discardableResult
    public mutating func concatenate(_ name: String, _ inputs: [String]) throws -> String { try node(name, ConcatenateKind(), inputs) }
}

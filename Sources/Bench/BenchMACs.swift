import NN
import Zoo

/// A layer kind's forward multiply-adds for one image (convolutions and dense layers; pooling,
/// BatchNorm, activations and merges count 0, as in the usual "GFLOPs" of a model).
public protocol MACCountable: LayerKind {
    func macs(_ inputs: [[Int]], output: [Int]) -> Double
}

/// A module whose forward multiply-adds `BenchFLOPs.forwardMACs` can count.
public protocol MACCountableModule {
    /// MACs for one input of per-image shape `shape`, and the per-image output shape.
    func forwardMACs(_ shape: [Int]) throws -> (macs: Double, shape: [Int])
}

/// Every zoo kind with its MAC count (a table: a kind without a conformance does not compile here).
public enum BenchMACs {
    public static let all: [any MACCountable.Type] = [
        DepthwiseConv2DKind.self, Conv2DKind.self, BatchNormKind.self, ActivationKind.self, ZeroPadding2DKind.self,
        Pool2DKind.self, GlobalPool2DKind.self, FlattenKind.self, DenseKind.self, DropoutKind.self,
        LocalResponseNormKind.self, AddKind.self, MultiplyKind.self, ConcatenateKind.self, ReshapeKind.self,
        SeparableConv2DKind.self, SubtractKind.self, AverageKind.self, MaximumKind.self, Cropping2DKind.self,
        UpSampling2DKind.self, RescalingKind.self, NormalizationKind.self, PReLUKind.self,
    ]
}

extension Conv2DKind: MACCountable {
    public func macs(_ inputs: [[Int]], output: [Int]) -> Double {
        Double(output.reduce(1, *)) * Double(inputs[0][0] / groups * kernelSize.0 * kernelSize.1)
    }
}

extension DepthwiseConv2DKind: MACCountable {
    public func macs(_ inputs: [[Int]], output: [Int]) -> Double { Double(output.reduce(1, *)) * Double(kernel * kernel) }
}

extension DenseKind: MACCountable {
    public func macs(_ inputs: [[Int]], output: [Int]) -> Double { Double(inputs[0][0] * units) }
}

extension BatchNormKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension ActivationKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension ZeroPadding2DKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension Pool2DKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension GlobalPool2DKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension FlattenKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension ReshapeKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension DropoutKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension LocalResponseNormKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension AddKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension MultiplyKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension ConcatenateKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension SeparableConv2DKind: MACCountable {
    /// The depthwise pass over the kernel taps, then the 1x1 pass.
    public func macs(_ inputs: [[Int]], output: [Int]) -> Double {
        let mid = Double(inputs[0][0] * depthMultiplier), positions = Double(output[1] * output[2])
        return positions * mid * Double(kernel * kernel) + positions * mid * Double(filters)
    }
}
extension SubtractKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension AverageKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension MaximumKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension Cropping2DKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension UpSampling2DKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension RescalingKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension NormalizationKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }
extension PReLUKind: MACCountable { public func macs(_ inputs: [[Int]], output: [Int]) -> Double { 0 } }

// MARK: Modules

extension Conv2D: MACCountableModule {
    public func forwardMACs(_ shape: [Int]) throws -> (macs: Double, shape: [Int]) {
        let g = try geometry(for: [1] + shape)
        return (g.flops / 2, Array(g.outputShape.dropFirst()))
    }
}

extension Dense: MACCountableModule {
    public func forwardMACs(_ shape: [Int]) throws -> (macs: Double, shape: [Int]) { (Double(inputSize * outputSize), [outputSize]) }
}

extension Sequential: MACCountableModule {
    public func forwardMACs(_ shape: [Int]) throws -> (macs: Double, shape: [Int]) {
        var total = 0.0, sh = shape
        for (_, l) in layers { let r = try BenchFLOPs.forwardMACs(l, sh); total += r.macs; sh = r.shape }
        return (total, sh)
    }
}

extension GraphModule: MACCountableModule {
    /// Per node from its kind, at the shapes `shape` gives.
    public func forwardMACs(_ shape: [Int]) throws -> (macs: Double, shape: [Int]) {
        let shapes = try graph.shapes(forInput: shape)
        var total = 0.0
        for n in graph.nodes {
            guard let k = n.layer as? any MACCountable else { continue }
            total += k.macs(n.inputs.map { shapes[$0]! }, output: shapes[n.name]!)
        }
        return (total, shapes[graph.output]!)
    }
}

extension ZooModel: MACCountableModule {
    public func forwardMACs(_ shape: [Int]) throws -> (macs: Double, shape: [Int]) {
        let t = try trunk.forwardMACs(shape)
        let h = try head.forwardMACs(t.shape)
        return (t.macs + h.macs, h.shape)
    }
}

extension BenchResNet20: MACCountableModule {
    public func forwardMACs(_ shape: [Int]) throws -> (macs: Double, shape: [Int]) {
        let c = try conv.forwardMACs(shape)
        let b = try blocks.forwardMACs(c.shape)
        return (c.macs + b.macs + Double(64 * fc.outputSize), [fc.outputSize])
    }
}

extension BenchBasicBlock: MACCountableModule {
    public func forwardMACs(_ shape: [Int]) throws -> (macs: Double, shape: [Int]) {
        let c1 = try conv1.forwardMACs(shape)
        let c2 = try conv2.forwardMACs(c1.shape)
        return (c1.macs + c2.macs, c2.shape)
    }
}

import Foundation
import NN
import TensorCore
import Training
import Zoo

/// ResNet-20 for CIFAR-10 as in He et al. 2015 ("Deep Residual Learning", section 4.2): a 3x3 conv of 16
/// maps, then 3 stages of n = 3 basic blocks with 16, 32 and 64 maps (feature maps 32, 16, 8; the first
/// block of stages 2 and 3 has stride 2), global average pooling and a 10-way dense layer: 6n + 2 = 20
/// weighted layers, 0.27 M parameters. Shortcuts are the paper's option A: identity, subsampled by
/// the stride and zero-padded in channels when the shape changes (no parameters). Convolutions have no
/// bias (each is followed by BatchNorm). bench_peers.py builds the same network in PyTorch and Keras.
public final class BenchResNet20: Module, Layer {
    public let conv: Conv2D
    public let bn: BatchNorm
    public let blocks: Sequential
    public let fc: Dense

    public init(classes: Int = 10, seed: UInt64 = 0) {
        var rng = SeededRandom(seed: seed)
        conv = Conv2D(inChannels: 3, outChannels: 16, kernel: 3, padding: .same, useBias: false, initializer: .heNormal, rng: &rng)
        bn = BatchNorm(channels: 16, epsilon: 1e-5, momentum: 0.1, convention: .pytorch)
        var layers: [(String, any Layer)] = []
        var cin = 16
        for (stage, (cout, stride)) in [(16, 1), (32, 2), (64, 2)].enumerated() {
            for i in 0..<3 {
                layers.append(("stage\(stage + 1).\(i)", BenchBasicBlock(cin, cout, stride: i == 0 ? stride : 1, rng: &rng)))
                cin = cout
            }
        }
        blocks = Sequential(named: layers)
        fc = Dense(inputSize: 64, outputSize: classes, rng: &rng)
        super.init()
    }

    public func callAsFunction(_ x: Var) -> Var {
        let y = blocks(relu(bn(conv(x))))
        return fc(flatten(globalAvgPool2d(y)))
    }

    public func outputShape(for s: [Int]) throws -> [Int] {
        let t = try blocks.outputShape(for: try conv.outputShape(for: s))
        return [t[0], fc.outputSize]
    }
}

/// conv3x3 - BN - ReLU - conv3x3 - BN, plus the option-A shortcut, then ReLU.
public final class BenchBasicBlock: Module, Layer {
    public let conv1: Conv2D, bn1: BatchNorm, conv2: Conv2D, bn2: BatchNorm
    public let stride: Int, inChannels: Int, outChannels: Int
    init(_ cin: Int, _ cout: Int, stride: Int, rng: inout SeededRandom) {
        conv1 = Conv2D(inChannels: cin, outChannels: cout, kernel: 3, stride: stride, padding: .explicit(top: 1, bottom: 1, left: 1, right: 1),
                       useBias: false, initializer: .heNormal, rng: &rng)
        bn1 = BatchNorm(channels: cout, epsilon: 1e-5, momentum: 0.1, convention: .pytorch)
        conv2 = Conv2D(inChannels: cout, outChannels: cout, kernel: 3, padding: .same, useBias: false, initializer: .heNormal, rng: &rng)
        bn2 = BatchNorm(channels: cout, epsilon: 1e-5, momentum: 0.1, convention: .pytorch)
        self.stride = stride; inChannels = cin; outChannels = cout
        super.init()
    }

    public func callAsFunction(_ x: Var) -> Var {
        let y = bn2(conv2(relu(bn1(conv1(x)))))
        // Option A in one fused op (no subsampled or zero-padded copies); the ReLU fuses into it.
        return relu(addShortcutA(y, x, stride: stride))
    }

    public func outputShape(for s: [Int]) throws -> [Int] { try conv2.outputShape(for: try conv1.outputShape(for: s)) }
}

/// Forward multiply-accumulate counts from the layers themselves (convolutions and dense layers; pooling,
/// BatchNorm, activations and adds are not counted, as in the usual "GFLOPs" of a model).
public enum BenchFLOPs {
    /// MACs of one forward pass of `layer` on one input of per-image shape `shape` ([C, H, W] or [F]),
    /// and the per-image output shape.
    public static func forwardMACs(_ layer: any Layer, _ shape: [Int]) throws -> (macs: Double, shape: [Int]) {
        if let m = layer as? any MACCountableModule { return try m.forwardMACs(shape) }
        let out = try layer.outputShape(for: [1] + shape)
        return (0, Array(out.dropFirst()))
    }
}

import Testing
import TensorCore
@testable import NN

final class TinyNet: Module, Layer {
    let fc1: Dense
    var fc2: Dense
    let _cache = 3
    override init() {
        var rng = SeededRandom(seed: 1)
        fc1 = Dense(inputSize: 4, outputSize: 3, rng: &rng)
        fc2 = Dense(inputSize: 3, outputSize: 2, useBias: false, rng: &rng)
    }
    func callAsFunction(_ x: Var) -> Var { fc2(fc1(x)) }
    func outputShape(for s: [Int]) throws -> [Int] { try fc2.outputShape(for: try fc1.outputShape(for: s)) }
}

@Test func parametersAreFoundByPropertyPath() {
    let net = TinyNet()
    #expect(net.namedParameters().map(\.0) == ["fc1.weight", "fc1.bias", "fc2.weight"])
    let seq = Sequential(named: [("block1", Dense(inputSize: 2, outputSize: 2, rng: &rngForTests)), ("head", net)])
    #expect(seq.namedParameters().map(\.0) == ["block1.weight", "block1.bias", "head.fc1.weight", "head.fc1.bias", "head.fc2.weight"])
}

nonisolated(unsafe) var rngForTests = SeededRandom(seed: 7)

@Test func frozenParametersGetNoGradientAndNoBackwardWork() {
    let net = TinyNet()
    #expect(net.freeze(where: { $0.hasPrefix("fc1.") }) == 2)
    let x = Var(Tensor(shape: [2, 4], scalars: [1, 2, 3, 4, -1, 0, 1, 2]))
    let y = net(x)
    y.backward()
    #expect(net.fc1.weight.grad == nil)
    #expect(net.fc1.bias?.grad == nil)
    #expect(net.fc2.weight.grad != nil)
    // Nothing upstream of fc2 requires a gradient, so fc1's output node keeps no tape.
    let h = net.fc1(x)
    #expect(!h.requiresGrad)
}

@Test func linearMatchesHandComputedValuesAndGradients() {
    let x = Var(Tensor(shape: [1, 2], scalars: [1, 2]))
    let wp = Parameter(Tensor(shape: [2, 2], scalars: [1, 0, 2, -1]))
    let bp = Parameter(Tensor(shape: [2], scalars: [0.5, 0]))
    let y = linear(x, Var(wp), Var(bp))
    #expect(y.value.scalars == [1.5, 0])
    y.backward()
    #expect(wp.grad?.scalars == [1, 2, 1, 2])
    #expect(bp.grad?.scalars == [1, 1])
}

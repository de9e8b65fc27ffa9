import Testing
import TensorCore
@testable import DNNL

/// Training must be bit-reproducible (a resumed run ends with the same weights): every convolution
/// pass gives the same bits on every call with the same inputs, whichever oneDNN algorithm runs.
@Suite(.serialized) struct ConvDeterminismTests {
    static let geometries: [(String, Conv2DGeometry)] = [
        ("3x3 s1 16->16 at 16x16", Conv2DGeometry(batch: 32, inChannels: 16, inHeight: 16, inWidth: 16, outChannels: 16,
                                                  kernelHeight: 3, kernelWidth: 3, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)),
        ("3x3 s2 16->32 at 16x16", Conv2DGeometry(batch: 32, inChannels: 16, inHeight: 16, inWidth: 16, outChannels: 32,
                                                  kernelHeight: 3, kernelWidth: 3, strideH: 2, strideW: 2,
                                                  padTop: 0, padBottom: 1, padLeft: 0, padRight: 1)),
        ("7x7 s2 3->16 at 64x64", Conv2DGeometry(batch: 32, inChannels: 3, inHeight: 64, inWidth: 64, outChannels: 16,
                                                 kernelHeight: 7, kernelWidth: 7, strideH: 2, strideW: 2,
                                                 padTop: 2, padBottom: 3, padLeft: 2, padRight: 3)),
    ]

    @Test(arguments: TrainConvAlgorithm.allCases)
    func everyPassRepeatsBitForBit(algorithm: TrainConvAlgorithm) {
        let saved = Threads.count
        Threads.count = 2
        defer { Threads.count = saved }
        for (name, g) in Self.geometries {
            var rng = SeededRandom(seed: 11)
            let x = (0..<g.inputShape.reduce(1, *)).map { _ in Float(rng.uniform(-1, 1)) }
            let w = (0..<g.weightShape.reduce(1, *)).map { _ in Float(rng.uniform(-1, 1)) }
            let dy = (0..<(g.batch * g.outChannels * g.outHeight * g.outWidth)).map { _ in Float(rng.uniform(-1, 1)) }
            let be = CPUBackend(convPath: .dnnl, trainConv: algorithm)
            var first: ([Float], [Float], [Float])? = nil
            for run in 0..<4 {
                var y = [Float](repeating: 0, count: dy.count), dx = [Float](repeating: 0, count: x.count)
                var dw = [Float](repeating: 0, count: w.count), db = [Float](repeating: 0, count: g.outChannels)
                x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in dy.withUnsafeBufferPointer { dyp in
                    y.withUnsafeMutableBufferPointer { be.conv2dForward(g, input: xp.baseAddress!, weight: wp.baseAddress!, bias: nil, output: $0.baseAddress!) }
                    dx.withUnsafeMutableBufferPointer { be.conv2dBackwardData(g, dOutput: dyp.baseAddress!, weight: wp.baseAddress!, dInput: $0.baseAddress!) }
                    dw.withUnsafeMutableBufferPointer { dwp in db.withUnsafeMutableBufferPointer { dbp in
                        be.conv2dBackwardWeights(g, input: xp.baseAddress!, dOutput: dyp.baseAddress!,
                                                 dWeight: dwp.baseAddress!, dBias: dbp.baseAddress!)
                    } }
                } } }
                let bits = (y.map(\.bitPattern), dx.map(\.bitPattern), dw.map(\.bitPattern))
                if let f = first {
                    #expect(bits.0 == f.0.map(\.bitPattern), "forward \(name) \(algorithm) run \(run)")
                    #expect(bits.1 == f.1.map(\.bitPattern), "backwardData \(name) \(algorithm) run \(run)")
                    #expect(bits.2 == f.2.map(\.bitPattern), "backwardWeights \(name) \(algorithm) run \(run)")
                } else {
                    first = (y, dx, dw)
                }
            }
        }
    }
}

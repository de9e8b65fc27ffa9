import Testing
import TensorCore
@testable import DNNL

/// A cached oneDNN primitive fixes its work split when it is created, from the creating thread's
/// OpenMP thread count. Which thread creates it first is a race (loader, GCD workers), so the bits a
/// convolution gives must not depend on that thread's state.
@Suite(.serialized) struct ConvCreationThreadsTests {
    static let g = Conv2DGeometry(batch: 8, inChannels: 16, inHeight: 32, inWidth: 32, outChannels: 16,
                                  kernelHeight: 3, kernelWidth: 3, strideH: 2, strideW: 2,
                                  padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)

    func backwardWeightsBits(creatorThreads: Int32) -> [UInt32] {
        let g = Self.g
        DNNLConv.cache.lock.lock(); DNNLConv.cache.entries = [:]; DNNLConv.cache.lock.unlock()
        // The state a GCD worker is left in after running a batch slice, or the main thread's.
        DNNLContext.shared?.setOMPThreads?(creatorThreads)
        _ = DNNLConv.supports(g, .backwardWeights, bias: true, algorithm: .direct)
        var rng = SeededRandom(seed: 5)
        let x = (0..<g.inputShape.reduce(1, *)).map { _ in Float(rng.uniform(-1, 1)) }
        let dy = (0..<(g.batch * g.outChannels * g.outHeight * g.outWidth)).map { _ in Float(rng.uniform(-1, 1)) }
        var dw = [Float](repeating: 0, count: g.weightShape.reduce(1, *)), db = [Float](repeating: 0, count: g.outChannels)
        let be = CPUBackend(convPath: .dnnl, trainConv: .direct)
        x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { dyp in
            dw.withUnsafeMutableBufferPointer { dwp in db.withUnsafeMutableBufferPointer { dbp in
                be.conv2dBackwardWeights(g, input: xp.baseAddress!, dOutput: dyp.baseAddress!,
                                         dWeight: dwp.baseAddress!, dBias: dbp.baseAddress!)
            } }
        } }
        return dw.map(\.bitPattern) + db.map(\.bitPattern)
    }

    @Test func bitsDoNotDependOnTheCreatingThreadsOpenMPCount() {
        let saved = Threads.count
        Threads.count = 2
        defer { Threads.count = saved }
        let a = backwardWeightsBits(creatorThreads: 1)
        let b = backwardWeightsBits(creatorThreads: 2)
        let differing = zip(a, b).filter { $0 != $1 }.count
        #expect(a.count == b.count && differing == 0, "\(differing) of \(a.count) dW/db values differ")
    }
}

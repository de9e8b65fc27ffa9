import Foundation

/// The machine's measured FP32 FMA peak, the yardstick every benchmark's "% of peak" uses:
/// 12 independent SIMD8 FMA chains per thread (needs -target-cpu haswell to become vfmadd ymm),
/// 16 FLOP per FMA x 12 per iteration.
public enum FMAProbe {
    @inline(never)
    static func chains(_ iterations: Int, _ seed: Float) -> Float {
        let m = SIMD8<Float>(repeating: 0.999_999), a = SIMD8<Float>(repeating: 1e-7)
        var r0 = SIMD8<Float>(repeating: seed), r1 = r0 + 1, r2 = r0 + 2, r3 = r0 + 3, r4 = r0 + 4, r5 = r0 + 5
        var r6 = r0 + 6, r7 = r0 + 7, r8 = r0 + 8, r9 = r0 + 9, r10 = r0 + 10, r11 = r0 + 11
        for _ in 0..<iterations {
            r0 = r0.addingProduct(m, a); r1 = r1.addingProduct(m, a); r2 = r2.addingProduct(m, a)
            r3 = r3.addingProduct(m, a); r4 = r4.addingProduct(m, a); r5 = r5.addingProduct(m, a)
            r6 = r6.addingProduct(m, a); r7 = r7.addingProduct(m, a); r8 = r8.addingProduct(m, a)
            r9 = r9.addingProduct(m, a); r10 = r10.addingProduct(m, a); r11 = r11.addingProduct(m, a)
        }
        return (r0 + r1 + r2 + r3 + r4 + r5 + r6 + r7 + r8 + r9 + r10 + r11).sum()
    }

    /// GFLOP/s of one probe on `threads` threads (`Threads.count` must allow that many workers).
    public static func gflops(threads: Int, iterations: Int = 20_000_000) -> Double {
        let sink = UnsafeMutablePointer<Float>.allocate(capacity: threads)
        defer { sink.deallocate() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        parallelFor(threads) { t in sink[t] = chains(iterations, Float(t)) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        return Double(threads) * Double(iterations) * 12 * 16 / seconds * 1e-9
    }
}

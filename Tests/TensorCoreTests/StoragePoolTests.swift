import Testing
@testable import TensorCore

@Test func sizeClassesHaveBoundedSlack() {
    for bytes in [1, 63, 64, 1000, StoragePool.minBytes - 1, StoragePool.minBytes, 100_000, 1 << 20, (1 << 20) + 1, 123_456_789] {
        let c = StoragePool.classBytes(bytes)
        #expect(c >= bytes && c % 64 == 0)
        if bytes >= StoragePool.minBytes { #expect(Double(c) <= Double(bytes) * 1.0625 + 64) }
    }
}

@Test func poolReusesBuffersWithoutGrowingPastThePeak() {
    let pool = StoragePool(slackBytes: 0)
    let a = pool.acquire(bytes: 1 << 20), b = pool.acquire(bytes: 3 << 20)
    pool.release(a, bytes: 1 << 20)
    #expect(pool.acquire(bytes: 1 << 20) == a)          // same class: the idle buffer comes back
    pool.release(a, bytes: 1 << 20)
    pool.release(b, bytes: 3 << 20)
    #expect(pool.usage.live == 0)
    #expect(pool.usage.idle == StoragePool.classBytes(1 << 20) + StoragePool.classBytes(3 << 20))
    // A new size that does not fit: idle buffers are evicted so live + idle stays within the peak.
    let c = pool.acquire(bytes: 2 << 20)
    let u = pool.usage
    #expect(u.live + u.idle <= StoragePool.classBytes(1 << 20) + StoragePool.classBytes(3 << 20))
    pool.release(c, bytes: 2 << 20)
    pool.trim()
    #expect(pool.usage.idle == 0)
}

@Test func tensorsFromReusedBuffersKeepValueSemantics() {
    var a = Tensor(shape: [100_000], repeating: 1)
    let b = a
    a[flat: 0] = 5
    #expect(b[flat: 0] == 1 && a[flat: 0] == 5)
    let fresh = Tensor(zeros: [100_000])
    #expect(fresh.sum == 0)
}

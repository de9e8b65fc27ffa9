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

// Large buffers are page mappings whose pages move between sizes. A fresh page reads as zero, so a new
// buffer that shows an idle buffer's old contents proves its pages were reused, not faulted in afresh.

private func fill(_ p: UnsafeMutableRawPointer, bytes: Int, from start: Float) {
    let f = p.bindMemory(to: Float.self, capacity: bytes / 4)
    for i in 0..<(bytes / 4) { f[i] = start + Float(i) }
}

private func matches(_ p: UnsafeMutableRawPointer, bytes: Int, from start: Float) -> Bool {
    let f = p.bindMemory(to: Float.self, capacity: bytes / 4)
    return (0..<(bytes / 4)).allSatisfy { f[$0] == start + Float($0) }
}

@Test func aLargerBufferTakesTheIdlePagesOfASmallerOne() {
    let pool = StoragePool(slackBytes: 0)
    let small = 4 << 20, large = 6 << 20
    let a = pool.acquire(bytes: small)
    fill(a, bytes: small, from: 1)
    pool.release(a, bytes: small)
    let b = pool.acquire(bytes: large)
    #expect(matches(b, bytes: small, from: 1))       // a's pages, moved
    let tail = (b + small).bindMemory(to: Float.self, capacity: (large - small) / 4)
    #expect((0..<((large - small) / 4)).allSatisfy { tail[$0] == 0 })   // the rest is fresh
    #expect(pool.usage.live == large && pool.usage.idle == 0)
    pool.release(b, bytes: large)
    pool.trim()
}

@Test func aSmallerBufferSplitsAnIdleOneAndKeepsTheRest() {
    let pool = StoragePool(slackBytes: 0)
    let whole = 8 << 20, head = 3 << 20, rest = whole - head
    let a = pool.acquire(bytes: whole)
    fill(a, bytes: whole, from: 7)
    pool.release(a, bytes: whole)
    let b = pool.acquire(bytes: head)
    #expect(b == a)                                  // the head of a, in place
    #expect(pool.usage.idle == rest)
    let c = pool.acquire(bytes: rest)
    #expect(c == a + head && matches(c, bytes: rest, from: 7 + Float(head / 4)))
    #expect(pool.usage.idle == 0)
    pool.release(b, bytes: head)
    pool.release(c, bytes: rest)
    pool.trim()
}

@Test func anAssembledBufferIsReusedMappingByMapping() {
    // Two idle buffers become one (two mappings); that one is then moved again into a larger buffer,
    // mapping by mapping (kernels before 6.17 cannot move a range that spans two mappings): every
    // page must arrive with its contents.
    let pool = StoragePool(slackBytes: 0)
    let x = 2 << 20, y = 3 << 20
    let p = pool.acquire(bytes: x), q = pool.acquire(bytes: y)
    pool.release(p, bytes: x)
    pool.release(q, bytes: y)
    let joined = pool.acquire(bytes: x + y)
    fill(joined, bytes: x + y, from: 3)
    pool.release(joined, bytes: x + y)
    let bigger = pool.acquire(bytes: 7 << 20)
    #expect(matches(bigger, bytes: x + y, from: 3))
    pool.release(bigger, bytes: 7 << 20)
    pool.trim()
    #expect(pool.usage.idle == 0 && pool.usage.live == 0)
}

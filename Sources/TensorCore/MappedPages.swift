import CSysMem

/// A page-aligned range of anonymous memory made of `extents`: consecutive segments that are each
/// one kernel mapping (a range assembled from moved pages is several mappings, and `mremap` moves
/// only within one).
struct PageRange {
    let base: UnsafeMutableRawPointer
    let bytes: Int
    let extents: [Int]

    init(base: UnsafeMutableRawPointer, extents: [Int]) {
        self.base = base
        self.extents = extents
        bytes = extents.reduce(0, +)
    }

    /// Splits off the first `head` bytes (a page multiple): (head, the rest or nil).
    func split(at head: Int) -> (head: PageRange, tail: PageRange?) {
        if head >= bytes { return (self, nil) }
        var front: [Int] = [], back: [Int] = [], offset = 0
        for e in extents {
            if offset + e <= head { front.append(e) }
            else if offset >= head { back.append(e) }
            else { front.append(head - offset); back.append(offset + e - head) }
            offset += e
        }
        return (PageRange(base: base, extents: front), PageRange(base: base + head, extents: back))
    }
}

/// Large tensor buffers as page mappings of their own, so that the pages of idle buffers can become a
/// buffer of another size by moving them (`mremap`) instead of unmapping them and faulting in (and
/// zeroing) fresh ones: a move rewrites page-table entries only.
enum MappedPages {
    static let pageBytes = 4096

    /// Requests this large (after size-class rounding, always a page multiple) are mapped.
    static let minBytes = 1 << 20

    /// Mappings one assembled buffer may consist of (each costs a `mremap` per reuse and counts
    /// against the process's mapping limit).
    static let maxExtents = 32

    /// Fresh pages, faulted in on first touch.
    static func map(_ bytes: Int) -> PageRange {
        guard let p = graft_map_pages(bytes) else {
            fatalError("StoragePool: cannot map \(bytes >> 20) MiB (out of memory)")
        }
        return PageRange(base: p, extents: [bytes])
    }

    static func unmap(_ range: PageRange) { _ = graft_unmap_pages(range.base, range.bytes) }

    /// A range of `bytes` made of `pieces` (their total at most `bytes`), in order: a lone piece of the
    /// right size is returned as it is; otherwise a fresh range is mapped and every piece's pages are
    /// moved into it, and the part the pieces do not cover is fresh memory.
    static func assemble(_ bytes: Int, from pieces: [PageRange]) -> PageRange {
        if pieces.count == 1, pieces[0].bytes == bytes { return pieces[0] }
        let target = map(bytes)
        var extents: [Int] = [], offset = 0
        for piece in pieces {
            var from = piece.base
            for e in piece.extents {
                // A failed move (e.g. at the mapping-count limit) leaves the target's fresh pages in
                // place: the buffer is valid, only slower to fill.
                if graft_move_pages(from, e, target.base + offset) != 0 {
                    _ = graft_unmap_pages(from, e)
                }
                extents.append(e)
                from += e
                offset += e
            }
        }
        if offset < bytes { extents.append(bytes - offset) }
        return PageRange(base: target.base, extents: extents)
    }
}

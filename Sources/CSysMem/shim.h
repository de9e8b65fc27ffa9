// Anonymous page mappings for StoragePool: map, unmap, and move pages between address ranges.
// mremap is variadic in glibc, which Swift cannot call, hence these inline wrappers.
#include <stddef.h>
#include <sys/mman.h>

void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...);

/// Fresh zero-filled read/write pages (faulted in on first touch); NULL on failure.
static inline void *graft_map_pages(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/// Moves the pages of [from, from+bytes) to [to, to+bytes), replacing what was mapped there: the
/// physical pages (and their contents) change address without being copied or faulted again.
/// Returns 0 on success.
static inline int graft_move_pages(void *from, size_t bytes, void *to) {
    void *r = mremap(from, bytes, bytes, 1 /* MREMAP_MAYMOVE */ | 2 /* MREMAP_FIXED */, to);
    return r == to ? 0 : -1;
}

static inline int graft_unmap_pages(void *p, size_t bytes) { return munmap(p, bytes); }

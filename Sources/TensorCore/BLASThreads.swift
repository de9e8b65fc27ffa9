import CBLAS

/// Single-threaded OpenBLAS for use inside parallel workers (nested threading oversubscribes 2 cores).
public enum BLASThreads {
    public static func set(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    public static var current: Int { Int(openblas_get_num_threads()) }
    /// The kernel family OpenBLAS picked at run time (e.g. "Zen", "Haswell", "SkylakeX").
    public static var coreName: String { openblas_get_corename().map { String(cString: $0) } ?? "?" }
}

import CMPI
import Training

/// The data-parallel group of an `mpirun` job: MPI_COMM_WORLD. Sums are MPI_Allreduce /
/// MPI_Iallreduce in place; started sums are pushed on with MPI_Testall while backward runs (Open
/// MPI has no progress thread by default, so a started collective advances inside MPI calls).
public final class MPIGroup: DataParallelGroup {
    public let rank: Int
    public let size: Int
    /// Started sums not yet waited for: (id, request); a completed request is MPI_REQUEST_NULL.
    private var requests: [(id: Int, request: MPI_Request?)] = []
    private var nextRequest = 0

    /// MPI_Init_thread (funneled: only the training thread calls MPI). Nil outside an MPI launch
    /// with a single process, so plain runs of finetune-mpi behave as finetune.
    public static func start() -> MPIGroup? {
        var provided: Int32 = 0
        var argc: Int32 = 0
        guard MPI_Init_thread(&argc, nil, Int32(MPI_THREAD_FUNNELED), &provided) == MPI_SUCCESS else { return nil }
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(graft_mpi_comm_world(), &r)
        MPI_Comm_size(graft_mpi_comm_world(), &s)
        return MPIGroup(rank: Int(r), size: Int(s))
    }

    private init(rank: Int, size: Int) { self.rank = rank; self.size = size }

    public static func finish() { MPI_Finalize() }

    public func sum(_ values: UnsafeMutablePointer<Float>, count: Int) {
        MPI_Allreduce(graft_mpi_in_place(), values, Int32(count), graft_mpi_float(), graft_mpi_sum(), graft_mpi_comm_world())
    }

    public func startSum(_ values: UnsafeMutablePointer<Float>, count: Int) -> Int {
        var r: MPI_Request? = graft_mpi_request_null()
        MPI_Iallreduce(graft_mpi_in_place(), values, Int32(count), graft_mpi_float(), graft_mpi_sum(), graft_mpi_comm_world(), &r)
        nextRequest += 1
        requests.append((nextRequest, r))
        return nextRequest
    }

    public func progress() {
        guard !requests.isEmpty else { return }
        var pending = requests.map(\.request)
        var done: Int32 = 0
        MPI_Testall(Int32(pending.count), &pending, &done, graft_mpi_statuses_ignore())
        for k in requests.indices { requests[k].request = pending[k] }   // completed ones are now MPI_REQUEST_NULL
    }

    public func wait(_ request: Int) {
        guard let k = requests.firstIndex(where: { $0.id == request }) else { return }
        var r = requests.remove(at: k).request
        MPI_Wait(&r, graft_mpi_status_ignore())
    }

    public func sum(_ values: [Double]) -> [Double] {
        var v = values
        MPI_Allreduce(graft_mpi_in_place(), &v, Int32(v.count), graft_mpi_double(), graft_mpi_sum(), graft_mpi_comm_world())
        return v
    }

    public func allGather(_ value: UInt64) -> [UInt64] {
        var mine = value
        var all = [UInt64](repeating: 0, count: size)
        MPI_Allgather(&mine, 1, graft_mpi_uint64(), &all, 1, graft_mpi_uint64(), graft_mpi_comm_world())
        return all
    }

    public func abort(code: Int32) { MPI_Abort(graft_mpi_comm_world(), code) }
}

// Open MPI for finetune-mpi (Debian libopenmpi-dev). MPI's handles are macros over Open MPI's
// globals, which Swift cannot import: these inline functions return them.
#include <mpi.h>

static inline MPI_Comm graft_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype graft_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype graft_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype graft_mpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Op graft_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Request graft_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline void *graft_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Status *graft_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Status *graft_mpi_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }

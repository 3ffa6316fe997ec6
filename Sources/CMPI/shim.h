// Open MPI's C API for Swift. Open MPI defines its predefined handles as macros that take the
// address of a library global (MPI_COMM_WORLD is ((MPI_Comm) &ompi_mpi_comm_world)), which
// Swift cannot import; these inline functions return them.
#ifndef FMCTL_CMPI_SHIM_H
#define FMCTL_CMPI_SHIM_H

#include <mpi.h>

static inline MPI_Comm fm_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm fm_mpi_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Datatype fm_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype fm_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype fm_mpi_char(void) { return MPI_CHAR; }
static inline MPI_Datatype fm_mpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Datatype fm_mpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Op fm_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op fm_mpi_min(void) { return MPI_MIN; }
static inline MPI_Op fm_mpi_max(void) { return MPI_MAX; }
static inline MPI_Info fm_mpi_info_null(void) { return MPI_INFO_NULL; }
static inline MPI_Request fm_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Errhandler fm_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline void *fm_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Status *fm_mpi_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }
static inline int fm_mpi_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }
static inline int fm_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int fm_mpi_max_processor_name(void) { return MPI_MAX_PROCESSOR_NAME; }
static inline int fm_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline int fm_mpi_success(void) { return MPI_SUCCESS; }

#endif

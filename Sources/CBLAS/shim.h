// OpenBLAS's CBLAS interface (cblas_sgemm, openblas_set_num_threads, openblas_get_corename)
// and LAPACKE (LAPACKE_sgesdd). Include paths come from pkg-config (openblas), so no path
// here is absolute.
#include <cblas.h>
#include <lapacke.h>

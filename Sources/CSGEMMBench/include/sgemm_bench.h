#ifndef SGEMM_BENCH_H
#define SGEMM_BENCH_H
/// Times `reps` calls of cblas_sgemm on n x n x n matrices straight from C (the baseline
/// the Swift wrapper is compared with) and returns the best call's seconds.
double c_sgemm_best_seconds(int n, int reps);
#endif

#include "tensor_kernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* A persistent pool of worker threads for the training step's parallel kernels. Between two
 * kernels a worker spins for a short while (about 100-200 us) before it sleeps: inside a
 * training step the next kernel comes within tens of microseconds, and waking a sleeping
 * thread (what a Dispatch worker needs) costs 15-35 us each time on this kind of VM. A job
 * allocates nothing.
 *
 * Protocol: the caller holds `busy` (a second caller meanwhile runs its pieces alone), writes
 * the job, then bumps `generation`. Every worker that sees the new generation claims pieces
 * from `next` (if it is among the job's participants) and then checks in on `checked_in`;
 * the caller claims pieces too and returns only when every worker has checked in, so no
 * worker can still be reading a job when the next one is written. */

#define MAX_WORKERS 63
#define SPIN_NANOSECONDS 150000L

static long monotonic_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t grow_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_flag busy = ATOMIC_FLAG_INIT;

static atomic_uint generation;
static atomic_int workers;         /* started */
static atomic_int checked_in;
static atomic_long next;

static void (*job_body)(void *, long);
static void *job_context;
static long job_pieces;
static int job_participants;
static int job_kernel_choice;     /* the caller's fm_kernels_thread_choice() */

/* arg: the worker's index in the low 16 bits, above them the generation it starts from. */
static void *worker_main(void *arg) {
    long packed = (long)arg;
    int index = (int)(packed & 0xffff);
    unsigned seen = (unsigned)(packed >> 16);
    for (;;) {
        unsigned now;
        long spin_start = monotonic_ns();
        int spins = 0;
        while ((now = atomic_load_explicit(&generation, memory_order_acquire)) == seen) {
            CPU_RELAX();
            if (++spins % 64 != 0 || monotonic_ns() - spin_start < SPIN_NANOSECONDS) continue;
            pthread_mutex_lock(&sleep_lock);
            while ((now = atomic_load_explicit(&generation, memory_order_acquire)) == seen)
                pthread_cond_wait(&wake, &sleep_lock);
            pthread_mutex_unlock(&sleep_lock);
            break;
        }
        seen = now;
        if (index < job_participants) {
            fm_kernels_set_thread_choice(job_kernel_choice);
            long i;
            while ((i = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed)) < job_pieces)
                job_body(job_context, i);
        }
        atomic_fetch_add_explicit(&checked_in, 1, memory_order_release);
    }
    return NULL;
}

/* A child of fork() has none of the parent's workers: it starts its own when it needs them. */
static void forget_workers_in_child(void) {
    atomic_store_explicit(&workers, 0, memory_order_relaxed);
    atomic_flag_clear_explicit(&busy, memory_order_relaxed);
    pthread_mutex_init(&sleep_lock, NULL);
    pthread_cond_init(&wake, NULL);
    pthread_mutex_init(&grow_lock, NULL);
}

/* Starts workers until there are `count` (at most MAX_WORKERS); returns how many there are. */
static int ensure_workers(int count) {
    static int fork_handler_installed = 0;
    if (count > MAX_WORKERS) count = MAX_WORKERS;
    int have = atomic_load_explicit(&workers, memory_order_acquire);
    if (have >= count) return have;
    pthread_mutex_lock(&grow_lock);
    if (!fork_handler_installed) fork_handler_installed = pthread_atfork(NULL, NULL, forget_workers_in_child) == 0;
    have = atomic_load_explicit(&workers, memory_order_relaxed);
    while (have < count) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        /* Only a caller holding `busy` gets here, so the generation cannot move meanwhile. */
        long start = (long)atomic_load_explicit(&generation, memory_order_acquire) << 16 | have;
        int failed = pthread_create(&thread, &attr, worker_main, (void *)start);
        pthread_attr_destroy(&attr);
        if (failed) break;
        have++;
        atomic_store_explicit(&workers, have, memory_order_release);
    }
    pthread_mutex_unlock(&grow_lock);
    return have;
}

void fm_parallel_run(long pieces, int threads, void (*body)(void *, long), void *context) {
    if (pieces <= 0) return;
    if (threads <= 1 || pieces == 1 || atomic_flag_test_and_set_explicit(&busy, memory_order_acquire)) {
        for (long i = 0; i < pieces; i++) body(context, i);
        return;
    }
    int participants = ensure_workers(threads - 1);
    if (participants > threads - 1) participants = threads - 1;
    /* Every started worker sees the new generation and must check in, participant or not
     * (a job with fewer threads than an earlier one still waits for all of them). */
    int total = atomic_load_explicit(&workers, memory_order_acquire);
    job_body = body;
    job_context = context;
    job_pieces = pieces;
    job_participants = participants;
    job_kernel_choice = fm_kernels_thread_choice();
    atomic_store_explicit(&next, 0, memory_order_relaxed);
    atomic_store_explicit(&checked_in, 0, memory_order_relaxed);
    pthread_mutex_lock(&sleep_lock);
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&sleep_lock);
    long i;
    while ((i = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed)) < pieces) body(context, i);
    while (atomic_load_explicit(&checked_in, memory_order_acquire) < total) CPU_RELAX();
    atomic_flag_clear_explicit(&busy, memory_order_release);
}

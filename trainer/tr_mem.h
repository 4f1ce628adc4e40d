/*
** tr_mem.h: the memory a run needs, estimated from its config before anything
** is allocated, and the memory this process may still take.
**
** Contract:
** - tr_mem_estimate sums, in bytes: parameters and gradients (4 bytes each;
**   gradients twice with >= 2 micro-batches per step: the noise-scale
**   snapshot), optimizer state (tr_optim_state_floats), activations at the
**   micro-batch size (tr_model_memory, plus the run's batch and evaluation
**   buffers), the corpus (tr_data_memory), the sampler with its KV cache when
**   sampling, and TR_MEM_OVERHEAD fixed (program, libraries, OpenBLAS
**   buffers, allocator slack). The vocabulary is taken as 256 (byte; for char
**   an upper bound for most text, whose real size is known only after
**   reading). Measured peak RSS stays within 0.7x-1.5x of it (tests).
** - tr_mem_available: the smallest of what applies: the cgroup v2 limit
**   (memory.max - memory.current, this cgroup and its ancestors), the cgroup
**   v1 limit (memory.limit_in_bytes - memory.usage_in_bytes), RLIMIT_AS minus
**   the address space in use and minus tr_mem_blas_reserve(threads), and
**   MemAvailable of /proc/meminfo. The
**   environment variable HPSWEEP_MEMORY_AVAILABLE (bytes, suffix K/M/G/T for
**   KiB..TiB) replaces them all: to pin a budget, and for tests.
**   HPS_TEST_PROC_CGROUP and HPS_TEST_SYS_CGROUP (tests only) stand in for
**   /proc/self/cgroup and /sys/fs/cgroup.
** - RLIMIT_AS (`ulimit -v`) counts address space mapped, not memory used.
**   The estimate is of memory used; beyond it a run maps, and only under
**   RLIMIT_AS is charged for: a buffer of TR_MEM_BLAS_BUFFER for each thread
**   that runs OpenBLAS (mapped whole when the thread starts or makes its first
**   level-3 call, mostly untouched: the estimate's fixed part covers what is
**   touched) and a stack for each OpenBLAS worker thread (glibc's default
**   thread stack, RLIMIT_STACK: 8 MiB usually). tr_mem_blas_reserve(threads)
**   is their sum for `threads` OpenBLAS threads (the caller's included), and
**   RLIMIT_AS's figure is net of it (of 1 thread when threads < 1). It is
**   reserved whether or not the threads already hold their buffers (they do
**   not in the hpsweep binary, which under a finite RLIMIT_AS starts with
**   OpenBLAS at 1 thread: cli/main.c), so in-process callers whose threads
**   already run are refused early, never late. OpenBLAS retries a buffer it
**   cannot map forever (a thread spinning, and exit() hanging on it): a run
**   sets its threads only through tr_mem_threads_set, after its check has passed.
**   Measured (Debian 12's OpenBLAS 0.3.21, tests/test_tr_mem.c): a run whose
**   estimate fits in this figure completes; peak address space stays below
**   what is mapped at the check + the estimate + the reserve.
** - tr_mem_check refuses (TR_ENOMEM) an estimate above the available memory
**   with one line of figures: "model needs 5.1 GiB (params 0.4, gradients
**   0.4, optimizer 0.8, activations 3.9, data 0.0, fixed 0.1), 1.9 GiB
**   available (cgroup limit)".
*/
#ifndef TR_MEM_H
#define TR_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "tr_config.h"
#include "tr_err.h"

#define TR_MEM_OVERHEAD ((uint64_t)16 << 20)
/* OpenBLAS's per-thread buffer: BUFFER_SIZE (32 << 22 on x86_64 and arm64) and its page. */
#define TR_MEM_BLAS_BUFFER (((uint64_t)128 << 20) + 4096)

typedef struct TrMemEstimate {
  uint64_t params, grads, optim, acts, data, sample, overhead;
  uint64_t total;
} TrMemEstimate;

/* Estimate the memory of training (sampling = 0) or of sampling from (1) the
** model of cfg. Fails only when the data cannot be sized (tr_data_memory). */
int tr_mem_estimate(const TrConfig *cfg, int sampling, TrMemEstimate *e, TrErr *err);

typedef struct TrMemAvail {
  uint64_t bytes;     /* UINT64_MAX when nothing is known */
  char source[48];    /* "cgroup limit", "RLIMIT_AS", "MemAvailable", ... */
} TrMemAvail;

/* The memory available to a run of `threads` OpenBLAS threads (tr_config_threads). */
void tr_mem_available(TrMemAvail *a, int threads);
/* The most this process could have with nothing else running: the same sources
** without their usage (cgroup limits, RLIMIT_AS less the reserve, MemTotal; the
** override wins). A run whose estimate is above it never fits; one only above
** tr_mem_available may fit later. */
void tr_mem_limit(TrMemAvail *a, int threads);
/* Address space OpenBLAS maps for `threads` threads (>= 1): buffers and worker stacks. */
uint64_t tr_mem_blas_reserve(int threads);
/* The one way to set the thread count (OpenBLAS's and the kernels' pool; < 1 means 1): under a
** finite RLIMIT_AS, TR_ENOMEM ("2 threads need 264 MiB of address space (OpenBLAS's buffers and
** stacks), 100 MiB left under RLIMIT_AS (ulimit -v)") and nothing started when
** tr_mem_blas_reserve(threads) exceeds the limit less what is mapped now; else
** openblas_set_num_threads(threads) and TR_OK. Call it after the model is allocated (or its
** estimate checked, as tr_run does), never openblas_set_num_threads directly
** (but to go down to 1 thread before a fork: sw_sched). */
int tr_mem_threads_set(int threads, TrErr *err);

/* "5.1 GiB (params 0.4, gradients 0.4, optimizer 0.8, activations 3.9, data
** 0.0, fixed 0.1)": the total and its parts in the total's unit. */
void tr_mem_describe(const TrMemEstimate *e, char *buf, size_t n);
/* TR_OK if e fits in a, else TR_ENOMEM and the message of the contract. */
int tr_mem_check(const TrMemEstimate *e, const TrMemAvail *a, TrErr *err);
/* bytes as "812 MiB", "5.1 GiB" (binary units, 2-3 significant digits). */
void tr_mem_format(uint64_t bytes, char *buf, size_t n);

#endif

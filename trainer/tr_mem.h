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
**   the address space in use, and MemAvailable of /proc/meminfo. The
**   environment variable HPSWEEP_MEMORY_AVAILABLE (bytes, suffix K/M/G/T for
**   KiB..TiB) replaces them all: to pin a budget, and for tests.
**   HPS_TEST_PROC_CGROUP and HPS_TEST_SYS_CGROUP (tests only) stand in for
**   /proc/self/cgroup and /sys/fs/cgroup.
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

void tr_mem_available(TrMemAvail *a);
/* The most this process could have with nothing else running: the same sources
** without their usage (cgroup limits, RLIMIT_AS, MemTotal; the override wins). A run
** whose estimate is above it never fits; one only above tr_mem_available may fit later. */
void tr_mem_limit(TrMemAvail *a);

/* "5.1 GiB (params 0.4, gradients 0.4, optimizer 0.8, activations 3.9, data
** 0.0, fixed 0.1)": the total and its parts in the total's unit. */
void tr_mem_describe(const TrMemEstimate *e, char *buf, size_t n);
/* TR_OK if e fits in a, else TR_ENOMEM and the message of the contract. */
int tr_mem_check(const TrMemEstimate *e, const TrMemAvail *a, TrErr *err);
/* bytes as "812 MiB", "5.1 GiB" (binary units, 2-3 significant digits). */
void tr_mem_format(uint64_t bytes, char *buf, size_t n);

#endif

/*
** tr_cpu.h: run-time CPU dispatch of the hot kernels. One build runs on any x86-64
** CPU and uses the widest vectors the machine has.
**
** Mechanism (for any kernel file, e.g. tr_ops.c):
** - meson compiles the file once per level (trainer/meson.build: tr_cpu_levels) with
**   -march=x86-64 / x86-64-v3 / x86-64-v4 and -DTR_CPU_SUFFIX=_base / _v3 / _v4. The file
**   renames its public functions with TR_CPU_NAME(f) (f_base, f_v3, f_v4) before
**   including its header, so each level is its own set of symbols, OpenMP-outlined
**   parallel bodies included (they are compiled with the level's -march too).
** - One file compiled once (tr_ops_dispatch.c) defines the public names with
**   TR_CPU_DISPATCH / TR_CPU_DISPATCH_RET: a table of the three versions indexed by
**   tr_cpu_level().
** - Off x86-64 (TR_CPU_MULTI is 0) the kernel file is compiled once with its public
**   names and no dispatcher is built.
**
** Contract:
** - tr_cpu_level() is the level in use: chosen once, at the first call, as the
**   highest level this CPU (and the OS: AVX state enabled) supports, unless the
**   environment variable HPSWEEP_CPU names one (base | x86-64 | v3 | x86-64-v3 |
**   v4 | x86-64-v4): a supported level is then used; an unknown name or a level this
**   CPU lacks is ignored (the best level is used) and tr_cpu_env_note() says why.
** - Results are bit-identical for a given level, machine and thread count. Between
**   levels they MAY differ in the last bits: the build is ISO C (no contraction of
**   a*b+c, -ffp-contract=off is the default) and the kernels' explicit fmaf is exact
**   on every level, but the compiler may still choose different instruction
**   sequences per level, and OpenBLAS picks its own kernels per CPU.
** - tr_cpu_force() switches the level of later calls (tests); never while another
**   thread is calling kernels.
*/
#ifndef TR_CPU_H
#define TR_CPU_H

#if defined(__x86_64__) && !defined(TR_CPU_SINGLE)
#define TR_CPU_MULTI 1
#else
#define TR_CPU_MULTI 0
#endif

typedef enum { TR_CPU_BASE = 0, TR_CPU_V3 = 1, TR_CPU_V4 = 2, TR_CPU_NLEVELS = 3 } TrCpuLevel;

/* The level in use (see the contract). */
TrCpuLevel tr_cpu_level(void);
/* 1 if this CPU and OS can run `level`'s code. */
int tr_cpu_supported(TrCpuLevel level);
/* "x86-64", "x86-64-v3", "x86-64-v4". */
const char *tr_cpu_level_name(TrCpuLevel level);
/* Use `level` from now on: 0, or -1 (unchanged) if the CPU cannot run it. */
int tr_cpu_force(TrCpuLevel level);
/* Why HPSWEEP_CPU was ignored ("unknown level (base, v3, v4): using the best level"), or NULL
** when it was unset or honoured. */
const char *tr_cpu_env_note(void);

#define TR_CPU_CAT2(a, b) a##b
#define TR_CPU_CAT(a, b) TR_CPU_CAT2(a, b)
/* In a file compiled per level: f -> f_base / f_v3 / f_v4. */
#define TR_CPU_NAME(f) TR_CPU_CAT(f, TR_CPU_SUFFIX)

/* Defines `void name params` calling the version of the level in use.
   params: the parenthesised parameter list; args: the parenthesised argument names. */
#define TR_CPU_DISPATCH(name, params, args)                                                       \
  void name##_base params;                                                                        \
  void name##_v3 params;                                                                          \
  void name##_v4 params;                                                                          \
  void name params {                                                                              \
    static void(*const tbl_[TR_CPU_NLEVELS]) params = {name##_base, name##_v3, name##_v4};         \
    tbl_[tr_cpu_level()] args;                                                                    \
  }
/* The same for a function returning `ret`. */
#define TR_CPU_DISPATCH_RET(ret, name, params, args)                                              \
  ret name##_base params;                                                                         \
  ret name##_v3 params;                                                                           \
  ret name##_v4 params;                                                                           \
  ret name params {                                                                               \
    static ret(*const tbl_[TR_CPU_NLEVELS]) params = {name##_base, name##_v3, name##_v4};          \
    return tbl_[tr_cpu_level()] args;                                                             \
  }

#endif

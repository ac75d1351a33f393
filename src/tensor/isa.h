/* Runtime choice of the kernel path (instruction set) for the tensor layer; see isa.c. */
#ifndef SY_TENSOR_ISA_H
#define SY_TENSOR_ISA_H

#include <stdbool.h>

#include "base/status.h"

enum sy_isa {
	SY_ISA_PORTABLE, /* plain C: any x86-64 (SSE2 baseline) or other CPU */
	SY_ISA_AVX2, /* AVX2 + FMA + F16C (Haswell, Zen and later) */
	SY_ISA_AVX512, /* the AVX2 set plus AVX-512 F/BW/VL/VNNI (Ice Lake, Zen 4 and later) */
	SY_ISA_NEON, /* ARM64 NEON (every ARMv8-A CPU) */
	SY_ISA_NEONDOT, /* NEON plus the ARMv8.2 dot-product instructions (Graviton 2+, Apple M1+) */
	SY_ISA_COUNT,
};

/* Chooses the path once (idempotent, thread-safe; a constructor already did it before main):
 * SWITCHYARD_ISA=avx512|avx2|neondot|neon|portable forces one, unset/empty/auto takes the best this CPU runs.
 * Returns SY_ERR_INVALID_ARG with a clear message when SWITCHYARD_ISA names an unknown path
 * or one this CPU lacks (the kernels then run the best path anyway); entry points (engine,
 * CLI) call it to refuse to start. */
enum sy_status sy_isa_init(struct sy_error *err);

/* The path in use and its name ("avx512", "avx2", "neondot", "neon", "portable"). */
enum sy_isa sy_isa_current(void);
const char *sy_isa_name(enum sy_isa isa);

/* Whether this build and this CPU can run isa. */
bool sy_isa_supported(enum sy_isa isa);

/* Test and benchmark hook: switches every kernel to isa (false, and no change, when it is not
 * supported). Not for use while kernels run on other threads. Packed weights stay valid (all
 * paths share the layouts). */
bool sy_isa_set(enum sy_isa isa);

#endif

/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the Vulkan kernel tests (tests/test-op-*.c, test-vk-*.c):
 *
 *   VkEngine *e = vkt_engine();            // once per binary; exit 77 without a device
 *   VkTensor *t = vkt_tensor(e, n, host);  // n floats + VKT_GUARD guard words, uploaded
 *   vkt_check_guard(t, n);                 // the words past n are still the guard pattern
 *   vkt_compare("name", got, want, n, 1e-10); // NMSE bound + NaN/inf agreement
 *
 * Random data come from a fixed-seed generator so a failure reproduces. */

#include <math.h>

#include "tests.h"
#include "vk.h"

#define VKT_GUARD 16
#define VKT_GUARD_BITS 0x7fa5a5a5u /* a NaN no kernel produces */

VkEngine *vkt_engine(void);
VkRecorder *vkt_recorder(void); /* one per binary, 64 MiB of staging */

/* Deterministic xorshift; vkt_seed() resets it. */
void vkt_seed(uint64_t s);
uint32_t vkt_u32(void);
float vkt_uniform(float lo, float hi);
float vkt_normal(void);
void vkt_fill(float *x, size_t n, float lo, float hi);

/* A float tensor of n + VKT_GUARD elements (shape [n + VKT_GUARD]): data (may be
 * NULL) in the first n, the guard pattern after. Freed with vk_tensor_free. */
VkTensor *vkt_tensor(VkEngine *e, size_t n, const float *data);
/* A u32 tensor holding data[0…n-1] (n ≥ 1). */
VkTensor *vkt_tensor_u32(VkEngine *e, size_t n, const uint32_t *data);
/* Downloads the first n floats into a fresh array (caller frees). */
float *vkt_download(const VkTensor *t, size_t n);
void vkt_check_guard_at(const VkTensor *t, size_t n, const char *file, int line);
#define vkt_check_guard(t, n) vkt_check_guard_at((t), (n), __FILE__, __LINE__)

/* Fails unless NaN and ±inf sit at the same places in got and want and the
 * normalised MSE Σ(got-want)² / max(Σwant², n·1e-30) over the finite ones is ≤ bound. */
void vkt_compare_at(const char *what, const float *got, const float *want, size_t n, double bound,
                    const char *file, int line);
#define vkt_compare(what, got, want, n, bound) vkt_compare_at((what), (got), (want), (n), (bound), __FILE__, __LINE__)
double vkt_nmse(const float *got, const float *want, size_t n);

/* Finite differences: for `samples` coordinates i of x (spread over 0…n-1),
 * (f(x + h·e_i) - f(x - h·e_i)) / 2h, computed with f evaluated on the device,
 * must match grad[i]: ‖fd - grad‖ / max(‖fd‖, 1e-6) ≤ tol over the sample. x is
 * restored afterwards. */
typedef double (*VktLossFn)(void *userdata, const float *x);
void vkt_check_gradient_at(const char *what, VktLossFn f, void *userdata, float *x, size_t n, const float *grad,
                           unsigned samples, float h, double tol, const char *file, int line);
#define vkt_check_gradient(what, f, ud, x, n, grad, samples, h, tol)                                       \
        vkt_check_gradient_at((what), (f), (ud), (x), (n), (grad), (samples), (h), (tol), __FILE__, __LINE__)

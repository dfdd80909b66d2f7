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

#include "conv-shape.h"
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
/* Uploads n floats of data into t, or zero-fills all of t when data is NULL. */
void vkt_set(VkTensor *t, const float *data, size_t n);
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
/* Σ a[i]·b[i] in double: a loss Σ y·g whose gradient a backward kernel gives is g. */
double vkt_dot(const float *a, const float *b, size_t n);

/* Finite differences: for `samples` coordinates i of x (spread over 0…n-1),
 * (f(x + h·e_i) - f(x - h·e_i)) / 2h, computed with f evaluated on the device,
 * must match grad[i]: ‖fd - grad‖ / max(‖fd‖, 1e-6) ≤ tol over the sample. x is
 * restored afterwards. */
typedef double (*VktLossFn)(void *userdata, const float *x);
void vkt_check_gradient_at(const char *what, VktLossFn f, void *userdata, float *x, size_t n, const float *grad,
                           unsigned samples, float h, double tol, const char *file, int line);
#define vkt_check_gradient(what, f, ud, x, n, grad, samples, h, tol)                                       \
        vkt_check_gradient_at((what), (f), (ud), (x), (n), (grad), (samples), (h), (tol), __FILE__, __LINE__)

/* ---- layers with weights and bias: conv2d and dwconv ---------------------------- */

/* A layer's C reference (ref_conv2d_* or ref_dwconv_*, tests/ref-conv.h). */
typedef struct VktConvRef {
        void (*fwd)(const ConvShape *s, VkActivation act, const float *x, const float *w, const float *b, float *y);
        void (*bwd_data)(const ConvShape *s, const float *dy, const float *w, float *dx);
        void (*bwd_weight)(const ConvShape *s, const float *x, const float *dy, float *dw, float *db);
} VktConvRef;

/* One case of y = act(conv(x, w) + b) and its backward for the loss Σ y·g. The
 * test records its op on the tensors (forward only where specials), then
 * vkt_conv_case_check() compares all against the reference. */
typedef struct VktConvCase {
        const ConvShape *s;
        VkActivation act;
        bool bias, specials; /* specials: x holds NaN and ±inf */
        uint32_t oh, ow;
        size_t nx, nw, nb, ny;
        float *x, *w, *b, *g;        /* random host data */
        VkTensor *tx, *tw, *tb, *tg; /* the same on the device, guarded */
        VkTensor *y, *dx, *dw, *db;  /* outputs, guarded */
} VktConvCase;

/* nw weights uniform in ±w_range and nb biases, drawn after x from seed. */
void vkt_conv_case_init(VktConvCase *c, const ConvShape *s, VkActivation act, bool bias, bool specials, size_t nw,
                        size_t nb, float w_range, uint64_t seed);
void vkt_conv_case_check_at(VktConvCase *c, const char *name, const VktConvRef *ref, const char *file, int line);
#define vkt_conv_case_check(c, name, ref) vkt_conv_case_check_at((c), (name), (ref), __FILE__, __LINE__)
void vkt_conv_case_done(VktConvCase *c);

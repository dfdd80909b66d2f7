/* SPDX-License-Identifier: MIT */
#pragma once

/* Central finite differences for checking backward kernels.
 *
 * loss() evaluates a scalar from the current contents of param (typically
 * sum(forward(...) * g) for a fixed random g, computed by a C reference in
 * double), so d loss / d param must equal the backward kernel's output grad.
 * fdiff_check() perturbs `samples` indices drawn with seed (every index when
 * samples >= n), restores param, and returns the largest error
 * |fd - grad| / max(|fd|, |grad|, floor) seen. */

#include <stddef.h>
#include <stdint.h>

typedef double (*FdiffLoss)(void *userdata);

double fdiff_check(float *param, size_t n, const float *grad, size_t samples, float eps, double floor,
                   FdiffLoss loss, void *userdata, uint64_t seed);

/* Σ a[i]·b[i] in double: the loss sum(y ⊙ g) most checks use. */
double fdiff_dot(const float *a, const float *b, size_t n);

/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>

#include "fdiff.h"

static uint64_t splitmix(uint64_t *s)
{
        uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

double fdiff_check(float *param, size_t n, const float *grad, size_t samples, float eps, double floor,
                   FdiffLoss loss, void *userdata, uint64_t seed)
{
        double worst = 0.0;

        if (samples > n)
                samples = n;
        for (size_t s = 0; s < samples; s++) {
                size_t i = samples == n ? s : splitmix(&seed) % n;
                float keep = param[i];
                /* The step actually taken in float, not the one asked for. */
                float up = keep + eps, down = keep - eps;
                double lu, ld, fd, err;

                param[i] = up;
                lu = loss(userdata);
                param[i] = down;
                ld = loss(userdata);
                param[i] = keep;
                fd = (lu - ld) / ((double)up - (double)down);
                err = fabs(fd - grad[i]) / fmax(fmax(fabs(fd), fabs(grad[i])), floor);
                if (!(err <= worst)) {
                        worst = err;
                        if (isnan(err))
                                return err;
                }
        }
        return worst;
}

double fdiff_dot(const float *a, const float *b, size_t n)
{
        double acc = 0.0;

        for (size_t i = 0; i < n; i++)
                acc += (double)a[i] * b[i];
        return acc;
}

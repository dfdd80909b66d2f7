/* SPDX-License-Identifier: MIT */
/* fluff-bench-ft-step: training images/s of the fine-tune step on the Vulkan
 * device: the backbone's top 1×1 conv (7×7×320 → 1280, ReLU6), mean and max
 * pooling, the gradients back through them and one AdamW step (ft-tail.c, as
 * finetune.c runs it, activations uploaded and pooled features downloaded
 * every step). Prints one JSON line per round; tests/bench/bench-ft-step.py
 * runs it against PyTorch on the same layers and prints the ratio. Not a ctest
 * test.  Usage: fluff-bench-ft-step [BATCH [SECONDS [ROUNDS]]] */
#include <time.h>

#include "ft-tail.h"
#include "vk.h"

#define HW 49
#define CIN 320
#define COUT 1280

static double now(clockid_t c)
{
        struct timespec t;

        (void)clock_gettime(c, &t);
        return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void fill(float *x, size_t n, uint32_t seed, float scale)
{
        for (size_t i = 0; i < n; i++) {
                seed = seed * 1664525u + 1013904223u;
                x[i] = ((float)(seed >> 8) / (float)(1u << 24) - 0.5f) * scale;
        }
}

int main(int argc, char **argv)
{
        _cleanup_(vk_engine_freep) VkEngine *e = NULL;
        _cleanup_(ft_tail_freep) FtTail *t = NULL;
        unsigned batch = 32, rounds = 3;
        double seconds = 3;
        int r;

        if ((argc > 1 && (safe_atou(argv[1], &batch) < 0 || batch == 0 || batch > 1024)) ||
            (argc > 2 && (safe_atod(argv[2], &seconds) < 0 || seconds <= 0)) ||
            (argc > 3 && safe_atou(argv[3], &rounds) < 0)) {
                fprintf(stderr, "usage: fluff-bench-ft-step [BATCH [SECONDS [ROUNDS]]]\n");
                return 2;
        }
        (void)setenv("LP_NUM_THREADS", "2", 0);
        r = vk_engine_new(&e);
        if (r == -ENODEV) {
                fprintf(stderr, "No usable Vulkan device.\n");
                return 77;
        }
        if (r < 0 || (r = ft_tail_new(e, HW, CIN, COUT, batch, &t)) < 0) {
                fprintf(stderr, "set-up failed: %s\n", strerror(-r));
                return 1;
        }
        _cleanup_free_ float *w = malloc((size_t)CIN * COUT * sizeof(float));
        _cleanup_free_ float *b = malloc(COUT * sizeof(float));
        _cleanup_free_ float *act = malloc((size_t)batch * HW * CIN * sizeof(float));
        _cleanup_free_ float *mean = malloc((size_t)batch * COUT * sizeof(float));
        _cleanup_free_ float *max = malloc((size_t)batch * COUT * sizeof(float));
        _cleanup_free_ float *dmean = malloc((size_t)batch * COUT * sizeof(float));
        _cleanup_free_ float *dmax = malloc((size_t)batch * COUT * sizeof(float));
        if (!w || !b || !act || !mean || !max || !dmean || !dmax)
                return 1;
        fill(w, (size_t)CIN * COUT, 1, 0.1f);
        fill(b, COUT, 2, 0.1f);
        fill(act, (size_t)batch * HW * CIN, 3, 4.0f);
        fill(dmean, (size_t)batch * COUT, 4, 0.01f);
        fill(dmax, (size_t)batch * COUT, 5, 0.01f);
        if ((r = ft_tail_upload(t, w, b)) < 0)
                return 1;

        OpAdamWParams p = OP_ADAMW_DEFAULTS;
        for (unsigned k = 0; k <= rounds; k++) { /* round 0 warms up (pipelines) */
                unsigned steps = 0;
                double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID), el;
                do {
                        if ((r = ft_tail_forward(t, act, batch, mean, max)) < 0 ||
                            (r = ft_tail_backward(t, dmean, dmax, batch, &p, NULL, NULL)) < 0) {
                                fprintf(stderr, "step failed: %s\n", strerror(-r));
                                return 1;
                        }
                        p.step++;
                        steps++;
                        el = now(CLOCK_MONOTONIC) - t0;
                } while (el < (k ? seconds : 0.5));
                if (k == 0)
                        continue;
                printf("{\"engine\":\"fluff\",\"device\":\"%s\",\"batch\":%u,\"steps\":%u,\"images_per_s\":%"
                       ".2f,"
                       "\"images_per_cpu_s\":%.2f}\n",
                       vk_engine_device_name(e), batch, steps, steps * batch / el,
                       steps * batch / (now(CLOCK_PROCESS_CPUTIME_ID) - c0));
                fflush(stdout);
        }
        return 0;
}

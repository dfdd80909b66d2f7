/* SPDX-License-Identifier: MIT */
#include <time.h>

#include "bench.h"

static BenchCase *cases, **cases_tail = &cases;

void bench_register(BenchCase *c)
{
        *cases_tail = c;
        cases_tail = &c->next;
}

static double clock_s(clockid_t id)
{
        struct timespec ts;
        clock_gettime(id, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_time_cpu(int (*f)(void *data), void *data, double min_seconds, double *ret_cpu)
{
        double best = 1e30, best_cpu = 1e30, start;
        unsigned n = 0;

        if (f(data) < 0)
                return -1;
        start = clock_s(CLOCK_MONOTONIC);
        while (n < 2 || clock_s(CLOCK_MONOTONIC) - start < min_seconds) {
                double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
                if (f(data) < 0)
                        return -1;
                best = MIN(best, clock_s(CLOCK_MONOTONIC) - t0);
                best_cpu = MIN(best_cpu, clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0);
                n++;
        }
        if (ret_cpu)
                *ret_cpu = best_cpu;
        return best;
}

double bench_time(int (*f)(void *data), void *data, double min_seconds)
{
        return bench_time_cpu(f, data, min_seconds, NULL);
}

void bench_printf(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

int main(int argc, char *argv[])
{
        BenchContext ctx = {};
        unsigned ran = 0;
        int r, first = 1;

        log_set_prefix("fluff-bench");
        log_parse_environment();
        if (argc > 1 && streq(argv[1], "--quick")) {
                ctx.quick = true;
                first = 2;
        }
        /* lavapipe reads LP_NUM_THREADS when the device is created; one thread per core
         * is its best, and the reference gets the same number. */
        (void)setenv("LP_NUM_THREADS", "2", 0);
        if (safe_atou(getenv("LP_NUM_THREADS"), &ctx.threads) < 0 || ctx.threads == 0)
                ctx.threads = 2;

        r = vk_engine_new(&ctx.engine);
        if (r == -ENODEV) {
                log_error("No usable Vulkan device. %s.", VK_NO_DEVICE_HINT);
                return 77;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to set up Vulkan: %m");
                return 1;
        }
        r = vk_recorder_new(ctx.engine, 256u << 20, &ctx.recorder);
        if (r < 0) {
                log_error_errno(r, "Failed to create a recorder: %m");
                return 1;
        }
        fprintf(stderr, "fluff-bench: %s (%s), LP_NUM_THREADS=%u\n", vk_engine_device_name(ctx.engine),
                vk_device_kind_to_string(vk_engine_device_kind(ctx.engine)), ctx.threads);

        for (BenchCase *c = cases; c; c = c->next) {
                bool want = argc <= first;
                for (int i = first; i < argc; i++)
                        want = want || streq(argv[i], c->name);
                if (!want)
                        continue;
                c->run(&ctx);
                ran++;
        }
        vk_recorder_free(ctx.recorder);
        vk_engine_free(ctx.engine);
        if (ran == 0) {
                log_error("No benchmark case matched.");
                return 1;
        }
        return 0;
}

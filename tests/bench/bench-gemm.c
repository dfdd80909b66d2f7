/* SPDX-License-Identifier: MIT */
/* GEMM GFLOPS of the Vulkan shader against OpenBLAS cblas_sgemm with the same
 * thread count, square N, measured in the same run. Env FLUFF_GEMM_TILES=
 * "lanes,rows,cols" tries other tiles. cpu_ratio compares process CPU time
 * (all threads), steadier than wall time on a shared machine. */
#include <cblas.h>
#include <math.h>

#include "bench.h"
#include "op-gemm.h"

void openblas_set_num_threads(int n);

typedef struct GemmRun {
        BenchContext *ctx;
        OpGemm *op;
        VkTensor *a, *b, *c;
        const float *ha, *hb;
        float *hc;
        uint32_t n;
} GemmRun;

static int run_vk(void *data)
{
        GemmRun *g = data;
        int r;

        r = vk_recorder_begin(g->ctx->recorder);
        if (r < 0)
                return r;
        r = op_gemm_record(g->op, g->ctx->recorder, g->a, g->b, NULL, g->c,
                           &(OpGemmParams){ .m = g->n, .n = g->n, .k = g->n });
        if (r < 0)
                return r;
        return vk_recorder_submit_and_wait(g->ctx->recorder);
}

static int run_blas(void *data)
{
        GemmRun *g = data;
        int n = (int)g->n;

        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, g->ha, n, g->hb, n, 0.0f, g->hc, n);
        return 0;
}

BENCH_CASE(gemm)
{
        static const uint32_t sizes[] = { 256, 512, 1024, 2048 };
        _cleanup_(op_gemm_freep) OpGemm *op = NULL;
        OpGemmTiles tiles = {};
        const char *env = getenv("FLUFF_GEMM_TILES");
        int r;

        if (env && sscanf(env, "%u,%u,%u", &tiles.lanes, &tiles.rows, &tiles.cols) != 3)
                tiles = (OpGemmTiles){};
        r = op_gemm_new_tiled(ctx->engine, &tiles, &op);
        if (r < 0) {
                log_error_errno(r, "Failed to build the GEMM kernel: %m");
                return;
        }
        op_gemm_get_tiles(op, &tiles);
        openblas_set_num_threads((int)ctx->threads);

        for (size_t s = 0; s < ELEMENTSOF(sizes); s++) {
                uint32_t n = sizes[s];
                size_t nn = (size_t)n * n;
                float *ha = malloc(nn * 4), *hb = malloc(nn * 4), *hc = malloc(nn * 4), *got = malloc(nn * 4);
                VkTensor *a = NULL, *b = NULL, *c = NULL;

                if (!ha || !hb || !hc || !got)
                        goto next;
                for (size_t i = 0; i < nn; i++) {
                        ha[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
                        hb[i] = (float)((i * 104729) % 997) / 498.5f - 1.0f;
                }
                if (vk_tensor_new(ctx->engine, VK_DTYPE_F32, 2, (uint32_t[]){ n, n }, &a) < 0 ||
                    vk_tensor_new(ctx->engine, VK_DTYPE_F32, 2, (uint32_t[]){ n, n }, &b) < 0 ||
                    vk_tensor_new(ctx->engine, VK_DTYPE_F32, 2, (uint32_t[]){ n, n }, &c) < 0 ||
                    vk_tensor_upload(a, ha, nn * 4) < 0 || vk_tensor_upload(b, hb, nn * 4) < 0)
                        goto next;

                GemmRun g = { ctx, op, a, b, c, ha, hb, hc, n };
                double secs = ctx->quick ? 0.2 : 1.0;
                /* Alternate the two in rounds and keep each one's best: load from other
                 * processes then hits both alike. */
                double t_vk = 1e30, t_blas = 1e30, c_vk = 1e30, c_blas = 1e30;
                for (int round = 0; round < 3; round++) {
                        double cpu, t = bench_time_cpu(run_vk, &g, secs / 3, &cpu);
                        if (t < 0)
                                break;
                        t_vk = MIN(t_vk, t);
                        c_vk = MIN(c_vk, cpu);
                        t = bench_time_cpu(run_blas, &g, secs / 3, &cpu);
                        t_blas = MIN(t_blas, t);
                        c_blas = MIN(c_blas, cpu);
                }
                if (t_vk >= 1e30)
                        t_vk = -1;
                if (t_vk < 0 || vk_tensor_download(c, got, nn * 4) < 0) {
                        log_error("GEMM N=%u failed on the device.", n);
                        goto next;
                }
                double err = 0, ref = 0;
                for (size_t i = 0; i < nn; i++) {
                        err += ((double)got[i] - hc[i]) * ((double)got[i] - hc[i]);
                        ref += (double)hc[i] * hc[i];
                }
                double flop = 2.0 * n * n * n;
                bench_printf("{\"case\":\"gemm\",\"n\":%u,\"gflops\":%.2f,\"ref\":\"openblas\",\"ref_gflops\":%.2f,"
                             "\"ratio\":%.3f,\"cpu_ratio\":%.3f,\"threads\":%u,\"tiles\":\"%ux%ux%u\",\"nmse\":%.2g,"
                             "\"device\":\"%s\"}",
                             n, flop / t_vk * 1e-9, flop / t_blas * 1e-9, t_blas / t_vk, c_blas / c_vk, ctx->threads,
                             tiles.lanes,
                             tiles.rows, tiles.cols, err / MAX(ref, 1e-30), vk_engine_device_name(ctx->engine));
        next:
                vk_tensor_free(a);
                vk_tensor_free(b);
                vk_tensor_free(c);
                free(ha);
                free(hb);
                free(hc);
                free(got);
                if (ctx->quick && n >= 1024)
                        break;
        }
}

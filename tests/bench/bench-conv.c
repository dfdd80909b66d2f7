/* SPDX-License-Identifier: MIT */
/* Convolution and depthwise convolution at MobileNetV2 layer shapes (batch 32,
 * 224 input, TF "same" padding), forward as the backbone runs them, and two
 * backward cases at the shapes fine-tuning the last blocks sees. The
 * reference is PyTorch CPU, which only Python can run: tests/bench/bench-conv.py
 * runs torch and these cases in one go and prints the ratio. Alone, a case
 * prints its own figures with "ratio": null. FLUFF_CONV_BATCH overrides 32;
 * FLUFF_CONV_TILES="lanes,pixels,channels" and FLUFF_DW_TILES="lanes,rows,cols"
 * try other tiles. */
#include "bench.h"
#include "op-conv2d.h"
#include "op-dwconv.h"

typedef struct ConvCase {
        const char *name;
        uint32_t c, k, size, kernel, stride;
        bool depthwise;
        VkActivation act;
        bool backward; /* time both gradients (data and weights + bias) instead of the forward */
} ConvCase;

typedef struct ConvRun {
        BenchContext *ctx;
        const ConvCase *cc;
        ConvShape s;
        OpConv2d *conv;
        OpDwconv *dw;
        VkTensor *x, *w, *b, *y, *dx, *gw, *db;
        unsigned reps;
} ConvRun;

static int run_vk(void *data)
{
        ConvRun *c = data;
        int r;

        r = vk_recorder_begin(c->ctx->recorder);
        if (r < 0)
                return r;
        /* Several dispatches per submit, as in a real forward pass, so the
         * submit's fixed cost does not dominate the small layers. */
        for (unsigned i = 0; i < c->reps; i++) {
                VkRecorder *rec = c->ctx->recorder;
                if (c->cc->backward && c->cc->depthwise) {
                        r = op_dwconv_record_bwd_data(c->dw, rec, &c->s, c->y, c->w, c->dx);
                        if (r >= 0)
                                r = op_dwconv_record_bwd_weight(c->dw, rec, &c->s, c->x, c->y, c->gw, c->db);
                } else if (c->cc->backward) {
                        r = op_conv2d_record_bwd_data(c->conv, rec, &c->s, c->y, c->w, c->dx);
                        if (r >= 0)
                                r = op_conv2d_record_bwd_weight(c->conv, rec, &c->s, c->x, c->y, c->gw,
                                                                c->db);
                } else if (c->cc->depthwise)
                        r = op_dwconv_record(c->dw, rec, &c->s, c->cc->act, c->x, c->w, c->b, c->y);
                else
                        r = op_conv2d_record(c->conv, rec, &c->s, c->cc->act, c->x, c->w, c->b, c->y);
                if (r < 0)
                        return r;
        }
        return vk_recorder_submit_and_wait(c->ctx->recorder);
}

static int new_random(VkEngine *e, size_t n, VkTensor **ret)
{
        _cleanup_free_ float *h = malloc(n * sizeof(float));
        uint32_t s = 12345;
        int r;

        if (!h)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                s = s * 1664525u + 1013904223u;
                h[i] = (float)(s >> 8) / (float)(1u << 24) - 0.5f;
        }
        r = vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){(uint32_t)n}, ret);
        if (r < 0)
                return r;
        return vk_tensor_upload(*ret, h, n * sizeof(float));
}

static void run_case(BenchContext *ctx, const ConvCase *cc)
{
        ConvRun c = {.ctx = ctx, .cc = cc, .reps = 1};
        unsigned batch = 32;
        uint32_t oh, ow, pt, pb, pl, pr;
        const char *env = getenv("FLUFF_CONV_BATCH");
        double t, cpu, flops;
        int r;

        if (env && safe_atou(env, &batch) < 0)
                batch = 32;
        conv_pad_same(cc->size, cc->kernel, cc->stride, &pt, &pb);
        conv_pad_same(cc->size, cc->kernel, cc->stride, &pl, &pr);
        c.s = (ConvShape){batch,      cc->size,   cc->size, cc->c, cc->k, cc->kernel, cc->kernel,
                          cc->stride, cc->stride, pt,       pl,    pb,    pr};
        r = conv_shape_out(&c.s, &oh, &ow);
        if (r < 0)
                goto fail;
        flops = 2.0 * batch * oh * ow * cc->k * cc->kernel * cc->kernel * (cc->depthwise ? 1 : cc->c);
        if (cc->backward)
                flops *= 2; /* the data and the weight gradient each cost a forward */
        if (cc->depthwise) {
                OpDwconvTiles tiles = {};
                env = getenv("FLUFF_DW_TILES");
                if (env && sscanf(env, "%u,%u,%u", &tiles.lanes, &tiles.rows, &tiles.cols) != 3)
                        tiles = (OpDwconvTiles){};
                r = op_dwconv_new_tiled(ctx->engine, &tiles, &c.dw);
        } else {
                OpConv2dTiles tiles = {};
                env = getenv("FLUFF_CONV_TILES");
                if (env && sscanf(env, "%u,%u,%u", &tiles.lanes, &tiles.pixels, &tiles.channels) != 3)
                        tiles = (OpConv2dTiles){};
                r = op_conv2d_new_tiled(ctx->engine, &tiles, &c.conv);
        }
        if (r < 0)
                goto fail;
        size_t nx = (size_t)batch * cc->size * cc->size * cc->c;
        size_t nw = (size_t)cc->kernel * cc->kernel * (cc->depthwise ? 1 : cc->c) * cc->k;
        r = new_random(ctx->engine, nx, &c.x);
        if (r >= 0)
                r = new_random(ctx->engine, nw, &c.w);
        if (r >= 0)
                r = new_random(ctx->engine, cc->k, &c.b);
        /* y doubles as the incoming gradient of the backward cases. */
        if (r >= 0)
                r = new_random(ctx->engine, (size_t)batch * oh * ow * cc->k, &c.y);
        if (r >= 0 && cc->backward)
                r = vk_tensor_new(ctx->engine, VK_DTYPE_F32, 1, (uint32_t[]){(uint32_t)nx}, &c.dx);
        if (r >= 0 && cc->backward)
                r = vk_tensor_new(ctx->engine, VK_DTYPE_F32, 1, (uint32_t[]){(uint32_t)nw}, &c.gw);
        if (r >= 0 && cc->backward)
                r = vk_tensor_new(ctx->engine, VK_DTYPE_F32, 1, (uint32_t[]){cc->k}, &c.db);
        if (r < 0)
                goto fail;
        /* ~50 ms of work per submit. */
        t = bench_time(run_vk, &c, 0.05);
        if (t < 0) {
                r = (int)t;
                goto fail;
        }
        c.reps = (unsigned)CLAMP(0.05 / t, 1.0, 64.0);
        t = bench_time_cpu(run_vk, &c, ctx->quick ? 0.3 : 1.0, &cpu);
        if (t < 0) {
                r = (int)t;
                goto fail;
        }
        t /= c.reps;
        cpu /= c.reps;
        /* CPU time (all threads) moves far less than wall time on a shared machine. */
        bench_printf("{\"case\":\"conv/%s\",\"batch\":%u,\"lp_num_threads\":%u,\"ms\":%.3f,\"cpu_ms\":%.3f,"
                     "\"gflops\":%.2f,\"reference\":\"tests/bench/bench-conv.py\",\"ratio\":null}",
                     cc->name, batch, ctx->threads, t * 1e3, cpu * 1e3, flops / t * 1e-9);
        goto done;
fail:
        log_error_errno(r, "conv/%s failed: %m", cc->name);
done:
        vk_tensor_free(c.x);
        vk_tensor_free(c.w);
        vk_tensor_free(c.b);
        vk_tensor_free(c.y);
        vk_tensor_free(c.dx);
        vk_tensor_free(c.gw);
        vk_tensor_free(c.db);
        op_conv2d_free(c.conv);
        op_dwconv_free(c.dw);
}

/* The shapes bench-conv.py knows by the same names. */
#define CONV_CASE(id, ...)                                                                                  \
        BENCH_CASE(id)                                                                                      \
        {                                                                                                   \
                static const ConvCase cc = {__VA_ARGS__};                                                   \
                run_case(ctx, &cc);                                                                         \
        }

CONV_CASE(conv_stem, "conv3x3s2-3-32-224", 3, 32, 224, 3, 2, false, VK_ACTIVATION_RELU6)
CONV_CASE(conv_pw_expand, "pw-24-144-56", 24, 144, 56, 1, 1, false, VK_ACTIVATION_RELU6)
CONV_CASE(conv_dw_s1, "dw3x3s1-144-56", 144, 144, 56, 3, 1, true, VK_ACTIVATION_RELU6)
CONV_CASE(conv_dw_s2, "dw3x3s2-144-56", 144, 144, 56, 3, 2, true, VK_ACTIVATION_RELU6)
CONV_CASE(conv_pw_project, "pw-576-96-14", 576, 96, 14, 1, 1, false, VK_ACTIVATION_NONE)
CONV_CASE(conv_dw_960, "dw3x3s1-960-7", 960, 960, 7, 3, 1, true, VK_ACTIVATION_RELU6)
/* Backward at the shapes fine-tuning the last blocks sees. */
CONV_CASE(conv_dw_960_bwd, "bwd-dw3x3s1-960-7", 960, 960, 7, 3, 1, true, VK_ACTIVATION_NONE, true)
CONV_CASE(conv_pw_project_bwd, "bwd-pw-576-96-14", 576, 96, 14, 1, 1, false, VK_ACTIVATION_NONE, true)

/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <string.h>

#include "fluff/util.h"

#include "ref-conv.h"

float ref_act(VkActivation act, float v)
{
        /* Comparisons, not fminf/fmaxf, so a NaN passes through as the shaders let it. */
        if (act == VK_ACTIVATION_RELU || act == VK_ACTIVATION_RELU6)
                v = v < 0.0f ? 0.0f : v;
        if (act == VK_ACTIVATION_RELU6)
                v = v > 6.0f ? 6.0f : v;
        return v;
}

void ref_act_bwd(VkActivation act, size_t n, const float *y, const float *dy, float *dx)
{
        for (size_t i = 0; i < n; i++) {
                bool pass = act == VK_ACTIVATION_NONE || (act == VK_ACTIVATION_RELU && y[i] > 0.0f) ||
                            (act == VK_ACTIVATION_RELU6 && y[i] > 0.0f && y[i] < 6.0f);
                dx[i] = pass ? dy[i] : 0.0f;
        }
}

/* Input row/column seen by output o through kernel tap t, or -1 in the padding. */
static long in_coord(uint32_t o, uint32_t t, uint32_t stride, uint32_t pad, uint32_t size)
{
        long i = (long)o * stride + t - pad;
        return i >= 0 && i < (long)size ? i : -1;
}

/* Every (output pixel, kernel tap) of a convolution whose tap reads an input
 * pixel rather than padding, in the order batch, row, column, tap row, tap
 * column: the loop nest all six references share. Pixels and taps are
 * numbered as the NHWC / HWIO layouts store them. */
typedef struct Taps {
        const ConvShape *s;
        uint32_t oh, ow;
        uint32_t n, i, j, u, v;
        bool started;
        size_t in, out, tap; /* input pixel, output pixel, u·kw + v */
} Taps;

static Taps taps(const ConvShape *s, uint32_t oh, uint32_t ow)
{
        return (Taps){ .s = s, .oh = oh, .ow = ow };
}

/* Moves to the next position, padding or not; false past the last. */
static bool taps_step(Taps *t)
{
        if (++t->v < t->s->kw)
                return true;
        t->v = 0;
        if (++t->u < t->s->kh)
                return true;
        t->u = 0;
        if (++t->j < t->ow)
                return true;
        t->j = 0;
        if (++t->i < t->oh)
                return true;
        t->i = 0;
        return ++t->n < t->s->n;
}

static bool taps_next(Taps *t)
{
        const ConvShape *s = t->s;

        for (;;) {
                if (t->started && !taps_step(t))
                        return false;
                t->started = true;
                long ih = in_coord(t->i, t->u, s->stride_h, s->pad_top, s->h);
                long iw = in_coord(t->j, t->v, s->stride_w, s->pad_left, s->w);
                if (ih < 0 || iw < 0)
                        continue;
                t->in = ((size_t)t->n * s->h + ih) * s->w + iw;
                t->out = ((size_t)t->n * t->oh + t->i) * t->ow + t->j;
                t->tap = (size_t)t->u * s->kw + t->v;
                return true;
        }
}

/* Accumulators in double, zeroed; the references abort when out of memory. */
static double *acc_new(size_t n)
{
        double *acc = calloc(MAX(n, (size_t)1), sizeof(double));

        if (!acc)
                abort();
        return acc;
}

/* Rounds n accumulators to float into dst (when not NULL) and frees them. */
static void acc_store(double *acc, float *dst, size_t n)
{
        for (size_t i = 0; dst && i < n; i++)
                dst[i] = (float)acc[i];
        free(acc);
}

/* Starts each output's accumulator at its bias (k channels), or at 0. */
static double *acc_bias(size_t pixels, uint32_t k, const float *b)
{
        double *acc = acc_new(pixels * k);

        for (size_t i = 0; b && i < pixels * k; i++)
                acc[i] = b[i % k];
        return acc;
}

static void act_store(VkActivation act, double *acc, float *y, size_t n)
{
        for (size_t i = 0; i < n; i++)
                y[i] = ref_act(act, (float)acc[i]);
        free(acc);
}

/* Σ dy over the output pixels, per channel, in the order the pixels are stored. */
static void bias_grad(const float *dy, size_t pixels, uint32_t k, float *db)
{
        double *acc = acc_new(k);

        for (size_t p = 0; p < pixels; p++)
                for (uint32_t c = 0; c < k; c++)
                        acc[c] += dy[p * k + c];
        acc_store(acc, db, k);
}

void ref_conv2d_fwd(const ConvShape *s, VkActivation act, const float *x, const float *w, const float *b, float *y)
{
        uint32_t oh, ow;

        if (conv_shape_out(s, &oh, &ow) < 0)
                return;
        double *acc = acc_bias((size_t)s->n * oh * ow, s->k, b);
        for (Taps t = taps(s, oh, ow); taps_next(&t);)
                for (uint32_t k = 0; k < s->k; k++)
                        for (uint32_t c = 0; c < s->c; c++)
                                acc[t.out * s->k + k] +=
                                        (double)x[t.in * s->c + c] * w[(t.tap * s->c + c) * s->k + k];
        act_store(act, acc, y, (size_t)s->n * oh * ow * s->k);
}

void ref_conv2d_bwd_data(const ConvShape *s, const float *dy, const float *w, float *dx)
{
        uint32_t oh, ow;

        if (conv_shape_out(s, &oh, &ow) < 0)
                return;
        double *acc = acc_new((size_t)s->n * s->h * s->w * s->c);
        for (Taps t = taps(s, oh, ow); taps_next(&t);)
                for (uint32_t c = 0; c < s->c; c++)
                        for (uint32_t k = 0; k < s->k; k++)
                                acc[t.in * s->c + c] +=
                                        (double)dy[t.out * s->k + k] * w[(t.tap * s->c + c) * s->k + k];
        acc_store(acc, dx, (size_t)s->n * s->h * s->w * s->c);
}

void ref_conv2d_bwd_weight(const ConvShape *s, const float *x, const float *dy, float *dw, float *db)
{
        uint32_t oh, ow;

        if (conv_shape_out(s, &oh, &ow) < 0)
                return;
        double *acc = acc_new((size_t)s->kh * s->kw * s->c * s->k);
        for (Taps t = taps(s, oh, ow); taps_next(&t);)
                for (uint32_t c = 0; c < s->c; c++)
                        for (uint32_t k = 0; k < s->k; k++)
                                acc[(t.tap * s->c + c) * s->k + k] +=
                                        (double)x[t.in * s->c + c] * dy[t.out * s->k + k];
        acc_store(acc, dw, (size_t)s->kh * s->kw * s->c * s->k);
        bias_grad(dy, (size_t)s->n * oh * ow, s->k, db);
}

void ref_dwconv_fwd(const ConvShape *s, VkActivation act, const float *x, const float *w, const float *b, float *y)
{
        uint32_t oh, ow;

        if (conv_shape_out(s, &oh, &ow) < 0)
                return;
        double *acc = acc_bias((size_t)s->n * oh * ow, s->c, b);
        for (Taps t = taps(s, oh, ow); taps_next(&t);)
                for (uint32_t c = 0; c < s->c; c++)
                        acc[t.out * s->c + c] += (double)x[t.in * s->c + c] * w[t.tap * s->c + c];
        act_store(act, acc, y, (size_t)s->n * oh * ow * s->c);
}

void ref_dwconv_bwd_data(const ConvShape *s, const float *dy, const float *w, float *dx)
{
        uint32_t oh, ow;

        if (conv_shape_out(s, &oh, &ow) < 0)
                return;
        double *acc = acc_new((size_t)s->n * s->h * s->w * s->c);
        for (Taps t = taps(s, oh, ow); taps_next(&t);)
                for (uint32_t c = 0; c < s->c; c++)
                        acc[t.in * s->c + c] += (double)dy[t.out * s->c + c] * w[t.tap * s->c + c];
        acc_store(acc, dx, (size_t)s->n * s->h * s->w * s->c);
}

void ref_dwconv_bwd_weight(const ConvShape *s, const float *x, const float *dy, float *dw, float *db)
{
        uint32_t oh, ow;

        if (conv_shape_out(s, &oh, &ow) < 0)
                return;
        double *acc = acc_new((size_t)s->kh * s->kw * s->c);
        for (Taps t = taps(s, oh, ow); taps_next(&t);)
                for (uint32_t c = 0; c < s->c; c++)
                        acc[t.tap * s->c + c] += (double)x[t.in * s->c + c] * dy[t.out * s->c + c];
        acc_store(acc, dw, (size_t)s->kh * s->kw * s->c);
        bias_grad(dy, (size_t)s->n * oh * ow, s->c, db);
}

void ref_gpool_fwd(PoolMode mode, uint32_t n, uint32_t hw, uint32_t c, const float *x, float *y, uint32_t *argmax)
{
        for (uint32_t b = 0; b < n; b++)
                for (uint32_t ch = 0; ch < c; ch++) {
                        const float *xp = x + (size_t)b * hw * c + ch;
                        if (mode == POOL_AVG) {
                                double acc = 0.0;
                                for (uint32_t i = 0; i < hw; i++)
                                        acc += xp[(size_t)i * c];
                                y[(size_t)b * c + ch] = (float)(acc / hw);
                                continue;
                        }
                        float m = xp[0];
                        uint32_t at = 0;
                        for (uint32_t i = 1; i < hw; i++) {
                                float v = xp[(size_t)i * c];
                                if (!isnan(m) && (v > m || isnan(v))) {
                                        m = v;
                                        at = i;
                                }
                        }
                        y[(size_t)b * c + ch] = m;
                        if (argmax)
                                argmax[(size_t)b * c + ch] = at;
                }
}

void ref_gpool_bwd(PoolMode mode, uint32_t n, uint32_t hw, uint32_t c, const float *dy, const uint32_t *argmax,
                   float *dx)
{
        for (uint32_t b = 0; b < n; b++)
                for (uint32_t i = 0; i < hw; i++)
                        for (uint32_t ch = 0; ch < c; ch++) {
                                size_t o = (size_t)b * c + ch;
                                float g = mode == POOL_AVG ? dy[o] / (float)hw : argmax[o] == i ? dy[o] : 0.0f;
                                dx[((size_t)b * hw + i) * c + ch] = g;
                        }
}

/* Source coordinate of output pixel o along an axis of in pixels resized to out. */
static float src_coord(uint32_t o, uint32_t in, uint32_t out, bool half_pixel)
{
        float scale = (float)in / (float)out;
        float s = half_pixel ? ((float)o + 0.5f) * scale - 0.5f : (float)o * scale;
        return s < 0.0f ? 0.0f : s;
}

void ref_preprocess(const PreprocShape *p, const uint8_t *src, float *dst)
{
        bool half = p->flags & PREPROC_HALF_PIXEL;

        for (uint32_t b = 0; b < p->n; b++) {
                uint32_t cy, cx, flip;

                preproc_draw(p, b, &cy, &cx, &flip);
                for (uint32_t oy = 0; oy < p->out_h; oy++)
                        for (uint32_t ox = 0; ox < p->out_w; ox++) {
                                uint32_t sx_o = flip ? p->out_w - 1 - ox : ox;
                                float sy = src_coord(oy, p->crop_h, p->out_h, half);
                                float sx = src_coord(sx_o, p->crop_w, p->out_w, half);
                                uint32_t y0 = MIN((uint32_t)sy, p->crop_h - 1), x0 = MIN((uint32_t)sx, p->crop_w - 1);
                                uint32_t y1 = MIN(y0 + 1, p->crop_h - 1), x1 = MIN(x0 + 1, p->crop_w - 1);
                                float fy = sy - (float)y0, fx = sx - (float)x0;
                                for (uint32_t ch = 0; ch < 3; ch++) {
#define PIX(yy, xx) (float)src[(((size_t)b * p->src_h + cy + (yy)) * p->src_w + cx + (xx)) * 3 + ch]
                                        float top = PIX(y0, x0) + (PIX(y0, x1) - PIX(y0, x0)) * fx;
                                        float bot = PIX(y1, x0) + (PIX(y1, x1) - PIX(y1, x0)) * fx;
#undef PIX
                                        float v = (top + (bot - top) * fy) * p->scale[ch] + p->offset[ch];
                                        size_t o = p->flags & PREPROC_NCHW
                                                           ? (((size_t)b * 3 + ch) * p->out_h + oy) * p->out_w + ox
                                                           : (((size_t)b * p->out_h + oy) * p->out_w + ox) * 3 + ch;
                                        dst[o] = v;
                                }
                        }
        }
}

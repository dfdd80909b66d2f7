/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <string.h>

#include "fluff/util.h"

#include "ref-conv.h"

double ref_dot(const float *a, const float *b, size_t n)
{
        double acc = 0.0;

        for (size_t i = 0; i < n; i++)
                acc += (double)a[i] * b[i];
        return acc;
}

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

void ref_conv2d_fwd(const ConvShape *s, VkActivation act, const float *x, const float *w, const float *b, float *y)
{
        uint32_t oh, ow;

        if (conv_shape_out(s, &oh, &ow) < 0)
                return;
        for (uint32_t n = 0; n < s->n; n++)
                for (uint32_t i = 0; i < oh; i++)
                        for (uint32_t j = 0; j < ow; j++)
                                for (uint32_t k = 0; k < s->k; k++) {
                                        double acc = b ? b[k] : 0.0;
                                        for (uint32_t u = 0; u < s->kh; u++) {
                                                long ih = in_coord(i, u, s->stride_h, s->pad_top, s->h);
                                                if (ih < 0)
                                                        continue;
                                                for (uint32_t v = 0; v < s->kw; v++) {
                                                        long iw = in_coord(j, v, s->stride_w, s->pad_left, s->w);
                                                        if (iw < 0)
                                                                continue;
                                                        const float *xp = x + (((size_t)n * s->h + ih) * s->w + iw) * s->c;
                                                        const float *wp = w + ((size_t)u * s->kw + v) * s->c * s->k + k;
                                                        for (uint32_t c = 0; c < s->c; c++)
                                                                acc += (double)xp[c] * wp[(size_t)c * s->k];
                                                }
                                        }
                                        y[(((size_t)n * oh + i) * ow + j) * s->k + k] = ref_act(act, (float)acc);
                                }
}

void ref_conv2d_bwd_data(const ConvShape *s, const float *dy, const float *w, float *dx)
{
        uint32_t oh, ow;
        size_t nx = (size_t)s->n * s->h * s->w * s->c;
        double *acc;

        if (conv_shape_out(s, &oh, &ow) < 0)
                return;
        acc = calloc(nx, sizeof(double));
        if (!acc)
                abort();
        for (uint32_t n = 0; n < s->n; n++)
                for (uint32_t i = 0; i < oh; i++)
                        for (uint32_t j = 0; j < ow; j++)
                                for (uint32_t u = 0; u < s->kh; u++) {
                                        long ih = in_coord(i, u, s->stride_h, s->pad_top, s->h);
                                        if (ih < 0)
                                                continue;
                                        for (uint32_t v = 0; v < s->kw; v++) {
                                                long iw = in_coord(j, v, s->stride_w, s->pad_left, s->w);
                                                if (iw < 0)
                                                        continue;
                                                const float *g = dy + (((size_t)n * oh + i) * ow + j) * s->k;
                                                double *xp = acc + (((size_t)n * s->h + ih) * s->w + iw) * s->c;
                                                const float *wp = w + ((size_t)u * s->kw + v) * s->c * s->k;
                                                for (uint32_t c = 0; c < s->c; c++)
                                                        for (uint32_t k = 0; k < s->k; k++)
                                                                xp[c] += (double)g[k] * wp[(size_t)c * s->k + k];
                                        }
                                }
        for (size_t i = 0; i < nx; i++)
                dx[i] = (float)acc[i];
        free(acc);
}

void ref_conv2d_bwd_weight(const ConvShape *s, const float *x, const float *dy, float *dw, float *db)
{
        uint32_t oh, ow;
        size_t nw = (size_t)s->kh * s->kw * s->c * s->k;
        double *acc, *bacc;

        if (conv_shape_out(s, &oh, &ow) < 0)
                return;
        acc = calloc(nw + s->k, sizeof(double));
        if (!acc)
                abort();
        bacc = acc + nw;
        for (uint32_t n = 0; n < s->n; n++)
                for (uint32_t i = 0; i < oh; i++)
                        for (uint32_t j = 0; j < ow; j++) {
                                const float *g = dy + (((size_t)n * oh + i) * ow + j) * s->k;
                                for (uint32_t k = 0; k < s->k; k++)
                                        bacc[k] += g[k];
                                for (uint32_t u = 0; u < s->kh; u++) {
                                        long ih = in_coord(i, u, s->stride_h, s->pad_top, s->h);
                                        if (ih < 0)
                                                continue;
                                        for (uint32_t v = 0; v < s->kw; v++) {
                                                long iw = in_coord(j, v, s->stride_w, s->pad_left, s->w);
                                                if (iw < 0)
                                                        continue;
                                                const float *xp = x + (((size_t)n * s->h + ih) * s->w + iw) * s->c;
                                                double *wp = acc + ((size_t)u * s->kw + v) * s->c * s->k;
                                                for (uint32_t c = 0; c < s->c; c++)
                                                        for (uint32_t k = 0; k < s->k; k++)
                                                                wp[(size_t)c * s->k + k] += (double)xp[c] * g[k];
                                        }
                                }
                        }
        for (size_t i = 0; i < nw; i++)
                dw[i] = (float)acc[i];
        for (uint32_t k = 0; db && k < s->k; k++)
                db[k] = (float)bacc[k];
        free(acc);
}

void ref_dwconv_fwd(const ConvShape *s, VkActivation act, const float *x, const float *w, const float *b, float *y)
{
        uint32_t oh, ow;

        if (conv_shape_out(s, &oh, &ow) < 0)
                return;
        for (uint32_t n = 0; n < s->n; n++)
                for (uint32_t i = 0; i < oh; i++)
                        for (uint32_t j = 0; j < ow; j++)
                                for (uint32_t c = 0; c < s->c; c++) {
                                        double acc = b ? b[c] : 0.0;
                                        for (uint32_t u = 0; u < s->kh; u++) {
                                                long ih = in_coord(i, u, s->stride_h, s->pad_top, s->h);
                                                for (uint32_t v = 0; ih >= 0 && v < s->kw; v++) {
                                                        long iw = in_coord(j, v, s->stride_w, s->pad_left, s->w);
                                                        if (iw < 0)
                                                                continue;
                                                        acc += (double)x[(((size_t)n * s->h + ih) * s->w + iw) * s->c + c] *
                                                               w[((size_t)u * s->kw + v) * s->c + c];
                                                }
                                        }
                                        y[(((size_t)n * oh + i) * ow + j) * s->c + c] = ref_act(act, (float)acc);
                                }
}

void ref_dwconv_bwd_data(const ConvShape *s, const float *dy, const float *w, float *dx)
{
        uint32_t oh, ow;
        size_t nx = (size_t)s->n * s->h * s->w * s->c;
        double *acc;

        if (conv_shape_out(s, &oh, &ow) < 0)
                return;
        acc = calloc(nx, sizeof(double));
        if (!acc)
                abort();
        for (uint32_t n = 0; n < s->n; n++)
                for (uint32_t i = 0; i < oh; i++)
                        for (uint32_t j = 0; j < ow; j++)
                                for (uint32_t u = 0; u < s->kh; u++) {
                                        long ih = in_coord(i, u, s->stride_h, s->pad_top, s->h);
                                        for (uint32_t v = 0; ih >= 0 && v < s->kw; v++) {
                                                long iw = in_coord(j, v, s->stride_w, s->pad_left, s->w);
                                                if (iw < 0)
                                                        continue;
                                                for (uint32_t c = 0; c < s->c; c++)
                                                        acc[(((size_t)n * s->h + ih) * s->w + iw) * s->c + c] +=
                                                                (double)dy[(((size_t)n * oh + i) * ow + j) * s->c + c] *
                                                                w[((size_t)u * s->kw + v) * s->c + c];
                                        }
                                }
        for (size_t i = 0; i < nx; i++)
                dx[i] = (float)acc[i];
        free(acc);
}

void ref_dwconv_bwd_weight(const ConvShape *s, const float *x, const float *dy, float *dw, float *db)
{
        uint32_t oh, ow;
        size_t nw = (size_t)s->kh * s->kw * s->c;
        double *acc;

        if (conv_shape_out(s, &oh, &ow) < 0)
                return;
        acc = calloc(nw + s->c, sizeof(double));
        if (!acc)
                abort();
        for (uint32_t n = 0; n < s->n; n++)
                for (uint32_t i = 0; i < oh; i++)
                        for (uint32_t j = 0; j < ow; j++) {
                                const float *g = dy + (((size_t)n * oh + i) * ow + j) * s->c;
                                for (uint32_t c = 0; c < s->c; c++)
                                        acc[nw + c] += g[c];
                                for (uint32_t u = 0; u < s->kh; u++) {
                                        long ih = in_coord(i, u, s->stride_h, s->pad_top, s->h);
                                        for (uint32_t v = 0; ih >= 0 && v < s->kw; v++) {
                                                long iw = in_coord(j, v, s->stride_w, s->pad_left, s->w);
                                                if (iw < 0)
                                                        continue;
                                                const float *xp = x + (((size_t)n * s->h + ih) * s->w + iw) * s->c;
                                                for (uint32_t c = 0; c < s->c; c++)
                                                        acc[((size_t)u * s->kw + v) * s->c + c] += (double)xp[c] * g[c];
                                        }
                                }
                        }
        for (size_t i = 0; i < nw; i++)
                dw[i] = (float)acc[i];
        for (uint32_t c = 0; db && c < s->c; c++)
                db[c] = (float)acc[nw + c];
        free(acc);
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

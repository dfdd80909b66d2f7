/* SPDX-License-Identifier: MIT */
/* The plain C forward pass, NHWC float32, one image at a time. It is the
 * reference the Vulkan path and the nsfwjs check are measured against, so it
 * favours obviousness over speed (the inner loops still vectorise). */
#include <float.h>
#include <math.h>

#include "backbone-internal.h"

/* A dense convolution (HWIO weights) or a depthwise one ([k][k][c] weights). */
static void conv(const BbNode *n, const BbNode *a, const float *in, float *out)
{
        const bool depthwise = n->op == BB_OP_DWCONV;
        const unsigned k = n->k, s = n->stride, cin = depthwise ? n->c : n->cin, cout = n->c;

        for (unsigned oy = 0; oy < n->h; oy++)
                for (unsigned ox = 0; ox < n->w; ox++) {
                        float *acc = out + ((size_t)oy * n->w + ox) * cout;
                        memcpy(acc, n->bias, cout * sizeof(float));
                        for (unsigned ky = 0; ky < k; ky++) {
                                int iy = (int)(oy * s + ky) - (int)n->pad[0];
                                if (iy < 0 || iy >= (int)a->h)
                                        continue;
                                for (unsigned kx = 0; kx < k; kx++) {
                                        int ix = (int)(ox * s + kx) - (int)n->pad[2];
                                        if (ix < 0 || ix >= (int)a->w)
                                                continue;
                                        const float *px = in + ((size_t)iy * a->w + (unsigned)ix) * cin;
                                        if (depthwise) {
                                                const float *wk = n->weight + (size_t)(ky * k + kx) * cout;
                                                for (unsigned ch = 0; ch < cout; ch++)
                                                        acc[ch] += px[ch] * wk[ch];
                                                continue;
                                        }
                                        const float *wk = n->weight + (size_t)(ky * k + kx) * cin * cout;
                                        for (unsigned ci = 0; ci < cin; ci++) {
                                                const float v = px[ci], *wr = wk + (size_t)ci * cout;
                                                for (unsigned co = 0; co < cout; co++)
                                                        acc[co] += v * wr[co];
                                        }
                                }
                        }
                }
}

static void dense(const BbNode *n, const float *in, float *out)
{
        memcpy(out, n->bias, n->c * sizeof(float));
        for (unsigned i = 0; i < n->cin; i++) {
                const float v = in[i], *wr = n->weight + (size_t)i * n->c;
                for (unsigned o = 0; o < n->c; o++)
                        out[o] += v * wr[o];
        }
}

static void activate(BbAct act, float *x, size_t count)
{
        switch (act) {
        case BB_ACT_RELU:
                for (size_t i = 0; i < count; i++)
                        x[i] = x[i] > 0 ? x[i] : 0;
                break;
        case BB_ACT_RELU6:
                for (size_t i = 0; i < count; i++)
                        x[i] = x[i] < 0 ? 0 : x[i] > 6 ? 6 : x[i];
                break;
        case BB_ACT_SOFTMAX: {
                float m = -FLT_MAX;
                double sum = 0;
                for (size_t i = 0; i < count; i++)
                        m = MAX(m, x[i]);
                for (size_t i = 0; i < count; i++)
                        sum += exp((double)x[i] - m);
                for (size_t i = 0; i < count; i++)
                        x[i] = (float)(exp((double)x[i] - m) / sum);
                break;
        }
        default:
                break;
        }
}

/* mean over h×w of every channel, then max */
static void pool_mean_max(const BbNode *n, const float *x, float *ret)
{
        const size_t hw = (size_t)n->h * n->w;
        for (unsigned c = 0; c < n->c; c++) {
                double sum = 0;
                float m = -FLT_MAX;
                for (size_t p = 0; p < hw; p++) {
                        float v = x[p * n->c + c];
                        sum += v;
                        m = MAX(m, v);
                }
                ret[c] = (float)(sum / (double)hw);
                ret[n->c + c] = m;
        }
}

static int forward_one(const Backbone *bb, const float *pixels, float *ret_probs, float *ret_embed,
                       BbTap tap, void *userdata)
{
        const BbGraph *g = &bb->graph;
        float *act[BB_MAX_NODES] = {};
        unsigned last_use[BB_MAX_NODES];
        int r = 0;

        for (unsigned i = 0; i < g->n_nodes; i++) {
                last_use[i] = i;
                for (unsigned j = 0; j < 2; j++)
                        if (g->nodes[i].in[j] >= 0)
                                last_use[g->nodes[i].in[j]] = i;
        }
        act[0] = (float *)pixels; /* never written, never freed */
        for (unsigned i = 1; i < g->n_nodes; i++) {
                const BbNode *n = &g->nodes[i];
                const BbNode *a = &g->nodes[n->in[0]];
                const size_t count = (size_t)n->h * n->w * n->c;
                act[i] = malloc(count * sizeof(float));
                if (!act[i]) {
                        r = -ENOMEM;
                        break;
                }
                switch (n->op) {
                case BB_OP_CONV:
                case BB_OP_DWCONV:
                        conv(n, a, act[n->in[0]], act[i]);
                        break;
                case BB_OP_ADD:
                        for (size_t p = 0; p < count; p++)
                                act[i][p] = act[n->in[0]][p] + act[n->in[1]][p];
                        break;
                case BB_OP_GAP: {
                        const size_t hw = (size_t)a->h * a->w;
                        for (unsigned c = 0; c < n->c; c++) {
                                double sum = 0;
                                for (size_t p = 0; p < hw; p++)
                                        sum += act[n->in[0]][p * n->c + c];
                                act[i][c] = (float)(sum / (double)hw);
                        }
                        break;
                }
                case BB_OP_DENSE:
                        dense(n, act[n->in[0]], act[i]);
                        break;
                default:
                        r = -EBADMSG;
                        break;
                }
                if (r < 0)
                        break;
                activate(n->act, act[i], count);
                if (tap)
                        tap(n, act[i], userdata);
                for (int f = 0; ret_embed && f < _BACKBONE_FEAT_MAX; f++)
                        if (bb->feat_node[f] == (int)i)
                                pool_mean_max(n, act[i],
                                              ret_embed +
                                                      backbone_feature_info((BackboneFeatureSet)f)->offset);
                for (unsigned j = 0; j < 2; j++) {
                        int src = n->in[j];
                        if (src > 0 && last_use[src] == i) {
                                free(act[src]);
                                act[src] = NULL;
                        }
                }
        }
        if (r >= 0 && ret_probs)
                memcpy(ret_probs, act[g->n_nodes - 1], BACKBONE_N_CLASSES * sizeof(float));
        for (unsigned i = 1; i < g->n_nodes; i++)
                free(act[i]);
        return r;
}

int backbone_forward_ref(const Backbone *bb, const float *pixels, size_t n, float *ret_probs,
                         float *ret_embed)
{
        for (size_t i = 0; i < n; i++) {
                int r = forward_one(bb, pixels + i * BACKBONE_INPUT_FLOATS,
                                    ret_probs ? ret_probs + i * BACKBONE_N_CLASSES : NULL,
                                    ret_embed ? ret_embed + i * BACKBONE_EMBED_DIM : NULL, NULL, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

int backbone_forward_ref_tap(const Backbone *bb, const float *pixels, BbTap tap, void *userdata)
{
        return forward_one(bb, pixels, NULL, NULL, tap, userdata);
}

int backbone_classify_ref(const Backbone *bb, const float *pixels, size_t n, float *ret_probs)
{
        return backbone_forward_ref(bb, pixels, n, ret_probs, NULL);
}

int backbone_embed_ref(const Backbone *bb, const float *pixels, size_t n, float *ret_embed)
{
        return backbone_forward_ref(bb, pixels, n, NULL, ret_embed);
}

/* SPDX-License-Identifier: MIT */
#include <float.h>
#include <math.h>
#include <time.h>

#include "backbone-internal.h"
#include "backbone-vk.h"
#include "op-conv2d.h"
#include "op-dwconv.h"
#include "op-eltwise.h"
#include "op-gpool.h"
#include "op-preprocess.h"

struct BackboneVk {
        VkEngine *engine;   /* borrowed */
        const Backbone *bb; /* borrowed */
        const BbGraph *g;   /* borrowed, bb's */
        uint32_t max_batch, batch;
        uint32_t aug_crop, aug_seed; /* aug_crop 0: the plain image */

        OpConv2d *conv;
        OpDwconv *dw;
        OpEltwise *elt;
        OpGpool *pool;
        OpPreprocess *pre;
        VkRecorder *rec;

        VkTensor *w[BB_MAX_NODES], *b[BB_MAX_NODES]; /* owned: weights */
        VkTensor *slot[BB_MAX_NODES];                /* owned: activation buffers */
        unsigned n_slots;
        int node_slot[BB_MAX_NODES];
        bool kept[BB_MAX_NODES];

        VkTensor *src;                                                /* owned: uint8 input batch */
        VkTensor *mean[_BACKBONE_FEAT_MAX], *max[_BACKBONE_FEAT_MAX]; /* owned: pooled features */
        VkTensor *argmax;                                             /* owned: scratch for max pooling */

        float *host_feat; /* owned: [feature][mean|max][batch][c] downloads */
        float *host_logits;
};

BackboneVk *backbone_vk_free(BackboneVk *v)
{
        if (!v)
                return NULL;
        for (unsigned i = 0; i < BB_MAX_NODES; i++) {
                vk_tensor_free(v->w[i]);
                vk_tensor_free(v->b[i]);
                vk_tensor_free(v->slot[i]);
        }
        for (unsigned f = 0; f < _BACKBONE_FEAT_MAX; f++) {
                vk_tensor_free(v->mean[f]);
                vk_tensor_free(v->max[f]);
        }
        vk_tensor_free(v->src);
        vk_tensor_free(v->argmax);
        vk_recorder_free(v->rec);
        op_conv2d_free(v->conv);
        op_dwconv_free(v->dw);
        op_eltwise_free(v->elt);
        op_gpool_free(v->pool);
        op_preprocess_free(v->pre);
        free(v->host_feat);
        free(v->host_logits);
        free(v);
        return NULL;
}

static size_t node_floats(const BbNode *n)
{
        return (size_t)n->h * n->w * n->c;
}

static int new_f32(VkEngine *e, size_t count, VkTensor **ret)
{
        if (count == 0 || count > UINT32_MAX)
                return -EINVAL;
        return vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){(uint32_t)count}, ret);
}

/* Shares buffers between nodes whose lifetimes do not overlap (a node's
 * buffer is free again after its last reader), so a batch of 32 needs a few
 * hundred MiB rather than a few GiB. */
static int plan_slots(BackboneVk *v, int keep_from_block)
{
        const BbGraph *g = v->g;
        unsigned last_use[BB_MAX_NODES];
        size_t size[BB_MAX_NODES] = {};
        int owner_end[BB_MAX_NODES]; /* last reader of the slot's current node; INT32_MAX: kept */

        for (unsigned i = 0; i < g->n_nodes; i++) {
                last_use[i] = i;
                for (unsigned j = 0; j < 2; j++)
                        if (g->nodes[i].in[j] >= 0)
                                last_use[g->nodes[i].in[j]] = i;
                v->kept[i] = g->nodes[i].block >= keep_from_block && g->nodes[i].op != BB_OP_INPUT;
        }
        v->n_slots = 0;
        for (unsigned i = 0; i < g->n_nodes; i++) {
                size_t need = node_floats(&g->nodes[i]) * v->max_batch;
                int best = -1;
                for (unsigned s = 0; s < v->n_slots && !v->kept[i]; s++) {
                        if (owner_end[s] >= (int)i)
                                continue;
                        /* smallest slot that fits, else the largest one to grow */
                        if (best < 0 || (size[s] >= need && (size[best] < need || size[s] < size[best])) ||
                            (size[best] < need && size[s] > size[best]))
                                best = (int)s;
                }
                if (best < 0)
                        best = (int)v->n_slots++;
                size[best] = MAX(size[best], need);
                owner_end[best] = v->kept[i] ? INT32_MAX : (int)last_use[i];
                v->node_slot[i] = best;
        }
        for (unsigned s = 0; s < v->n_slots; s++) {
                int r = new_f32(v->engine, size[s], &v->slot[s]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int upload(VkEngine *e, const float *data, size_t count, VkTensor **ret)
{
        int r = new_f32(e, count, ret);
        return r < 0 ? r : vk_tensor_upload(*ret, data, count * sizeof(float));
}

int backbone_vk_new(VkEngine *e, const Backbone *bb, uint32_t max_batch, int keep_from_block,
                    BackboneVk **ret)
{
        _cleanup_(backbone_vk_freep) BackboneVk *v = NULL;
        int r;

        if (!e || !bb || max_batch == 0 || max_batch > 4096)
                return -EINVAL;
        v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        v->engine = e;
        v->bb = bb;
        v->g = &bb->graph;
        /* A device addresses a limited range per binding (128 MiB on lavapipe):
         * a batch whose largest activation would not fit is split. */
        size_t biggest = 0;
        for (unsigned i = 0; i < v->g->n_nodes; i++)
                biggest = MAX(biggest, node_floats(&v->g->nodes[i]) * sizeof(float));
        uint64_t fit = vk_engine_max_tensor_bytes(e) / biggest;
        if (fit == 0)
                return -E2BIG;
        v->max_batch = (uint32_t)MIN((uint64_t)max_batch, fit);
        max_batch = v->max_batch;

        if ((r = op_conv2d_new(e, &v->conv)) < 0 || (r = op_dwconv_new(e, &v->dw)) < 0 ||
            (r = op_eltwise_new(e, &v->elt)) < 0 || (r = op_gpool_new(e, &v->pool)) < 0 ||
            (r = op_preprocess_new(e, &v->pre)) < 0)
                return log_debug_errno(r, "Cannot build the backbone's kernels: %m");

        for (unsigned i = 0; i < v->g->n_nodes; i++) {
                const BbNode *n = &v->g->nodes[i];
                if (!bb_node_weight_count(n))
                        continue;
                if ((r = upload(e, n->weight, bb_node_weight_count(n), &v->w[i])) < 0 ||
                    (r = upload(e, n->bias, bb_node_bias_count(n), &v->b[i])) < 0)
                        return log_debug_errno(r, "Cannot upload the weights of \"%s\": %m", n->name);
        }
        r = plan_slots(v, keep_from_block);
        if (r < 0)
                return log_debug_errno(r, "Cannot allocate the backbone's activations: %m");

        uint32_t cmax = 0;
        size_t feat_floats = 0;
        for (int f = 0; f < _BACKBONE_FEAT_MAX; f++) {
                const BackboneFeatureInfo *fi = backbone_feature_info((BackboneFeatureSet)f);
                if ((r = new_f32(e, (size_t)max_batch * fi->c, &v->mean[f])) < 0 ||
                    (r = new_f32(e, (size_t)max_batch * fi->c, &v->max[f])) < 0)
                        return r;
                cmax = MAX(cmax, fi->c);
                feat_floats += 2 * (size_t)max_batch * fi->c;
        }
        r = vk_tensor_new(e, VK_DTYPE_U32, 1, (uint32_t[]){max_batch * cmax}, &v->argmax);
        if (r < 0)
                return r;
        r = vk_tensor_new(e, VK_DTYPE_U8, 1, (uint32_t[]){(uint32_t)(max_batch * BACKBONE_INPUT_FLOATS)},
                          &v->src);
        if (r < 0)
                return r;
        v->host_feat = malloc(feat_floats * sizeof(float));
        v->host_logits = malloc((size_t)max_batch * BACKBONE_N_CLASSES * sizeof(float));
        if (!v->host_feat || !v->host_logits)
                return -ENOMEM;
        r = vk_recorder_new(
                e, max_batch * BACKBONE_INPUT_FLOATS + (feat_floats + 64 * max_batch) * sizeof(float),
                &v->rec);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(v);
        return 0;
}

uint64_t backbone_vk_batch_bytes(const BackboneVk *v)
{
        uint64_t bytes = v->src->bytes + v->argmax->bytes + vk_recorder_staging_size(v->rec);

        for (unsigned s = 0; s < v->n_slots; s++)
                bytes += v->slot[s]->bytes;
        for (int f = 0; f < _BACKBONE_FEAT_MAX; f++)
                bytes += v->mean[f]->bytes + v->max[f]->bytes;
        return bytes;
}

uint32_t backbone_vk_max_batch(const BackboneVk *v)
{
        return v->max_batch;
}

VkTensor *backbone_vk_activation(BackboneVk *v, unsigned node)
{
        return node < v->g->n_nodes && v->kept[node] ? v->slot[v->node_slot[node]] : NULL;
}

static VkActivation vk_act(BbAct a)
{
        return a == BB_ACT_RELU    ? VK_ACTIVATION_RELU
               : a == BB_ACT_RELU6 ? VK_ACTIVATION_RELU6
                                   : VK_ACTIVATION_NONE;
}

static int record_node(BackboneVk *v, unsigned i, uint32_t n)
{
        const BbNode *nd = &v->g->nodes[i];
        const BbNode *a = &v->g->nodes[nd->in[0]];
        VkTensor *x = v->slot[v->node_slot[nd->in[0]]], *y = v->slot[v->node_slot[i]];

        switch (nd->op) {
        case BB_OP_CONV:
        case BB_OP_DWCONV:
        case BB_OP_DENSE: {
                /* a dense layer is a 1×1 convolution over a 1×1 map: same HWIO weights;
                 * op_conv2d runs pointwise shapes (most of the FLOPs) on the GEMM */
                bool dense = nd->op == BB_OP_DENSE;
                ConvShape s = {
                        .n = n,
                        .h = dense ? 1 : a->h,
                        .w = dense ? 1 : a->w,
                        .c = nd->cin,
                        .k = nd->c,
                        .kh = nd->k,
                        .kw = nd->k,
                        .stride_h = nd->stride,
                        .stride_w = nd->stride,
                        .pad_top = nd->pad[0],
                        .pad_bottom = nd->pad[1],
                        .pad_left = nd->pad[2],
                        .pad_right = nd->pad[3],
                };
                if (nd->op == BB_OP_DWCONV)
                        return op_dwconv_record(v->dw, v->rec, &s, vk_act(nd->act), x, v->w[i], v->b[i], y);
                return op_conv2d_record(v->conv, v->rec, &s, vk_act(nd->act), x, v->w[i], v->b[i], y);
        }
        case BB_OP_ADD:
                return op_eltwise_record_add(v->elt, v->rec, x, v->slot[v->node_slot[nd->in[1]]], y,
                                             (size_t)n * node_floats(nd));
        case BB_OP_GAP:
                return op_gpool_record(v->pool, v->rec, POOL_AVG, n, a->h * a->w, a->c, x, y, NULL);
        default:
                return -EBADMSG;
        }
}

static int record_preprocess(BackboneVk *v, uint32_t n)
{
        PreprocShape p = {
                .n = n,
                .src_h = BACKBONE_INPUT_SIZE,
                .src_w = BACKBONE_INPUT_SIZE,
                .crop_h = BACKBONE_INPUT_SIZE,
                .crop_w = BACKBONE_INPUT_SIZE,
                .out_h = BACKBONE_INPUT_SIZE,
                .out_w = BACKBONE_INPUT_SIZE,
                .scale = {1.0f / 255, 1.0f / 255, 1.0f / 255},
        };
        if (v->aug_crop) {
                p.crop_h = p.crop_w = v->aug_crop;
                p.flags = PREPROC_RANDOM_CROP | PREPROC_RANDOM_FLIP;
                p.seed = v->aug_seed++; /* other draws for the next batch */
        }
        return op_preprocess_record(v->pre, v->rec, &p, v->src, v->slot[v->node_slot[0]]);
}

/* Mean and max of node i's output into feature set f, downloaded to *next. */
static int record_pool(BackboneVk *v, int f, unsigned i, uint32_t n, float **next, float *ret_host[2])
{
        const BbNode *nd = &v->g->nodes[i];
        VkTensor *x = v->slot[v->node_slot[i]];
        size_t bytes = (size_t)n * nd->c * sizeof(float);
        int r;

        if ((r = op_gpool_record(v->pool, v->rec, POOL_AVG, n, nd->h * nd->w, nd->c, x, v->mean[f], NULL)) <
                    0 ||
            (r = op_gpool_record(v->pool, v->rec, POOL_MAX, n, nd->h * nd->w, nd->c, x, v->max[f],
                                 v->argmax)) < 0)
                return r;
        ret_host[0] = *next;
        ret_host[1] = *next + (size_t)n * nd->c;
        *next += 2 * (size_t)n * nd->c;
        if ((r = vk_recorder_download(v->rec, v->mean[f], ret_host[0], bytes)) < 0 ||
            (r = vk_recorder_download(v->rec, v->max[f], ret_host[1], bytes)) < 0)
                return r;
        return 0;
}

/* start == 0: in is uint8 RGB; else n × (start's h·w·c) floats of start's output. */
static int forward_batch(BackboneVk *v, unsigned start, const void *in, uint32_t n, float *ret_probs,
                         float *ret_embed)
{
        const BbGraph *g = v->g;
        const BbNode *out = &g->nodes[g->n_nodes - 1];
        float *hf[_BACKBONE_FEAT_MAX][2];
        bool done_feat[_BACKBONE_FEAT_MAX] = {};
        int r;

        if (start > 0) {
                /* outside the step: a cached activation can be far larger than the staging room */
                r = vk_tensor_upload(v->slot[v->node_slot[start]], in,
                                     (size_t)n * node_floats(&g->nodes[start]) * sizeof(float));
                if (r < 0)
                        return r;
        }
        r = vk_recorder_begin(v->rec);
        if (r < 0)
                return r;
        if (start == 0) {
                r = vk_recorder_upload(v->rec, v->src, in, (size_t)n * BACKBONE_INPUT_FLOATS);
                if (r < 0)
                        return r;
                r = record_preprocess(v, n);
                if (r < 0)
                        return r;
        }

        float *next = v->host_feat;
        for (unsigned i = MAX(start, 1u); i < g->n_nodes; i++) {
                if (i > start) {
                        r = record_node(v, i, n);
                        if (r < 0)
                                return log_debug_errno(r, "Cannot record \"%s\": %m", g->nodes[i].name);
                }
                for (int f = 0; ret_embed && f < _BACKBONE_FEAT_MAX; f++) {
                        if (v->bb->feat_node[f] != (int)i)
                                continue;
                        r = record_pool(v, f, i, n, &next, hf[f]);
                        if (r < 0)
                                return r;
                        done_feat[f] = true;
                }
        }
        r = vk_recorder_download(v->rec, v->slot[v->node_slot[g->n_nodes - 1]], v->host_logits,
                                 (size_t)n * out->c * sizeof(float));
        if (r < 0)
                return r;
        r = vk_recorder_submit_and_wait(v->rec);
        if (r < 0)
                return r;
        v->batch = n;

        for (uint32_t img = 0; ret_probs && img < n; img++) {
                const float *z = v->host_logits + (size_t)img * out->c;
                float m = -FLT_MAX;
                double sum = 0;
                for (unsigned c = 0; c < out->c; c++)
                        m = MAX(m, z[c]);
                for (unsigned c = 0; c < out->c; c++)
                        sum += exp((double)z[c] - m);
                for (unsigned c = 0; c < out->c; c++)
                        ret_probs[(size_t)img * out->c + c] = (float)(exp((double)z[c] - m) / sum);
        }
        for (int f = 0; ret_embed && f < _BACKBONE_FEAT_MAX; f++) {
                const BackboneFeatureInfo *fi = backbone_feature_info((BackboneFeatureSet)f);
                if (!done_feat[f])
                        continue;
                for (uint32_t img = 0; img < n; img++) {
                        float *e = ret_embed + (size_t)img * BACKBONE_EMBED_DIM + fi->offset;
                        memcpy(e, hf[f][0] + (size_t)img * fi->c, fi->c * sizeof(float));
                        memcpy(e + fi->c, hf[f][1] + (size_t)img * fi->c, fi->c * sizeof(float));
                }
        }
        return 0;
}

static int forward(BackboneVk *v, unsigned start, const void *in, size_t in_per_image, size_t n,
                   float *ret_probs, float *ret_embed)
{
        if (!v || (!in && n > 0))
                return -EINVAL;
        if (v->g->nodes[v->g->n_nodes - 1].c != BACKBONE_N_CLASSES)
                return -EBADMSG;
        /* equal parts: 32 images at most 27 a batch run as 16 + 16, not 27 + 5 */
        size_t parts = (n + v->max_batch - 1) / v->max_batch, per = parts ? (n + parts - 1) / parts : 0;
        for (size_t done = 0; done < n;) {
                uint32_t b = (uint32_t)MIN(per, n - done);
                int r = forward_batch(v, start, (const uint8_t *)in + done * in_per_image, b,
                                      ret_probs ? ret_probs + done * BACKBONE_N_CLASSES : NULL,
                                      ret_embed ? ret_embed + done * BACKBONE_EMBED_DIM : NULL);
                if (r < 0)
                        return r;
                done += b;
        }
        return 0;
}

static double seconds_of(clockid_t clock)
{
        struct timespec t;

        (void)clock_gettime(clock, &t);
        return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int backbone_vk_profile(BackboneVk *v, const uint8_t *rgb, uint32_t n, double *ret_seconds,
                        double *ret_cpu_seconds)
{
        const BbGraph *g;
        int r;

        if (!v || !rgb || n == 0 || n > v->max_batch || !ret_seconds)
                return -EINVAL;
        g = v->g;
        /* Node 0 (the input) stands for the upload and the preprocessing. */
        for (unsigned i = 0; i < g->n_nodes; i++) {
                if ((r = vk_recorder_begin(v->rec)) < 0)
                        return r;
                double t0 = seconds_of(CLOCK_MONOTONIC), c0 = seconds_of(CLOCK_PROCESS_CPUTIME_ID);
                if (i == 0) {
                        if ((r = vk_recorder_upload(v->rec, v->src, rgb,
                                                    (size_t)n * BACKBONE_INPUT_FLOATS)) < 0 ||
                            (r = record_preprocess(v, n)) < 0)
                                return r;
                } else if ((r = record_node(v, i, n)) < 0)
                        return r;
                if ((r = vk_recorder_submit_and_wait(v->rec)) < 0)
                        return r;
                ret_seconds[i] = seconds_of(CLOCK_MONOTONIC) - t0;
                if (ret_cpu_seconds)
                        ret_cpu_seconds[i] = seconds_of(CLOCK_PROCESS_CPUTIME_ID) - c0;
        }
        return 0;
}

int backbone_vk_forward(BackboneVk *v, const uint8_t *rgb, size_t n, float *ret_probs, float *ret_embed)
{
        return forward(v, 0, rgb, BACKBONE_INPUT_FLOATS, n, ret_probs, ret_embed);
}

int backbone_vk_forward_from(BackboneVk *v, unsigned start, const float *act, size_t n, float *ret_probs,
                             float *ret_embed)
{
        if (!v || start == 0 || start + 1 >= v->g->n_nodes)
                return -EINVAL;
        /* a cut: nothing after start may read anything before it */
        for (unsigned i = start + 1; i < v->g->n_nodes; i++)
                for (unsigned j = 0; j < 2; j++)
                        if (v->g->nodes[i].in[j] >= 0 && v->g->nodes[i].in[j] < (int)start)
                                return -EINVAL;
        return forward(v, start, act, node_floats(&v->g->nodes[start]) * sizeof(float), n, ret_probs,
                       ret_embed);
}

int backbone_vk_weights(BackboneVk *v, unsigned node, VkTensor **ret_w, VkTensor **ret_b)
{
        if (!v || node >= v->g->n_nodes || !v->w[node])
                return -ENOENT;
        if (ret_w)
                *ret_w = v->w[node];
        if (ret_b)
                *ret_b = v->b[node];
        return 0;
}

int backbone_vk_set_augment(BackboneVk *v, uint32_t crop, uint32_t seed)
{
        if (!v || crop > BACKBONE_INPUT_SIZE || (crop > 0 && crop < BACKBONE_INPUT_SIZE / 2))
                return -EINVAL;
        v->aug_crop = crop;
        v->aug_seed = seed;
        return 0;
}

int backbone_vk_set_weights(BackboneVk *v, unsigned node, const float *w, const float *b)
{
        const BbNode *n;
        int r;

        if (!v || node >= v->g->n_nodes || !v->w[node])
                return -ENOENT;
        n = &v->g->nodes[node];
        if ((r = vk_tensor_upload(v->w[node], w ?: n->weight, bb_node_weight_count(n) * sizeof(float))) <
                    0 ||
            (r = vk_tensor_upload(v->b[node], b ?: n->bias, bb_node_bias_count(n) * sizeof(float))) < 0)
                return r;
        return 0;
}

/* SPDX-License-Identifier: MIT */
#include <stdatomic.h>
#include <time.h>

#include "backbone-internal.h"
#include "half.h"
#include "views.h"

/* Images a forward pass of the views takes at once. The pass holds a batch's
 * activations (112×112×96 floats an image at the widest layer, ~20 MB
 * each on lavapipe's host memory), beside the dataset: 16 was ~300 MB. */
#define VIEW_BATCH 8u

FtViews *ft_views_free(FtViews *v)
{
        if (!v)
                return NULL;
        free(v->act);
        free(v->features);
        free(v);
        return NULL;
}

int ft_views_layer(const Backbone *bb, unsigned *ret_node, unsigned *ret_input)
{
        const BbGraph *g = backbone_graph(bb);
        const BackboneFeatureInfo *fi = backbone_feature_info(BACKBONE_FEAT_FINAL);
        int i = bb_graph_find(g, fi->layer);

        if (i < 0)
                return -ENOENT;
        const BbNode *n = &g->nodes[i], *in = n->in[0] >= 0 ? &g->nodes[n->in[0]] : NULL;
        /* a 1×1 stride-1 conv with ReLU6 over a map of its own size: what ft-tail computes */
        if (n->op != BB_OP_CONV || n->k != 1 || n->stride != 1 || n->act != BB_ACT_RELU6 || !in ||
            in->h != n->h || in->w != n->w || in->c != n->cin || n->c != fi->c)
                return -ENOENT;
        if (ret_node)
                *ret_node = (unsigned)i;
        if (ret_input)
                *ret_input = (unsigned)n->in[0];
        return 0;
}

typedef struct Scratch {
        uint8_t *rgb;
        float *emb, *act;
} Scratch;

/* One round over all images: view `view` of each, in rows of `stride` views. */
static int run_round(BackboneVk *vk, FtViews *v, uint32_t stride, uint32_t view, const char *const *paths,
                     const Scratch *s, uint64_t deadline_usec, const atomic_bool *cancel, size_t *ret_bad)
{
        size_t per = (size_t)v->hw * v->cin, batch = backbone_vk_max_batch(vk);
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        int r;

        for (size_t start = 0; start < v->n; start += batch) {
                size_t m = MIN(batch, v->n - start);
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (cancel && atomic_load(cancel))
                        return -ECANCELED;
                if (now > deadline_usec)
                        return -ETIME;
                /* A round that will not make its deadline stops after two
                 * batches, not at the deadline: with many posts that saves
                 * the budget's share and the views' memory (49 KB a post). */
                if (deadline_usec != UINT64_MAX && start >= 2 * batch &&
                    t0 + (uint64_t)((double)(now - t0) * (double)v->n / (double)start) > deadline_usec)
                        return -ETIME;
                for (size_t i = 0; i < m; i++) {
                        r = backbone_image_load_rgb8(paths[start + i], s->rgb + i * BACKBONE_INPUT_FLOATS);
                        if (r < 0) {
                                if (ret_bad)
                                        *ret_bad = start + i;
                                return -EIO;
                        }
                }
                /* one batch per call, so the kept activation is this batch's */
                r = backbone_vk_forward(vk, s->rgb, m, NULL, s->emb);
                if (r < 0)
                        return r;
                VkTensor *a = backbone_vk_activation(vk, v->input);
                if (!a)
                        return -EBADMSG;
                r = vk_tensor_download(a, s->act, m * per * sizeof(float));
                if (r < 0)
                        return r;
                for (size_t i = 0; i < m; i++) {
                        size_t row = (start + i) * stride + view;
                        uint16_t *h = v->act + row * per;
                        for (size_t k = 0; k < per; k++)
                                h[k] = half_from_float(s->act[i * per + k]);
                        memcpy(v->features + row * BACKBONE_EMBED_DIM, s->emb + i * BACKBONE_EMBED_DIM,
                               BACKBONE_EMBED_DIM * sizeof(float));
                }
        }
        return 0;
}

/* Rows were laid out for `from` views each; keep the first `to`. */
static void compact(FtViews *v, uint32_t from, uint32_t to)
{
        size_t per = (size_t)v->hw * v->cin;
        for (size_t i = 0; i < v->n; i++) {
                memmove(v->act + i * to * per, v->act + i * from * per, to * per * sizeof(uint16_t));
                memmove(v->features + i * to * BACKBONE_EMBED_DIM,
                        v->features + i * from * BACKBONE_EMBED_DIM,
                        to * BACKBONE_EMBED_DIM * sizeof(float));
        }
}

int ft_views_compute(VkEngine *e, const Backbone *bb, const char *const *paths, size_t n, uint32_t max_views,
                     size_t max_bytes, uint32_t seed, uint64_t deadline_usec, uint64_t plain_deadline_usec,
                     const atomic_bool *cancel, FtViews **ret, size_t *ret_bad)
{
        _cleanup_(ft_views_freep) FtViews *v = NULL;
        _cleanup_(backbone_vk_freep) BackboneVk *vk = NULL;
        _cleanup_free_ uint8_t *rgb = NULL;
        _cleanup_free_ float *emb = NULL, *act = NULL;
        unsigned node, input;
        int r;

        if (!e || !bb || (!paths && n > 0) || n == 0 || max_views == 0)
                return -EINVAL;
        r = ft_views_layer(bb, &node, &input);
        if (r < 0)
                return r;
        const BbNode *nd = &backbone_graph(bb)->nodes[node];
        v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        *v = (FtViews){.n = n,
                       .hw = nd->h * nd->w,
                       .cin = nd->cin,
                       .cout = nd->c,
                       .node = node,
                       .input = input,
                       .set = backbone_feature_info(BACKBONE_FEAT_FINAL)->name,
                       .node_name = nd->name,
                       .weight = nd->weight,
                       .bias = nd->bias};
        size_t per_view = (size_t)v->hw * v->cin * sizeof(uint16_t) + BACKBONE_EMBED_DIM * sizeof(float);
        uint64_t fit = max_bytes / (per_view * n);
        if (fit == 0)
                return -E2BIG;
        uint32_t stride = (uint32_t)MIN((uint64_t)max_views, fit);
        v->act = malloc(n * stride * v->hw * v->cin * sizeof(uint16_t));
        v->features = malloc(n * stride * BACKBONE_EMBED_DIM * sizeof(float));
        if (!v->act || !v->features)
                return -ENOMEM;

        /* keep from block 16: the layer's input (block 16's projection) stays readable */
        r = backbone_vk_new(e, bb, VIEW_BATCH, nd->block - 1, &vk);
        if (r < 0)
                return r;
        size_t batch = backbone_vk_max_batch(vk);
        rgb = malloc(batch * BACKBONE_INPUT_FLOATS);
        emb = malloc(batch * BACKBONE_EMBED_DIM * sizeof(float));
        act = malloc(batch * v->hw * v->cin * sizeof(float));
        if (!rgb || !emb || !act)
                return -ENOMEM;
        Scratch s = {rgb, emb, act};

        uint32_t done = 0;
        uint64_t started = now_usec(CLOCK_MONOTONIC);
        while (done < stride) {
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (done > 0 && now + (now - started) / done > deadline_usec)
                        break; /* the next round would not finish in time */
                r = backbone_vk_set_augment(vk, done == 0 ? 0 : FT_VIEW_CROP, seed + done * 7919u);
                if (r < 0)
                        return r;
                /* the plain round may not run over by much; a later one is expected to fit */
                r = run_round(vk, v, stride, done, paths, &s, done == 0 ? plain_deadline_usec : UINT64_MAX,
                              cancel, ret_bad);
                if (r < 0)
                        return r;
                done++;
        }
        v->seconds_per_round = (double)(now_usec(CLOCK_MONOTONIC) - started) / USEC_PER_SEC / done;
        if (done < stride)
                compact(v, stride, done);
        v->n_views = done;
        *ret = TAKE_PTR(v);
        return 0;
}

int ft_prepare(VkEngine *e, const Backbone *bb, const char *const *paths, size_t n, double budget_s,
               size_t max_bytes, uint32_t seed, const atomic_bool *cancel, FtViews **ret_views,
               ModelFinetuneData *ret_fd)
{
        _cleanup_(ft_views_freep) FtViews *v = NULL;
        size_t bad = SIZE_MAX;
        int r;

        if (budget_s < FT_MIN_BUDGET_S)
                return -EOPNOTSUPP;
        uint64_t now = now_usec(CLOCK_MONOTONIC),
                 share = (uint64_t)(budget_s * FT_VIEWS_SHARE * USEC_PER_SEC),
                 plain = (uint64_t)(budget_s * FT_PLAIN_SHARE * USEC_PER_SEC);
        max_bytes = MIN(max_bytes, FT_VIEWS_MAX_BYTES);
        r = ft_views_compute(e, bb, paths, n, FT_MAX_VIEWS, max_bytes, seed, now + share, now + plain,
                             cancel, &v, &bad);
        if (r == -E2BIG)
                return log_info_errno(r,
                                      "Not fine-tuning: the plain views of %zu images take more than the "
                                      "%zu MB the training's memory budget leaves them.",
                                      n, max_bytes >> 20);
        if (r == -EIO)
                return log_info_errno(r, "Not fine-tuning: the image %s does not decode.", paths[bad]);
        if (r == -ETIME)
                return log_info_errno(
                        r, "Not fine-tuning: the plain views of %zu images take more than %.0f s.", n,
                        budget_s * FT_VIEWS_SHARE);
        if (r < 0 && r != -ECANCELED)
                return log_warning_errno(r, "Not fine-tuning: computing the views failed: %m");
        if (r < 0)
                return r;
        log_info("Fine-tuning views: %u per image (1 plain, %u cropped and flipped) of %zu images, %.1f s a "
                 "round.",
                 v->n_views, v->n_views - 1, n, v->seconds_per_round);
        *ret_fd = (ModelFinetuneData){.set = v->set,
                                      .node = v->node_name,
                                      .hw = v->hw,
                                      .cin = v->cin,
                                      .cout = v->cout,
                                      .weight = v->weight,
                                      .bias = v->bias,
                                      .n_views = v->n_views,
                                      .act = v->act,
                                      .features = v->features,
                                      .budget_share = FT_TRAIN_SHARE,
                                      .lr = FT_LR,
                                      .patience = FT_PATIENCE};
        *ret_views = TAKE_PTR(v);
        return 0;
}

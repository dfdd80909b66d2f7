/* SPDX-License-Identifier: MIT */
#include <math.h>

#include "head.h"
#include "model.h"

#define PREDICT_BATCH 256u

/* Keeps t among the k largest pushes of its direction (up: > 0, down: < 0). */
static void keep_push(ModelTagPush *list, ModelTagPush t, bool up)
{
        for (size_t i = 0; i < MODEL_EXPLAIN_TAGS; i++) {
                if (list[i].tag == UINT32_MAX || (up ? t.push > list[i].push : t.push < list[i].push)) {
                        ModelTagPush o = list[i];
                        list[i] = t;
                        t = o;
                        if (t.tag == UINT32_MAX)
                                break;
                }
        }
}

/* One post's parts (see ModelExplanation), from its standardised features x,
 * its known tags and its hidden activations hid (only which are > 0 is read).
 * z_head and z_tags are the device's logits, which the parts must add up to.
 * gw (hidden) and g (tag_dim) are scratch. */
static void explain_post(const Model *m, const float *x, const uint32_t *tags, uint32_t n_tags,
                         const float *hid, double z_head, double z_tags, double z_knn, double z_cnn,
                         float *gw, float *g, ModelExplanation *out)
{
        const bool combined = !isempty(m->combine.kind);
        const bool platt = combined && streq(m->combine.cal.method, "platt");
        const bool isotonic = combined && streq(m->combine.cal.method, "isotonic");
        /* the affine maps after the head and the tag tower:
         * logit = cs·(c.bias + w_tags·z_tags + w_head·(head_a·z_head + head_b)) + cb */
        const double cs = platt ? m->combine.cal.a : 1, cb = platt ? m->combine.cal.b : 0;
        const double sh = combined ? cs * m->combine.w_head * m->head_a : 1;
        const double st = combined ? cs * m->combine.w_tags : 0;
        double bias_head = m->b2[0], image_head = 0;

        *out = (ModelExplanation){.calibration = platt ? "platt" : isotonic ? "isotonic" : "none"};
        for (size_t i = 0; i < MODEL_EXPLAIN_TAGS; i++)
                out->up[i] = out->down[i] = (ModelTagPush){.tag = UINT32_MAX};

        /* the hidden units this post switched on, each weighted by its output weight */
        for (uint32_t q = 0; q < m->hidden; q++) {
                gw[q] = hid[q] > 0 ? m->w2[q] : 0;
                bias_head += (double)gw[q] * m->b1[q];
        }
        for (uint32_t d = 0; d < m->dim; d++) {
                if (x[d] == 0)
                        continue; /* unused feature sets are standardised to 0 */
                const float *w = m->w1x + (size_t)d * m->hidden;
                double s = 0;
                for (uint32_t q = 0; q < m->hidden; q++)
                        s += (double)w[q] * gw[q];
                image_head += (double)x[d] * s;
        }
        for (uint32_t j = 0; j < m->tag_dim; j++) {
                double s = 0;
                for (uint32_t q = 0; q < m->hidden; q++)
                        s += (double)m->w1t[(size_t)j * m->hidden + q] * gw[q];
                g[j] = (float)s;
        }

        /* the similarity to liked and disliked pictures is the image's part too */
        out->image = sh * image_head +
                     (combined ? cs * (m->combine.w_knn * z_knn + m->combine.w_cnn * z_cnn) : 0);
        out->bias = sh * bias_head + cb;
        if (combined)
                out->bias += cs * (m->combine.bias + m->combine.w_tags * (m->tag_lr ? m->tag_lr_bias : 0) +
                                   m->combine.w_head * m->head_b);
        for (uint32_t a = 0; a < n_tags; a++) {
                double head = 0;
                if (m->use_tags) {
                        const float *e = m->emb + (size_t)tags[a] * m->tag_dim;
                        for (uint32_t j = 0; j < m->tag_dim; j++)
                                head += (double)e[j] * g[j];
                        head /= n_tags; /* the bag is a mean */
                }
                double push = sh * head + (m->tag_lr ? st * m->tag_lr[tags[a]] : 0);
                out->tags += push;
                ModelTagPush t = {.tag = tags[a], .push = (float)push};
                if (push > 0)
                        keep_push(out->up, t, true);
                else if (push < 0)
                        keep_push(out->down, t, false);
        }
        out->logit = combined ? cs * (m->combine.bias + m->combine.w_tags * z_tags +
                                      m->combine.w_head * (m->head_a * z_head + m->head_b) +
                                      m->combine.w_knn * z_knn + m->combine.w_cnn * z_cnn) +
                                        cb
                              : z_head;
}

int model_predict(const Model *m, VkEngine *engine, const float *features, const uint32_t *tag_offsets,
                  const uint32_t *tag_ids, size_t n, float *out_prob, ModelExplanation *explain)
{
        _cleanup_(head_freep) Head *h = NULL;
        _cleanup_free_ float *x = NULL, *z = NULL, *zk = NULL, *hid = NULL, *g = NULL, *gw = NULL;
        _cleanup_free_ uint32_t *offs = NULL, *none = NULL, *tags = NULL;
        uint32_t max_tags = 0;
        int r;

        if (n == 0)
                return 0;
        for (size_t i = 0; i < n; i++) {
                if (tag_offsets[i + 1] < tag_offsets[i])
                        return -EINVAL;
                max_tags = MAX(max_tags, tag_offsets[i + 1] - tag_offsets[i]);
        }
        uint64_t max_nnz =
                MIN((uint64_t)max_tags * PREDICT_BATCH, (uint64_t)tag_offsets[n] - tag_offsets[0]);
        if (max_nnz > UINT32_MAX)
                return -E2BIG;

        x = malloc((size_t)PREDICT_BATCH * m->dim * sizeof(float));
        z = malloc(PREDICT_BATCH * sizeof(float));
        zk = calloc(PREDICT_BATCH, sizeof(float));
        hid = explain ? malloc((size_t)PREDICT_BATCH * m->hidden * sizeof(float)) : NULL;
        g = malloc(MAX(m->tag_dim, 1u) * sizeof(float));
        gw = malloc(MAX(m->hidden, 1u) * sizeof(float));
        offs = malloc((PREDICT_BATCH + 1) * sizeof(uint32_t));
        none = malloc((PREDICT_BATCH + 1) * sizeof(uint32_t));
        tags = malloc(MAX(max_nnz, 1) * sizeof(uint32_t));
        if (!x || !z || !zk || (explain && !hid) || !g || !gw || !offs || !none || !tags)
                return -ENOMEM;

        r = head_new(engine, m, PREDICT_BATCH, (uint32_t)max_nnz, &h);
        if (r < 0)
                return r;
        r = head_upload(h, m);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i += PREDICT_BATCH) {
                uint32_t bn = (uint32_t)MIN((size_t)PREDICT_BATCH, n - i), nnz = 0;

                model_standardise(m, features + i * m->dim, x, bn);
                offs[0] = none[0] = 0;
                for (uint32_t b = 0; b < bn; b++) {
                        /* tags the vocabulary does not know carry no weight: skip them */
                        for (uint32_t a = tag_offsets[i + b]; a < tag_offsets[i + b + 1]; a++)
                                if (tag_ids[a] < m->vocab)
                                        tags[nnz++] = tag_ids[a];
                        offs[b + 1] = nnz;
                        none[b + 1] = 0;
                }
                /* the head without its tag input still has a tag tower beside it */
                HeadBatch batch = {.n = bn, .x = x, .tag_offsets = m->use_tags ? offs : none, .tags = tags};
                r = head_forward(h, &batch, z, hid);
                if (r < 0)
                        return r;
                if (m->knn && m->combine.w_knn != 0 &&
                    (r = knn_scores(m->knn, features + i * m->dim, bn, zk)) < 0)
                        return r;
                for (uint32_t b = 0; b < bn; b++) {
                        /* the tag tower sees every known tag, even when the head's are off */
                        double zt = model_tag_logit(m, tags + offs[b], offs[b + 1] - offs[b]);
                        /* the cross-fitted CNN's logit is the post's one feature, as it is */
                        double zc = m->combine.w_cnn != 0 ? features[(i + b) * m->dim] : 0;
                        out_prob[i + b] = (float)model_combine_prob(m, zt, z[b], zk[b], zc);
                        if (explain)
                                explain_post(m, x + (size_t)b * m->dim, tags + offs[b],
                                             offs[b + 1] - offs[b], hid + (size_t)b * m->hidden, z[b], zt,
                                             zk[b], zc, gw, g, explain + i + b);
                }
        }
        return 0;
}

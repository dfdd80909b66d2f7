/* SPDX-License-Identifier: MIT */
#include <math.h>

#include "head.h"
#include "model.h"

#define PREDICT_BATCH 256u

/* Per post: g = ∂logit/∂t = W1t · (1[h > 0] ⊙ w2); tag s's push is E[s]·g / |S|,
 * its share of the tag tower's first-order contribution to the logit. With
 * a combination (ModelCombine) the push is on the calibrated logit:
 * a·(w_head·head push + w_tags·tag_lr[s]) with Platt's slope a (1 for
 * isotonic calibration, which has no single slope), exact for the tag tower's part. */
static void tag_pushes(const Model *m, const float *hid, const uint32_t *tags, uint32_t n_tags, float *g,
                       ModelTagPush *out, size_t k)
{
        for (size_t i = 0; i < k; i++)
                out[i] = (ModelTagPush){.tag = UINT32_MAX, .push = 0};
        if (n_tags == 0 || k == 0 || (!m->use_tags && !m->tag_lr))
                return;
        for (uint32_t j = 0; j < m->tag_dim; j++) {
                double s = 0;
                for (uint32_t q = 0; q < m->hidden; q++)
                        if (hid[q] > 0)
                                s += (double)m->w1t[(size_t)j * m->hidden + q] * m->w2[q];
                g[j] = (float)s;
        }
        for (uint32_t a = 0; a < n_tags; a++) {
                const float *e = m->emb + (size_t)tags[a] * m->tag_dim;
                double p = 0;
                for (uint32_t j = 0; j < m->tag_dim; j++)
                        p += (double)e[j] * g[j];
                double push = m->use_tags ? p / n_tags : 0;
                if (!isempty(m->combine.kind))
                        push *= m->head_a;
                if (!isempty(m->combine.kind))
                        push = (streq(m->combine.cal.method, "platt") ? m->combine.cal.a : 1.0) *
                               (m->combine.w_head * push +
                                (m->tag_lr ? m->combine.w_tags * m->tag_lr[tags[a]] : 0));
                ModelTagPush cur = {.tag = tags[a], .push = (float)push};
                /* insertion into the k largest |push| */
                for (size_t i = 0; i < k; i++) {
                        if (out[i].tag == UINT32_MAX || fabsf(cur.push) > fabsf(out[i].push)) {
                                ModelTagPush t = out[i];
                                out[i] = cur;
                                cur = t;
                                if (cur.tag == UINT32_MAX)
                                        break;
                        }
                }
        }
}

int model_predict(const Model *m, VkEngine *engine, const float *features, const uint32_t *tag_offsets,
                  const uint32_t *tag_ids, size_t n, float *out_prob, ModelTagPush *pushes, size_t k)
{
        _cleanup_(head_freep) Head *h = NULL;
        _cleanup_free_ float *x = NULL, *z = NULL, *hid = NULL, *g = NULL;
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
        hid = pushes ? malloc((size_t)PREDICT_BATCH * m->hidden * sizeof(float)) : NULL;
        g = malloc(m->tag_dim * sizeof(float));
        offs = malloc((PREDICT_BATCH + 1) * sizeof(uint32_t));
        none = malloc((PREDICT_BATCH + 1) * sizeof(uint32_t));
        tags = malloc(MAX(max_nnz, 1) * sizeof(uint32_t));
        if (!x || !z || (pushes && !hid) || !g || !offs || !none || !tags)
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
                for (uint32_t b = 0; b < bn; b++) {
                        /* the tag tower sees every known tag, even when the head's are off */
                        double zt = model_tag_logit(m, tags + offs[b], offs[b + 1] - offs[b]);
                        out_prob[i + b] = (float)model_combine_prob(m, zt, z[b]);
                        if (pushes)
                                tag_pushes(m, hid + (size_t)b * m->hidden, tags + offs[b],
                                           offs[b + 1] - offs[b], g, pushes + (i + b) * k, k);
                }
        }
        return 0;
}

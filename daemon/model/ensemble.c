/* SPDX-License-Identifier: MIT */
#include "ensemble.h"

/* Member k's hidden units and tag dimensions become block k of the wider
 * layer; w1_tags is block diagonal, so member k's tags feed only its own
 * units, and w2/b2 divided by n make the logit the members' mean. The file
 * format and the predictor need nothing new. */
int model_ensemble(Model *const *members, size_t n, Model **ret)
{
        _cleanup_(model_freep) Model *e = NULL;
        int r;

        if (n == 0)
                return -EINVAL;
        const Model *a = members[0];
        for (size_t k = 1; k < n; k++)
                if (members[k]->dim != a->dim || members[k]->vocab != a->vocab ||
                    members[k]->tag_dim != a->tag_dim || members[k]->hidden != a->hidden)
                        return -EINVAL;
        if ((size_t)a->hidden * n > 4096 || (size_t)a->tag_dim * n > 1024)
                return -E2BIG;
        uint32_t H = a->hidden, T = a->tag_dim, EH = H * (uint32_t)n, ET = T * (uint32_t)n;
        r = model_new(a->dim, a->vocab, ET, EH, &e);
        if (r < 0)
                return r;
        memcpy(e->sets, a->sets, sizeof(a->sets));
        e->n_sets = a->n_sets;
        e->set_mask = a->set_mask;
        e->use_tags = a->use_tags;
        memcpy(e->mean, a->mean, a->dim * sizeof(float));
        memcpy(e->inv_std, a->inv_std, a->dim * sizeof(float));
        e->b2[0] = 0;
        for (size_t k = 0; k < n; k++) {
                const Model *m = members[k];
                size_t ho = k * H, to = k * T;
                for (uint32_t i = 0; i < m->dim; i++)
                        memcpy(e->w1x + (size_t)i * EH + ho, m->w1x + (size_t)i * H, H * sizeof(float));
                for (uint32_t i = 0; i < T; i++)
                        memcpy(e->w1t + (to + i) * EH + ho, m->w1t + (size_t)i * H, H * sizeof(float));
                for (uint32_t v = 0; v < m->vocab; v++)
                        memcpy(e->emb + (size_t)v * ET + to, m->emb + (size_t)v * T, T * sizeof(float));
                for (uint32_t j = 0; j < H; j++) {
                        e->b1[ho + j] = m->b1[j];
                        e->w2[ho + j] = m->w2[j] / (float)n;
                }
                e->b2[0] += m->b2[0] / (float)n;
        }
        *ret = TAKE_PTR(e);
        return 0;
}

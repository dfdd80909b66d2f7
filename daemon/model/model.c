/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdarg.h>

#include "cnn.h"
#include "model.h"
#include "model-internal.h"

static const char *const stage_names[_MODEL_STAGE_MAX] = {
        [MODEL_STAGE_PREPARE] = "prepare",
        [MODEL_STAGE_HEAD] = "head",
        [MODEL_STAGE_SELECT] = "feature-sets",
        [MODEL_STAGE_ENSEMBLE] = "ensemble",
        [MODEL_STAGE_FINETUNE] = "fine-tuning",
        [MODEL_STAGE_FINISH] = "finish",
        [MODEL_STAGE_CNN] = "cnn",
};

const char *model_stage_to_string(ModelStage s)
{
        return s >= 0 && s < _MODEL_STAGE_MAX ? stage_names[s] : NULL;
}

int model_new(uint32_t dim, uint32_t vocab, uint32_t tag_dim, uint32_t hidden, Model **ret)
{
        _cleanup_(model_freep) Model *m = NULL;

        if (dim == 0 || dim > MODEL_DIM_MAX || vocab == 0 || vocab > MODEL_VOCAB_MAX || tag_dim == 0 ||
            tag_dim > 1024 || hidden == 0 || hidden > 4096)
                return -EINVAL;
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->dim = dim;
        m->vocab = vocab;
        m->tag_dim = tag_dim;
        m->hidden = hidden;
        m->use_tags = true;
        m->threshold = 0.5;
        m->head_a = 1;
        m->n_sets = 1;
        m->sets[0] = (ModelFeatureSet){.name = "features", .offset = 0, .dim = dim};
        m->set_mask = 1;
        m->mean = calloc(dim, sizeof(float));
        m->inv_std = calloc(dim, sizeof(float));
        m->w1x = calloc((size_t)dim * hidden, sizeof(float));
        m->w1t = calloc((size_t)tag_dim * hidden, sizeof(float));
        m->b1 = calloc(hidden, sizeof(float));
        m->w2 = calloc(hidden, sizeof(float));
        m->b2 = calloc(1, sizeof(float));
        m->emb = calloc((size_t)vocab * tag_dim, sizeof(float));
        if (!m->mean || !m->inv_std || !m->w1x || !m->w1t || !m->b1 || !m->w2 || !m->b2 || !m->emb)
                return -ENOMEM;
        *ret = TAKE_PTR(m);
        return 0;
}

double model_like_threshold(const Model *m, double configured)
{
        return m->combine.kind[0] && !isempty(m->combine.cal.method) ? configured : m->threshold;
}

Model *model_free(Model *m)
{
        if (!m)
                return NULL;
        free(m->mean);
        free(m->inv_std);
        free(m->w1x);
        free(m->w1t);
        free(m->b1);
        free(m->w2);
        free(m->b2);
        free(m->emb);
        free(m->vocabulary);
        free(m->backbone);
        model_cnn_free(m->cnn);
        model_cnn_free(m->cnn_b);
        free(m->created);
        free(m->fluff_version);
        model_tail_free(m->tail);
        free(m->tag_lr);
        knn_free(m->knn);
        free(m);
        return NULL;
}

int model_set_string(char **field, const char *s)
{
        char *c = NULL;

        if (s) {
                c = strdup(s);
                if (!c)
                        return -ENOMEM;
        }
        free(*field);
        *field = c;
        return 0;
}

void model_standardise(const Model *m, const float *in, float *out, size_t n)
{
        for (size_t i = 0; i < n; i++)
                for (uint32_t j = 0; j < m->dim; j++) {
                        size_t k = i * m->dim + j;
                        out[k] = (in[k] - m->mean[j]) * m->inv_std[j];
                }
}

int model_tail_new(const char *set, const char *node, uint32_t hw, uint32_t cin, uint32_t cout,
                   ModelTail **ret)
{
        _cleanup_(model_tail_freep) ModelTail *t = NULL;

        if (isempty(set) || isempty(node) || strlen(set) >= MODEL_FEATURE_SET_NAME_MAX ||
            strlen(node) >= MODEL_FEATURE_SET_NAME_MAX || hw == 0 || hw > 4096 || cin == 0 || cin > 4096 ||
            cout == 0 || cout > 4096)
                return -EINVAL;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        strcpy(t->set, set);
        strcpy(t->node, node);
        t->hw = hw;
        t->cin = cin;
        t->cout = cout;
        t->auc_head = t->auc_tuned = NAN;
        t->weight = calloc((size_t)cin * cout, sizeof(float));
        t->bias = calloc(cout, sizeof(float));
        if (!t->weight || !t->bias)
                return -ENOMEM;
        *ret = TAKE_PTR(t);
        return 0;
}

ModelTail *model_tail_free(ModelTail *t)
{
        if (!t)
                return NULL;
        free(t->weight);
        free(t->bias);
        free(t);
        return NULL;
}

int model_tail_set(const Model *m)
{
        if (!m->tail)
                return -ENOENT;
        for (size_t s = 0; s < m->n_sets; s++)
                if (streq(m->sets[s].name, m->tail->set))
                        return m->sets[s].dim == 2 * m->tail->cout ? (int)s : -EBADMSG;
        return -EBADMSG;
}

const char *model_towers(const Model *m)
{
        /* the head counts only when the combination weighs it */
        bool head = isempty(m->combine.kind) || m->combine.w_head != 0;
        bool tags = (head && m->use_tags) || (m->tag_lr && m->combine.w_tags != 0);
        /* the cross-fitted CNN's logit may enter the combination directly */
        if ((!head || m->set_mask == 0) && m->combine.w_cnn == 0)
                return "tags";
        return tags ? "both" : "image";
}

double model_tag_logit(const Model *m, const uint32_t *tags, size_t n_tags)
{
        double z = m->tag_lr_bias;
        if (!m->tag_lr)
                return 0;
        for (size_t i = 0; i < n_tags; i++)
                if (tags[i] < m->vocab)
                        z += m->tag_lr[tags[i]];
        return z;
}

double model_combine_prob(const Model *m, double z_tags, double z_head, double z_knn, double z_cnn)
{
        const ModelCombine *c = &m->combine;
        if (isempty(c->kind))
                return z_head >= 0 ? 1 / (1 + exp(-z_head)) : exp(z_head) / (1 + exp(z_head));
        z_head = m->head_a * z_head + m->head_b;
        return quality_calibrator_apply(&c->cal, c->bias + c->w_tags * z_tags + c->w_head * z_head +
                                                         c->w_knn * z_knn + c->w_cnn * z_cnn);
}

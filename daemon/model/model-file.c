/* SPDX-License-Identifier: MIT */
/* The model file in the safetensors layout: an 8-byte little-endian header
 * length, a JSON header naming each tensor's dtype, shape and byte range in
 * the data that follows, and "__metadata__" with string values only. Other
 * tools (Python's safetensors) can read it; we read only what we wrote. */
#include <json-c/json.h>
#include <math.h>

#include "cnn.h"
#include "model.h"

#define MODEL_FILE_FORMAT "fluff-head-1"

typedef struct TensorDesc {
        const char *name;
        float *data;
        uint32_t rows, cols; /* cols 0: one-dimensional */
} TensorDesc;

static size_t describe(const Model *m, TensorDesc d[15])
{
        size_t n = 0;
        d[n++] = (TensorDesc){"feature_mean", m->mean, m->dim, 0};
        d[n++] = (TensorDesc){"feature_inv_std", m->inv_std, m->dim, 0};
        d[n++] = (TensorDesc){"w1_features", m->w1x, m->dim, m->hidden};
        d[n++] = (TensorDesc){"w1_tags", m->w1t, m->tag_dim, m->hidden};
        d[n++] = (TensorDesc){"b1", m->b1, m->hidden, 0};
        d[n++] = (TensorDesc){"w2", m->w2, m->hidden, 1};
        d[n++] = (TensorDesc){"b2", m->b2, 1, 0};
        d[n++] = (TensorDesc){"tag_embedding", m->emb, m->vocab, m->tag_dim};
        if (m->tail) {
                d[n++] = (TensorDesc){"finetune.weight", m->tail->weight, m->tail->cin, m->tail->cout};
                d[n++] = (TensorDesc){"finetune.bias", m->tail->bias, m->tail->cout, 0};
        }
        if (m->tag_lr)
                d[n++] = (TensorDesc){"tag_logreg", m->tag_lr, m->vocab, 0};
        if (m->knn) {
                d[n++] = (TensorDesc){"knn_mean", m->knn->mean, m->knn->dim, 0};
                d[n++] = (TensorDesc){"knn_inv_std", m->knn->inv_std, m->knn->dim, 0};
                d[n++] = (TensorDesc){"knn_ref", m->knn->ref, m->knn->n, KNN_PROJ_DIM};
                d[n++] = (TensorDesc){"knn_label", m->knn->label, m->knn->n, 0};
        }
        return n;
}

static size_t desc_count(const TensorDesc *t)
{
        return (size_t)t->rows * (t->cols ? t->cols : 1);
}

static int add_string(json_object *o, const char *key, const char *value)
{
        json_object *s = json_object_new_string(value ? value : "");
        if (!s || json_object_object_add(o, key, s) < 0) {
                json_object_put(s);
                return -ENOMEM;
        }
        return 0;
}

static int add_json_string(json_object *o, const char *key, json_object *value)
{
        /* safetensors metadata values are strings: nested JSON is serialised */
        const char *s = value ? json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN) : NULL;
        int r = s ? add_string(o, key, s) : -ENOMEM;
        json_object_put(value);
        return r;
}

static json_object *metrics_to_json(const Model *m)
{
        json_object *o = json_object_new_object();
        const ModelMetrics *x = &m->metrics;
        if (!o)
                return NULL;
        const struct {
                const char *k;
                double v;
        } f[] = {{"roc_auc", x->roc_auc},
                 {"accuracy", x->accuracy},
                 {"balanced_accuracy", x->balanced_accuracy},
                 {"precision_at_10", x->precision_at_10},
                 {"precision_at_50", x->precision_at_50},
                 {"threshold", x->threshold}};
        for (size_t i = 0; i < ELEMENTSOF(f); i++)
                json_object_object_add(o, f[i].k, isfinite(f[i].v) ? json_object_new_double(f[i].v) : NULL);
        json_object_object_add(o, "n_pos", json_object_new_int64(x->n_pos));
        json_object_object_add(o, "n_neg", json_object_new_int64(x->n_neg));
        json_object_object_add(o, "n_train", json_object_new_int64(m->n_train));
        return o;
}

/* described: for `status`, where a set the combination weighs directly
 * (the cross-fitted CNN's logit) counts as used; the file keeps the head's
 * own mask. */
static json_object *sets_to_json(const Model *m, bool described)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < m->n_sets; i++) {
                json_object *s = json_object_new_object();
                if (!s)
                        break;
                json_object_object_add(s, "name", json_object_new_string(m->sets[i].name));
                json_object_object_add(s, "offset", json_object_new_int64(m->sets[i].offset));
                json_object_object_add(s, "dim", json_object_new_int64(m->sets[i].dim));
                bool used = (m->set_mask & (1u << i)) || (described && m->combine.w_cnn != 0);
                json_object_object_add(s, "used", json_object_new_boolean(used));
                json_object_array_add(a, s);
        }
        return a;
}

/* The fine-tuned layer's description and its validation AUC before and after. */
static json_object *tail_to_json(const ModelTail *t)
{
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "set", json_object_new_string(t->set));
        json_object_object_add(o, "node", json_object_new_string(t->node));
        json_object_object_add(o, "hw", json_object_new_int64(t->hw));
        json_object_object_add(o, "cin", json_object_new_int64(t->cin));
        json_object_object_add(o, "cout", json_object_new_int64(t->cout));
        json_object_object_add(o, "auc_head",
                               isfinite(t->auc_head) ? json_object_new_double(t->auc_head) : NULL);
        json_object_object_add(o, "auc_finetuned",
                               isfinite(t->auc_tuned) ? json_object_new_double(t->auc_tuned) : NULL);
        return o;
}

/* The towers' combination and calibration (ModelCombine), and the tag
 * tower's intercept; the tag tower's weights are the tensor "tag_logreg". */
static json_object *combine_to_json(const Model *m)
{
        const ModelCombine *c = &m->combine;
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "kind", json_object_new_string(c->kind));
        json_object_object_add(o, "w_tags", json_object_new_double(c->w_tags));
        json_object_object_add(o, "w_head", json_object_new_double(c->w_head));
        json_object_object_add(o, "bias", json_object_new_double(c->bias));
        if (c->w_cnn != 0)
                json_object_object_add(o, "w_cnn", json_object_new_double(c->w_cnn));
        if (m->knn) {
                /* the similarity input: the projection is rebuilt from the seed */
                json_object_object_add(o, "w_knn", json_object_new_double(c->w_knn));
                json_object_object_add(o, "knn_k", json_object_new_int64(m->knn->k));
                json_object_object_add(o, "knn_seed", json_object_new_int64((int64_t)m->knn->seed));
                json_object_object_add(o, "knn_dim", json_object_new_int64(KNN_PROJ_DIM));
        }
        json_object_object_add(o, "calibration", json_object_new_string(c->cal.method));
        json_object_object_add(o, "cal_a", json_object_new_double(c->cal.a));
        json_object_object_add(o, "cal_b", json_object_new_double(c->cal.b));
        if (streq(c->cal.method, "isotonic")) {
                json_object *x = json_object_new_array(), *y = json_object_new_array();
                for (uint32_t i = 0; i < c->cal.n_knots; i++) {
                        json_object_array_add(x, json_object_new_double(c->cal.knot_x[i]));
                        json_object_array_add(y, json_object_new_double(c->cal.knot_y[i]));
                }
                json_object_object_add(o, "knots_x", x);
                json_object_object_add(o, "knots_y", y);
        }
        json_object_object_add(o, "tag_lr_bias", json_object_new_double(m->tag_lr_bias));
        json_object_object_add(o, "head_a", json_object_new_double(m->head_a));
        json_object_object_add(o, "head_b", json_object_new_double(m->head_b));
        return o;
}

int model_describe_json(const Model *m, char **ret)
{
        json_object *o = json_object_new_object();
        const char *s;
        char *c;

        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "created", m->created ? json_object_new_string(m->created) : NULL);
        json_object_object_add(o, "backbone", m->backbone ? json_object_new_string(m->backbone) : NULL);
        json_object_object_add(o, "fluff_version",
                               m->fluff_version ? json_object_new_string(m->fluff_version) : NULL);
        json_object_object_add(o, "threshold", json_object_new_double(m->threshold));
        json_object_object_add(o, "metrics", metrics_to_json(m));
        json_object_object_add(o, "feature_sets", sets_to_json(m, true));
        json_object_object_add(o, "use_tags", json_object_new_boolean(m->use_tags));
        json_object_object_add(o, "towers", json_object_new_string(model_towers(m)));
        json_object_object_add(o, "features", json_object_new_int64(m->dim));
        json_object_object_add(o, "vocabulary_size", json_object_new_int64(m->vocab));
        json_object_object_add(o, "image_tower", json_object_new_string(model_image_tower(m)));
        if (m->cnn && m->cnn_b && isfinite(m->cnn->val_auc) && isfinite(m->cnn_b->val_auc))
                /* the CNN alone: each network on the half it did not train on */
                json_object_object_add(o, "cnn_val_auc",
                                       json_object_new_double((m->cnn->val_auc + m->cnn_b->val_auc) / 2));
        else if (m->cnn && isfinite(m->cnn->val_auc))
                /* the image-only ablation: the CNN alone on the same validation posts */
                json_object_object_add(o, "cnn_val_auc", json_object_new_double(m->cnn->val_auc));
        json_object_object_add(o, "finetune", m->tail ? tail_to_json(m->tail) : NULL);
        json_object_object_add(o, "combine", isempty(m->combine.kind) ? NULL : combine_to_json(m));
        json_object_object_add(o, "quality", m->quality.version ? model_quality_to_json(&m->quality) : NULL);
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        c = s ? strdup(s) : NULL;
        json_object_put(o);
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

int model_save(const Model *m, const char *path)
{
        TensorDesc d[15 + 2 * CNN_PARAMS_MAX]; /* the head's 8, a fine-tuned tail's 2, the tag tower,
                                                  the similarity's 4, the CNNs' */
        CnnParam cp[CNN_PARAMS_MAX], cpb[CNN_PARAMS_MAX];
        size_t n = describe(m, d), offset = 0;
        for (size_t i = 0, k = m->cnn ? cnn_param_layout(&m->cnn->arch, cp) : 0; i < k; i++)
                d[n++] = (TensorDesc){cp[i].name, m->cnn->params + cp[i].offset, cp[i].rows, cp[i].cols};
        for (size_t i = 0, k = m->cnn && m->cnn_b ? cnn_param_layout(&m->cnn_b->arch, cpb) : 0; i < k; i++) {
                /* the same names under the twin's prefix */
                char name[sizeof(cpb[i].name)];
                snprintf(name, sizeof(name), CNN_B_TENSOR_PREFIX "%s",
                         cpb[i].name + strlen(CNN_TENSOR_PREFIX));
                memcpy(cpb[i].name, name, sizeof(name));
                d[n++] = (TensorDesc){cpb[i].name, m->cnn_b->params + cpb[i].offset, cpb[i].rows,
                                      cpb[i].cols};
        }
        json_object *hdr = json_object_new_object(), *meta = json_object_new_object();
        _cleanup_free_ uint8_t *buf = NULL;
        char num[64];
        int r = -ENOMEM;

        if (!hdr || !meta)
                goto out;
        snprintf(num, sizeof(num), "%.9g", m->threshold);
        if ((r = add_string(meta, "format", MODEL_FILE_FORMAT)) < 0 ||
            (r = add_string(meta, "vocabulary", m->vocabulary)) < 0 ||
            (r = add_string(meta, "threshold", num)) < 0 ||
            (r = add_json_string(meta, "metrics", metrics_to_json(m))) < 0 ||
            (r = add_json_string(meta, "feature_sets", sets_to_json(m, false))) < 0 ||
            (r = add_string(meta, "use_tags", m->use_tags ? "true" : "false")) < 0 ||
            /* Said outright for other readers; the loader derives it from the two above. */
            (r = add_string(meta, "towers", model_towers(m))) < 0 ||
            (r = add_string(meta, "backbone", m->backbone)) < 0 ||
            (r = add_string(meta, "created", m->created)) < 0 ||
            (r = add_string(meta, "fluff_version", m->fluff_version ? m->fluff_version : FLUFF_VERSION)) <
                    0 ||
            (r = model_cnn_save_metadata(m->cnn, m->cnn ? m->cnn_b : NULL, meta)) < 0 ||
            (m->tail && (r = add_json_string(meta, "finetune", tail_to_json(m->tail))) < 0) ||
            (!isempty(m->combine.kind) && (r = add_json_string(meta, "combine", combine_to_json(m))) < 0) ||
            (m->quality.version &&
             (r = add_json_string(meta, "quality", model_quality_to_json(&m->quality))) < 0))
                goto out;
        json_object_object_add(hdr, "__metadata__", meta);
        meta = NULL;
        for (size_t i = 0; i < n; i++) {
                json_object *t = json_object_new_object(), *shape = json_object_new_array(),
                            *offs = json_object_new_array();
                size_t bytes = desc_count(&d[i]) * sizeof(float);
                if (!t || !shape || !offs) {
                        json_object_put(t);
                        json_object_put(shape);
                        json_object_put(offs);
                        r = -ENOMEM;
                        goto out;
                }
                json_object_array_add(shape, json_object_new_int64(d[i].rows));
                if (d[i].cols)
                        json_object_array_add(shape, json_object_new_int64(d[i].cols));
                json_object_array_add(offs, json_object_new_int64((int64_t)offset));
                json_object_array_add(offs, json_object_new_int64((int64_t)(offset + bytes)));
                json_object_object_add(t, "dtype", json_object_new_string("F32"));
                json_object_object_add(t, "shape", shape);
                json_object_object_add(t, "data_offsets", offs);
                json_object_object_add(hdr, d[i].name, t);
                offset += bytes;
        }
        const char *h = json_object_to_json_string_ext(hdr, JSON_C_TO_STRING_PLAIN);
        if (!h)
                goto out;
        /* pad the header with spaces so the data starts 8-byte aligned */
        size_t hlen = (strlen(h) + 7) / 8 * 8, total = 8 + hlen + offset;
        buf = malloc(total);
        if (!buf)
                goto out;
        for (int i = 0; i < 8; i++)
                buf[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
        memset(buf + 8, ' ', hlen);
        memcpy(buf + 8, h, strlen(h));
        uint8_t *p = buf + 8 + hlen;
        for (size_t i = 0; i < n; i++) {
                /* little-endian floats: the host's on every platform we build for */
                memcpy(p, d[i].data, desc_count(&d[i]) * sizeof(float));
                p += desc_count(&d[i]) * sizeof(float);
        }
        r = write_file_atomic(path, buf, total, 0644);
out:
        json_object_put(meta);
        json_object_put(hdr);
        return r;
}

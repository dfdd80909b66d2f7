/* SPDX-License-Identifier: MIT */
/* Reading the model file (see model-file.c): every length, offset, shape and
 * value is checked before it is used, so a truncated, corrupt or hostile file
 * is refused with a reason and never read out of bounds. */
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>

#include "cnn.h"
#include "model.h"

#define MODEL_FILE_FORMAT "fluff-head-1"
#define MODEL_FILE_MAX ((size_t)1 << 31)
#define MODEL_HEADER_MAX ((size_t)64 << 20)

typedef struct Loader {
        const uint8_t *data; /* tensor bytes */
        size_t data_len;
        json_object *hdr;
        Error error; /* what is wrong with the file */
} Loader;

_printf_(2, 3) static int fail(Loader *l, const char *fmt, ...)
{
        char buf[ERROR_MESSAGE_MAX];
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        return error_setf(&l->error, -EBADMSG, "%s", buf);
}

static void json_object_putp(json_object **o)
{
        if (*o)
                json_object_put(*o);
}

static void json_tokener_freep(json_tokener **t)
{
        if (*t)
                json_tokener_free(*t);
}

static int get_u32(json_object *v, uint32_t *ret)
{
        if (!v || !json_object_is_type(v, json_type_int))
                return -EINVAL;
        int64_t x = json_object_get_int64(v);
        if (x < 0 || x > UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t)x;
        return 0;
}

/* Looks a tensor up: F32, the given rank, shape into dims. */
static int tensor_shape(Loader *l, const char *name, unsigned rank, uint32_t dims[2], size_t *ret_begin,
                        size_t *ret_end)
{
        json_object *t, *dt, *shape, *offs;
        uint32_t b, e;

        if (!json_object_object_get_ex(l->hdr, name, &t) || !json_object_is_type(t, json_type_object))
                return fail(l, "tensor \"%s\" is missing", name);
        if (!json_object_object_get_ex(t, "dtype", &dt) || !json_object_is_type(dt, json_type_string) ||
            !streq(json_object_get_string(dt), "F32"))
                return fail(l, "tensor \"%s\" is not F32", name);
        if (!json_object_object_get_ex(t, "shape", &shape) || !json_object_is_type(shape, json_type_array) ||
            json_object_array_length(shape) != rank)
                return fail(l, "tensor \"%s\" does not have rank %u", name, rank);
        for (unsigned i = 0; i < rank; i++)
                if (get_u32(json_object_array_get_idx(shape, i), &dims[i]) < 0 || dims[i] == 0)
                        return fail(l, "tensor \"%s\" has a bad shape", name);
        if (!json_object_object_get_ex(t, "data_offsets", &offs) ||
            !json_object_is_type(offs, json_type_array) || json_object_array_length(offs) != 2 ||
            get_u32(json_object_array_get_idx(offs, 0), &b) < 0 ||
            get_u32(json_object_array_get_idx(offs, 1), &e) < 0 || b > e || e > l->data_len)
                return fail(l, "tensor \"%s\" lies outside the file (truncated?)", name);
        uint64_t count = dims[0] * (uint64_t)(rank > 1 ? dims[1] : 1);
        if ((uint64_t)(e - b) != count * 4)
                return fail(l, "tensor \"%s\": %u bytes for %" PRIu64 " floats", name, e - b, count);
        *ret_begin = b;
        *ret_end = e;
        return 0;
}

static int read_tensor(Loader *l, const char *name, float *dst, uint32_t rows, uint32_t cols)
{
        uint32_t dims[2] = {};
        size_t b, e;
        int r;

        r = tensor_shape(l, name, cols ? 2 : 1, dims, &b, &e);
        if (r < 0)
                return r;
        if (dims[0] != rows || (cols && dims[1] != cols))
                return fail(l, "tensor \"%s\" has a shape inconsistent with the others", name);
        memcpy(dst, l->data + b, e - b);
        for (size_t i = 0; i < (e - b) / 4; i++)
                if (!isfinite(dst[i]))
                        return fail(l, "tensor \"%s\" holds a non-finite value", name);
        return 0;
}

static const char *meta_string(json_object *meta, const char *key)
{
        json_object *v;
        if (!json_object_object_get_ex(meta, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static double json_double(json_object *o, const char *key)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) ||
            !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
                return NAN;
        return json_object_get_double(v);
}

static int parse_sets(Loader *l, Model *m, const char *s)
{
        _cleanup_(json_object_putp) json_object *a = s ? json_tokener_parse(s) : NULL;
        uint32_t next = 0;

        if (!a || !json_object_is_type(a, json_type_array) || json_object_array_length(a) == 0 ||
            json_object_array_length(a) > MODEL_FEATURE_SETS_MAX)
                return fail(l, "the feature-set description is missing or malformed");
        m->n_sets = json_object_array_length(a);
        m->set_mask = 0;
        for (size_t i = 0; i < m->n_sets; i++) {
                json_object *o = json_object_array_get_idx(a, i), *name, *off, *dim, *used;
                if (!json_object_object_get_ex(o, "name", &name) ||
                    !json_object_object_get_ex(o, "offset", &off) ||
                    !json_object_object_get_ex(o, "dim", &dim) ||
                    !json_object_object_get_ex(o, "used", &used) ||
                    !json_object_is_type(name, json_type_string) ||
                    !json_object_is_type(used, json_type_boolean) || json_object_get_string_len(name) == 0 ||
                    json_object_get_string_len(name) >= MODEL_FEATURE_SET_NAME_MAX ||
                    get_u32(off, &m->sets[i].offset) < 0 || get_u32(dim, &m->sets[i].dim) < 0 ||
                    m->sets[i].offset != next || m->sets[i].dim == 0 || m->sets[i].dim > m->dim - next)
                        return fail(l, "feature set %zu is malformed", i);
                strcpy(m->sets[i].name, json_object_get_string(name));
                next += m->sets[i].dim;
                if (json_object_get_boolean(used))
                        m->set_mask |= 1u << i;
        }
        if (next != m->dim)
                return fail(l, "the feature sets do not cover the %u features", m->dim);
        return 0;
}

static int parse_metadata(Loader *l, Model *m)
{
        json_object *meta;
        const char *s;
        double t;
        int r;

        if (!json_object_object_get_ex(l->hdr, "__metadata__", &meta) ||
            !json_object_is_type(meta, json_type_object))
                return fail(l, "the metadata are missing");
        json_object_object_foreach(meta, key, val)
        {
                (void)key;
                if (!json_object_is_type(val, json_type_string))
                        return fail(l, "metadata \"%s\" is not a string", key);
        }
        s = meta_string(meta, "format");
        if (!s || !streq(s, MODEL_FILE_FORMAT))
                return fail(l, "not a Fluff model file of format %s", MODEL_FILE_FORMAT);
        s = meta_string(meta, "threshold");
        if (!s || safe_atod(s, &t) < 0 || !(t >= 0 && t <= 1))
                return fail(l, "the threshold is missing or not a probability");
        m->threshold = t;
        s = meta_string(meta, "use_tags");
        if (!s || (!streq(s, "true") && !streq(s, "false")))
                return fail(l, "use_tags is missing");
        m->use_tags = streq(s, "true");
        r = parse_sets(l, m, meta_string(meta, "feature_sets"));
        if (r < 0)
                return r;

        _cleanup_(json_object_putp) json_object *mt = NULL;
        s = meta_string(meta, "metrics");
        if (s)
                mt = json_tokener_parse(s);
        if (!mt || !json_object_is_type(mt, json_type_object))
                return fail(l, "the metrics are missing or malformed");
        m->metrics.roc_auc = json_double(mt, "roc_auc");
        m->metrics.accuracy = json_double(mt, "accuracy");
        m->metrics.balanced_accuracy = json_double(mt, "balanced_accuracy");
        m->metrics.precision_at_10 = json_double(mt, "precision_at_10");
        m->metrics.precision_at_50 = json_double(mt, "precision_at_50");
        m->metrics.threshold = json_double(mt, "threshold");
        json_object *v;
        if (json_object_object_get_ex(mt, "n_pos", &v))
                (void)get_u32(v, &m->metrics.n_pos);
        if (json_object_object_get_ex(mt, "n_neg", &v))
                (void)get_u32(v, &m->metrics.n_neg);
        if (json_object_object_get_ex(mt, "n_train", &v))
                (void)get_u32(v, &m->n_train);

        const char *keys[] = {"vocabulary", "backbone", "created", "fluff_version"};
        char **fields[] = {&m->vocabulary, &m->backbone, &m->created, &m->fluff_version};
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                s = meta_string(meta, keys[i]);
                r = model_set_string(fields[i], isempty(s) ? NULL : s);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The similarity input (knn.h), when the combination weighs it: its k,
 * seed and four tensors; the projection is rebuilt from the seed. */
static int load_knn(Loader *l, Model *m, json_object *o, size_t *ret_tensors, size_t *ret_bytes)
{
        json_object *v;
        uint32_t dims[2] = {};
        size_t b, e;
        int r;

        m->combine.w_knn = json_object_object_get_ex(o, "w_knn", &v) ? json_double(o, "w_knn") : 0;
        if (!isfinite(m->combine.w_knn))
                return fail(l, "the similarity input's weight is not a number");
        if (m->combine.w_knn == 0)
                return 0;
        double k = json_double(o, "knn_k"), seed = json_double(o, "knn_seed"),
               pd = json_double(o, "knn_dim");
        if (!(k >= 1 && k <= 1000 && k == floor(k)) || !(seed >= 0 && seed <= 9007199254740992.0) ||
            pd != KNN_PROJ_DIM)
                return fail(l, "the similarity input's k, seed or projection is malformed");
        if ((r = tensor_shape(l, "knn_ref", 2, dims, &b, &e)) < 0)
                return r;
        if (dims[0] == 0 || dims[1] != KNN_PROJ_DIM)
                return fail(l, "tensor \"knn_ref\" has a shape inconsistent with the others");
        m->knn = calloc(1, sizeof(Knn));
        if (!m->knn)
                return -ENOMEM;
        *m->knn = (Knn){.k = (uint32_t)k, .dim = m->dim, .n = dims[0], .seed = (uint64_t)seed};
        m->knn->mean = malloc(m->dim * sizeof(float));
        m->knn->inv_std = malloc(m->dim * sizeof(float));
        m->knn->ref = malloc((size_t)dims[0] * KNN_PROJ_DIM * sizeof(float));
        m->knn->label = malloc((size_t)dims[0] * sizeof(float));
        if (!m->knn->mean || !m->knn->inv_std || !m->knn->ref || !m->knn->label)
                return -ENOMEM;
        if ((r = read_tensor(l, "knn_mean", m->knn->mean, m->dim, 0)) < 0 ||
            (r = read_tensor(l, "knn_inv_std", m->knn->inv_std, m->dim, 0)) < 0 ||
            (r = read_tensor(l, "knn_ref", m->knn->ref, m->knn->n, KNN_PROJ_DIM)) < 0 ||
            (r = read_tensor(l, "knn_label", m->knn->label, m->knn->n, 0)) < 0)
                return r;
        if ((r = knn_build_projection(m->knn)) < 0)
                return r;
        *ret_tensors = 4;
        *ret_bytes = ((size_t)2 * m->dim + (size_t)m->knn->n * (KNN_PROJ_DIM + 1)) * 4;
        return 0;
}

/* The towers' combination (ModelCombine) and the cross-validated quality,
 * when the file has them (files from before have neither), and the tag
 * tower's tensor, which the combination needs when it weighs tags. */
static int load_combine(Loader *l, Model *m, size_t *ret_tensors, size_t *ret_bytes)
{
        json_object *meta;
        const char *s;
        ModelCombine *c = &m->combine;

        *ret_tensors = *ret_bytes = 0;
        if (!json_object_object_get_ex(l->hdr, "__metadata__", &meta))
                return 0;
        if ((s = meta_string(meta, "quality"))) {
                _cleanup_(json_object_putp) json_object *q = json_tokener_parse(s);
                if (model_quality_from_json(q, &m->quality) < 0)
                        return fail(l, "the quality metrics are malformed");
        }
        if (!(s = meta_string(meta, "combine")))
                return 0;
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(s);
        json_object *k;
        if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "kind", &k) ||
            !json_object_is_type(k, json_type_string) ||
            (!streq(json_object_get_string(k), "tags") && !streq(json_object_get_string(k), "head") &&
             !streq(json_object_get_string(k), "stack")))
                return fail(l, "the towers' combination is malformed");
        snprintf(c->kind, sizeof(c->kind), "%s", json_object_get_string(k));
        c->w_tags = json_double(o, "w_tags");
        c->w_head = json_double(o, "w_head");
        c->bias = json_double(o, "bias");
        c->w_cnn = json_object_object_get_ex(o, "w_cnn", &k) ? json_double(o, "w_cnn") : 0;
        c->cal.a = json_double(o, "cal_a");
        c->cal.b = json_double(o, "cal_b");
        m->tag_lr_bias = json_double(o, "tag_lr_bias");
        m->head_a = json_double(o, "head_a");
        m->head_b = json_double(o, "head_b");
        if (!(m->head_a > 0) || !isfinite(m->head_a) || !isfinite(m->head_b))
                return fail(l, "the head's scale is missing or not positive");
        if (!isfinite(c->w_tags) || !isfinite(c->w_head) || !isfinite(c->bias) || !isfinite(c->w_cnn) ||
            !isfinite(c->cal.a) || !isfinite(c->cal.b) || !isfinite(m->tag_lr_bias))
                return fail(l, "the towers' combination holds a missing or non-finite number");
        json_object *cm, *kx, *ky;
        if (!json_object_object_get_ex(o, "calibration", &cm) || !json_object_is_type(cm, json_type_string))
                return fail(l, "the calibration method is missing");
        snprintf(c->cal.method, sizeof(c->cal.method), "%s", json_object_get_string(cm));
        if (streq(c->cal.method, "isotonic")) {
                size_t nk;
                if (!json_object_object_get_ex(o, "knots_x", &kx) ||
                    !json_object_object_get_ex(o, "knots_y", &ky) ||
                    !json_object_is_type(kx, json_type_array) || !json_object_is_type(ky, json_type_array) ||
                    (nk = json_object_array_length(kx)) != json_object_array_length(ky) || nk == 0 ||
                    nk > QUALITY_KNOTS_MAX)
                        return fail(l, "the isotonic calibration's knots are malformed");
                c->cal.n_knots = (uint32_t)nk;
                for (size_t i = 0; i < nk; i++) {
                        double x = json_object_get_double(json_object_array_get_idx(kx, i)),
                               y = json_object_get_double(json_object_array_get_idx(ky, i));
                        if (!isfinite(x) || !(y >= 0 && y <= 1) ||
                            (i > 0 && (x < c->cal.knot_x[i - 1] || y < c->cal.knot_y[i - 1])))
                                return fail(l, "the isotonic calibration is not monotone");
                        c->cal.knot_x[i] = (float)x;
                        c->cal.knot_y[i] = (float)y;
                }
        } else if (!streq(c->cal.method, "platt"))
                return fail(l, "unknown calibration \"%s\"", c->cal.method);
        int r = load_knn(l, m, o, ret_tensors, ret_bytes);
        if (r < 0)
                return r;
        json_object *t;
        if (!json_object_object_get_ex(l->hdr, "tag_logreg", &t)) {
                if (c->w_tags != 0)
                        return fail(l, "the combination weighs the tag tower, which is missing");
                return 0;
        }
        m->tag_lr = calloc(m->vocab, sizeof(float));
        if (!m->tag_lr)
                return -ENOMEM;
        r = read_tensor(l, "tag_logreg", m->tag_lr, m->vocab, 0);
        if (r < 0)
                return r;
        *ret_tensors += 1;
        *ret_bytes += (size_t)m->vocab * 4;
        return 0;
}

/* The fine-tuned layer, when the file has one: its metadata and two tensors. */
static int load_tail(Loader *l, Model *m, size_t *ret_tensors, size_t *ret_bytes)
{
        json_object *meta, *o, *v;
        uint32_t hw = 0, cin = 0, cout = 0;
        const char *s;
        int r;

        *ret_tensors = *ret_bytes = 0;
        if (!json_object_object_get_ex(l->hdr, "__metadata__", &meta) ||
            !(s = meta_string(meta, "finetune")))
                return 0;
        _cleanup_(json_object_putp) json_object *t = json_tokener_parse(s);
        if (!t || !json_object_is_type(t, json_type_object) || !json_object_object_get_ex(t, "set", &o) ||
            !json_object_object_get_ex(t, "node", &v) || !json_object_is_type(o, json_type_string) ||
            !json_object_is_type(v, json_type_string))
                return fail(l, "the fine-tuned layer's description is malformed");
        json_object *h, *ci, *co;
        if (!json_object_object_get_ex(t, "hw", &h) || !json_object_object_get_ex(t, "cin", &ci) ||
            !json_object_object_get_ex(t, "cout", &co) || get_u32(h, &hw) < 0 || get_u32(ci, &cin) < 0 ||
            get_u32(co, &cout) < 0)
                return fail(l, "the fine-tuned layer's shape is malformed");
        r = model_tail_new(json_object_get_string(o), json_object_get_string(v), hw, cin, cout, &m->tail);
        if (r == -EINVAL)
                return fail(l, "the fine-tuned layer's shape or names are out of range");
        if (r < 0)
                return r;
        m->tail->auc_head = json_double(t, "auc_head");
        m->tail->auc_tuned = json_double(t, "auc_finetuned");
        if ((r = read_tensor(l, "finetune.weight", m->tail->weight, cin, cout)) < 0 ||
            (r = read_tensor(l, "finetune.bias", m->tail->bias, cout, 0)) < 0)
                return r;
        *ret_tensors = 2;
        *ret_bytes = ((size_t)cin * cout + cout) * 4;
        return 0;
}

static int load(Loader *l, const uint8_t *data, size_t size, Model **ret)
{
        _cleanup_(model_freep) Model *m = NULL;
        _cleanup_free_ char *h = NULL;
        uint64_t hlen = 0;
        uint32_t d1[2], d2[2], d3[2], d4[2];
        size_t b, e;
        int r;

        if (size < 8)
                return fail(l, "the file is shorter than its header length (truncated?)");
        for (int i = 0; i < 8; i++)
                hlen |= (uint64_t)data[i] << (8 * i);
        if (hlen < 2 || hlen > size - 8 || hlen > MODEL_HEADER_MAX)
                return fail(l,
                            "the header length %" PRIu64 " does not fit the file of %zu bytes (truncated?)",
                            hlen, size);
        h = strndup((const char *)data + 8, hlen);
        if (!h)
                return -ENOMEM;
        if (strlen(h) != hlen)
                return fail(l, "the header holds a NUL byte");
        _cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        l->hdr = json_tokener_parse_ex(tok, h, (int)hlen);
        if (!l->hdr || json_tokener_get_error(tok) != json_tokener_success ||
            !json_object_is_type(l->hdr, json_type_object))
                return fail(l, "the header is not a JSON object");
        for (size_t i = json_tokener_get_parse_end(tok); i < hlen; i++)
                if (h[i] != ' ')
                        return fail(l, "trailing bytes after the header");
        l->data = data + 8 + hlen;
        l->data_len = size - 8 - hlen;

        /* shapes: D from feature_mean, H from b1, T from w1_tags, V from tag_embedding */
        if ((r = tensor_shape(l, "feature_mean", 1, d1, &b, &e)) < 0 ||
            (r = tensor_shape(l, "b1", 1, d2, &b, &e)) < 0 ||
            (r = tensor_shape(l, "w1_tags", 2, d3, &b, &e)) < 0 ||
            (r = tensor_shape(l, "tag_embedding", 2, d4, &b, &e)) < 0)
                return r;
        r = model_new(d1[0], d4[0], d3[0], d2[0], &m);
        if (r == -EINVAL)
                return fail(l, "the tensor shapes are out of range");
        if (r < 0)
                return r;
        if ((r = read_tensor(l, "feature_mean", m->mean, m->dim, 0)) < 0 ||
            (r = read_tensor(l, "feature_inv_std", m->inv_std, m->dim, 0)) < 0 ||
            (r = read_tensor(l, "w1_features", m->w1x, m->dim, m->hidden)) < 0 ||
            (r = read_tensor(l, "w1_tags", m->w1t, m->tag_dim, m->hidden)) < 0 ||
            (r = read_tensor(l, "b1", m->b1, m->hidden, 0)) < 0 ||
            (r = read_tensor(l, "w2", m->w2, m->hidden, 1)) < 0 ||
            (r = read_tensor(l, "b2", m->b2, 1, 0)) < 0 ||
            (r = read_tensor(l, "tag_embedding", m->emb, m->vocab, m->tag_dim)) < 0)
                return r;

        size_t tail_tensors, tail_bytes, lr_tensors, lr_bytes;
        r = load_tail(l, m, &tail_tensors, &tail_bytes);
        if (r < 0)
                return r;
        r = load_combine(l, m, &lr_tensors, &lr_bytes);
        if (r < 0)
                return r;
        tail_tensors += lr_tensors;
        tail_bytes += lr_bytes;

        /* nothing else, and no two tensors sharing bytes */
        size_t n_tensors = 0, covered = 0;
        json_object_object_foreach(l->hdr, key, val)
        {
                (void)val;
                if (streq(key, "__metadata__") ||
                    strncmp(key, CNN_TENSOR_PREFIX, strlen(CNN_TENSOR_PREFIX)) == 0 ||
                    strncmp(key, CNN_B_TENSOR_PREFIX, strlen(CNN_B_TENSOR_PREFIX)) == 0)
                        continue;
                n_tensors++;
        }
        if (n_tensors != 8 + tail_tensors)
                return fail(l, "the file holds %zu tensors, expected %zu", n_tensors, 8 + tail_tensors);
        covered = ((size_t)2 * m->dim + (size_t)m->dim * m->hidden + (size_t)m->tag_dim * m->hidden +
                   2 * (size_t)m->hidden + 1 + (size_t)m->vocab * m->tag_dim) *
                          4 +
                  tail_bytes;
        size_t cnn_bytes;
        r = model_cnn_load(l->hdr, l->data, l->data_len, m->dim, &m->cnn, &m->cnn_b, &cnn_bytes, &l->error);
        if (r < 0)
                return r;
        covered += cnn_bytes;
        if (m->combine.w_cnn != 0 && !m->cnn_b)
                return fail(l, "the combination weighs a cross-fitted CNN the file does not hold");
        if (covered != l->data_len)
                return fail(l, "the tensors cover %zu bytes of %zu (overlapping or trailing data)", covered,
                            l->data_len);
        r = parse_metadata(l, m);
        if (r < 0)
                return r;
        if (m->tail && model_tail_set(m) < 0)
                return fail(l,
                            "the fine-tuned layer computes \"%s\", which is not a feature set of %u floats",
                            m->tail->set, 2 * m->tail->cout);
        *ret = TAKE_PTR(m);
        return 0;
}

int model_load_from_memory(const uint8_t *data, size_t size, Model **ret, Error *error)
{
        Loader l = {};
        int r;

        r = load(&l, data, size, ret);
        if (l.hdr)
                json_object_put(l.hdr);
        if (r == -EBADMSG) {
                log_debug("Refusing model file: %s", error_is_set(&l.error) ? l.error.message : "corrupt");
                if (error_is_set(&l.error))
                        (void)error_setf(error, r, "%s", l.error.message);
        }
        return r;
}

int model_load(const char *path, Model **ret, Error *error)
{
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        r = read_file_full(path, MODEL_FILE_MAX, &data, &size);
        if (r < 0)
                return r;
        return model_load_from_memory((const uint8_t *)data, size, ret, error);
}

/* SPDX-License-Identifier: MIT */
/* The small CNN in the model file (model-file.c, model-load.c): tensors named
 * cnn.* beside the head's, the architecture in the metadata "cnn", its
 * cross-fitted twin's under cnn_b.* and "cnn_b" (cnn.h), and "image_tower"
 * saying what produced the image features. */
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>

#include "cnn.h"

static int save_one(const ModelCnn *c, const char *key, json_object *meta)
{
        json_object *o, *ch, *s;
        const char *str;

        if (!c)
                return 0;
        o = json_object_new_object();
        ch = json_object_new_array();
        if (!o || !ch) {
                json_object_put(o);
                json_object_put(ch);
                return -ENOMEM;
        }
        for (unsigned l = 0; l < c->arch.n_layers; l++)
                json_object_array_add(ch, json_object_new_int64(c->arch.channels[l]));
        json_object_object_add(o, "input", json_object_new_int64(c->arch.input));
        json_object_object_add(o, "stored", json_object_new_int64(c->arch.stored));
        json_object_object_add(o, "channels", ch);
        if (isfinite(c->val_auc))
                json_object_object_add(o, "val_auc", json_object_new_double(c->val_auc));
        str = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        s = str ? json_object_new_string(str) : NULL;
        json_object_put(o);
        if (!s)
                return -ENOMEM;
        json_object_object_add(meta, key, s);
        return 0;
}

int model_cnn_save_metadata(const ModelCnn *c, const ModelCnn *c_b, json_object *meta)
{
        json_object *s;
        int r;

        if (!c)
                return 0;
        if ((r = save_one(c, "cnn", meta)) < 0 || (c_b && (r = save_one(c_b, CNN_B_METADATA, meta)) < 0))
                return r;
        s = json_object_new_string(CNN_IMAGE_TOWER);
        if (!s)
                return -ENOMEM;
        json_object_object_add(meta, "image_tower", s);
        return 0;
}

_printf_(2, 3) static int fail(Error *error, const char *fmt, ...)
{
        char buf[ERROR_MESSAGE_MAX];
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        return error_setf(error, -EBADMSG, "%s", buf);
}

static int get_u32(json_object *o, const char *key, uint32_t max, uint32_t *ret)
{
        json_object *v = key ? NULL : o;
        if (key && !json_object_object_get_ex(o, key, &v))
                return -EINVAL;
        if (!v || !json_object_is_type(v, json_type_int))
                return -EINVAL;
        int64_t x = json_object_get_int64(v);
        if (x < 1 || x > max)
                return -ERANGE;
        *ret = (uint32_t)x;
        return 0;
}

static int parse_arch(json_object *meta, const char *key, CnnArch *a, double *ret_auc, Error *error)
{
        json_object *v, *ch;
        const char *s;

        if (!json_object_object_get_ex(meta, key, &v) || !json_object_is_type(v, json_type_string))
                return fail(error,
                            "the CNN's tensors are there but its description (metadata \"%s\") is not", key);
        s = json_object_get_string(v);
        json_object *o = json_tokener_parse(s);
        int r = 0;
        *a = (CnnArch){};
        if (!o || !json_object_is_type(o, json_type_object) ||
            get_u32(o, "input", CNN_INPUT_MAX, &a->input) < 0 ||
            get_u32(o, "stored", CNN_INPUT_MAX, &a->stored) < 0 ||
            !json_object_object_get_ex(o, "channels", &ch) || !json_object_is_type(ch, json_type_array) ||
            json_object_array_length(ch) == 0 || json_object_array_length(ch) > CNN_LAYERS_MAX)
                r = fail(error, "the CNN's description is malformed");
        else {
                a->n_layers = (uint32_t)json_object_array_length(ch);
                for (unsigned l = 0; r >= 0 && l < a->n_layers; l++)
                        if (get_u32(json_object_array_get_idx(ch, l), NULL, CNN_CHANNELS_MAX,
                                    &a->channels[l]) < 0)
                                r = fail(error, "the CNN's layer %u is malformed", l);
                if (r >= 0 && cnn_arch_check(a) < 0)
                        r = fail(error, "the CNN's architecture is out of range");
                json_object *auc;
                *ret_auc = json_object_object_get_ex(o, "val_auc", &auc) ? json_object_get_double(auc) : NAN;
        }
        json_object_put(o);
        return r;
}

static int read_param(json_object *hdr, const uint8_t *data, size_t data_len, const CnnParam *p, float *dst,
                      Error *error)
{
        /* p->name is already under the network's prefix */
        json_object *t, *dt, *shape, *offs;
        uint32_t dims[2], b, e;
        unsigned rank = p->cols ? 2 : 1;

        if (!json_object_object_get_ex(hdr, p->name, &t) || !json_object_is_type(t, json_type_object))
                return fail(error, "CNN tensor \"%s\" is missing", p->name);
        if (!json_object_object_get_ex(t, "dtype", &dt) || !json_object_is_type(dt, json_type_string) ||
            !streq(json_object_get_string(dt), "F32"))
                return fail(error, "CNN tensor \"%s\" is not F32", p->name);
        if (!json_object_object_get_ex(t, "shape", &shape) || !json_object_is_type(shape, json_type_array) ||
            json_object_array_length(shape) != rank)
                return fail(error, "CNN tensor \"%s\" does not have rank %u", p->name, rank);
        for (unsigned i = 0; i < rank; i++)
                if (get_u32(json_object_array_get_idx(shape, i), NULL, UINT32_MAX, &dims[i]) < 0)
                        return fail(error, "CNN tensor \"%s\" has a bad shape", p->name);
        if (dims[0] != p->rows || (rank == 2 && dims[1] != p->cols))
                return fail(error, "CNN tensor \"%s\" does not match the CNN's description", p->name);
        if (!json_object_object_get_ex(t, "data_offsets", &offs) ||
            !json_object_is_type(offs, json_type_array) || json_object_array_length(offs) != 2 ||
            !json_object_is_type(json_object_array_get_idx(offs, 0), json_type_int) ||
            !json_object_is_type(json_object_array_get_idx(offs, 1), json_type_int))
                return fail(error, "CNN tensor \"%s\" has no byte range", p->name);
        int64_t b64 = json_object_get_int64(json_object_array_get_idx(offs, 0)),
                e64 = json_object_get_int64(json_object_array_get_idx(offs, 1));
        if (b64 < 0 || e64 < b64 || (uint64_t)e64 > data_len)
                return fail(error, "CNN tensor \"%s\" lies outside the file (truncated?)", p->name);
        b = (uint32_t)b64;
        e = (uint32_t)e64;
        if ((size_t)(e - b) != cnn_param_count(p) * 4)
                return fail(error, "CNN tensor \"%s\": %u bytes for %zu floats", p->name, e - b,
                            cnn_param_count(p));
        memcpy(dst, data + b, e - b);
        for (size_t i = 0; i < cnn_param_count(p); i++)
                if (!isfinite(dst[i]))
                        return fail(error, "CNN tensor \"%s\" holds a non-finite value", p->name);
        return 0;
}

static size_t count_prefixed(json_object *hdr, const char *prefix)
{
        size_t n = 0;
        json_object_object_foreach(hdr, key, val)
        {
                (void)val;
                if (strncmp(key, prefix, strlen(prefix)) == 0)
                        n++;
        }
        return n;
}

/* One network: its description under key, its tensors under prefix. */
static int load_one(json_object *hdr, json_object *meta, const uint8_t *data, size_t data_len,
                    const char *key, const char *prefix, size_t n_tensors, ModelCnn **ret, Error *error)
{
        _cleanup_(model_cnn_freep) ModelCnn *c = NULL;
        CnnParam p[CNN_PARAMS_MAX];
        CnnArch a;
        double auc = NAN;
        size_t n;
        int r;

        r = parse_arch(meta, key, &a, &auc, error);
        if (r < 0)
                return r;
        n = cnn_param_layout(&a, p);
        if (n_tensors != n)
                return fail(error, "the file holds %zu CNN tensors named %s*, its description %zu",
                            n_tensors, prefix, n);
        r = model_cnn_new(&a, &c);
        if (r < 0)
                return r;
        c->val_auc = auc;
        for (size_t i = 0; i < n; i++) {
                char name[sizeof(p[i].name)];
                snprintf(name, sizeof(name), "%s%s", prefix, p[i].name + strlen(CNN_TENSOR_PREFIX));
                memcpy(p[i].name, name, sizeof(name));
                r = read_param(hdr, data, data_len, &p[i], c->params + p[i].offset, error);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

int model_cnn_load(json_object *hdr, const uint8_t *data, size_t data_len, uint32_t dim, ModelCnn **ret,
                   ModelCnn **ret_b, size_t *ret_bytes, Error *error)
{
        _cleanup_(model_cnn_freep) ModelCnn *c = NULL, *c_b = NULL;
        json_object *meta = NULL, *v;
        size_t n_a = count_prefixed(hdr, CNN_TENSOR_PREFIX), n_b = count_prefixed(hdr, CNN_B_TENSOR_PREFIX);
        int r;

        (void)json_object_object_get_ex(hdr, "__metadata__", &meta);
        bool has_meta = meta && json_object_is_type(meta, json_type_object);
        bool described = has_meta && json_object_object_get_ex(meta, "cnn", &v),
             described_b = has_meta && json_object_object_get_ex(meta, CNN_B_METADATA, &v);
        if (n_a == 0 && !described) {
                if (n_b > 0 || described_b)
                        return fail(error, "the second CNN is there without the first");
                *ret = *ret_b = NULL;
                *ret_bytes = 0;
                return 0;
        }
        if (!has_meta)
                return fail(error, "the metadata are missing");
        if ((r = load_one(hdr, meta, data, data_len, "cnn", CNN_TENSOR_PREFIX, n_a, &c, error)) < 0)
                return r;
        if (n_b == 0 && !described_b) {
                /* from before the cross-fitting: the head takes the CNN's features */
                if (cnn_feature_dim(&c->arch) != dim)
                        return fail(error, "the CNN gives %u features, the head takes %u",
                                    cnn_feature_dim(&c->arch), dim);
        } else {
                if ((r = load_one(hdr, meta, data, data_len, CNN_B_METADATA, CNN_B_TENSOR_PREFIX, n_b, &c_b,
                                  error)) < 0)
                        return r;
                if (memcmp(&c->arch, &c_b->arch, sizeof(CnnArch)) != 0)
                        return fail(error, "the two cross-fitted CNNs differ in architecture");
                if (dim != CNN_HEAD_DIM)
                        return fail(error, "the cross-fitted CNNs give %u feature, the head takes %u",
                                    CNN_HEAD_DIM, dim);
        }
        *ret_bytes = (c->n_params + (c_b ? c_b->n_params : 0)) * sizeof(float);
        *ret = TAKE_PTR(c);
        *ret_b = TAKE_PTR(c_b);
        return 0;
}

/* SPDX-License-Identifier: MIT */
#include <math.h>

#include "import-weights.h"

void iw_set_done(IwSet *s)
{
        for (size_t i = 0; i < s->n; i++) {
                free(s->t[i].name);
                free(s->t[i].data);
        }
        free(s->t);
        *s = (IwSet){};
}

const IwTensor *iw_find(const IwSet *s, const char *name)
{
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->t[i].name, name))
                        return &s->t[i];
        return NULL;
}

static int get_number(json_object *o, const char *key, double *ret)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) ||
            !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
                return -EBADMSG;
        *ret = json_object_get_double(v);
        return isfinite(*ret) ? 0 : -EBADMSG;
}

static int decode_one(json_object *w, const uint8_t *bytes, size_t size, size_t *off, IwTensor *t, Error *e)
{
        json_object *v, *shape, *q = NULL;
        const char *dtype;
        size_t elem;

        if (!json_object_object_get_ex(w, "name", &v) || !json_object_is_type(v, json_type_string))
                return error_setf(e, -EBADMSG, "A weight in the manifest has no name");
        t->name = strdup(json_object_get_string(v));
        if (!t->name)
                return error_setf(e, -ENOMEM, "Out of memory");
        if (!json_object_object_get_ex(w, "shape", &shape) || !json_object_is_type(shape, json_type_array) ||
            json_object_array_length(shape) > IW_MAX_DIMS)
                return error_setf(e, -EBADMSG, "Weight \"%s\" has a bad shape", t->name);
        t->n_dims = (unsigned)json_object_array_length(shape);
        t->count = 1;
        for (unsigned d = 0; d < t->n_dims; d++) {
                json_object *x = json_object_array_get_idx(shape, d);
                int64_t n = json_object_get_int64(x);
                if (!json_object_is_type(x, json_type_int) || n <= 0 || n > (1 << 24) ||
                    t->count > ((size_t)1 << 28) / (size_t)n)
                        return error_setf(e, -EBADMSG, "Weight \"%s\" has a bad shape", t->name);
                t->dims[d] = (unsigned)n;
                t->count *= (size_t)n;
        }

        (void)json_object_object_get_ex(w, "quantization", &q);
        if (!json_object_object_get_ex(q ? q : w, "dtype", &v) || !json_object_is_type(v, json_type_string))
                return error_setf(e, -EBADMSG, "Weight \"%s\" has no dtype", t->name);
        dtype = json_object_get_string(v);
        if (q && streq(dtype, "uint8"))
                elem = 1;
        else if (q && streq(dtype, "uint16"))
                elem = 2;
        else if (!q && streq(dtype, "float32"))
                elem = 4;
        else
                return error_setf(e, -EOPNOTSUPP, "Weight \"%s\" has an unsupported dtype \"%s\"", t->name,
                                  dtype);

        double min = 0, scale = 1;
        if (q && (get_number(q, "min", &min) < 0 || get_number(q, "scale", &scale) < 0))
                return error_setf(e, -EBADMSG, "Weight \"%s\" has no quantisation min/scale", t->name);

        if (*off > size || t->count * elem > size - *off)
                return error_setf(
                        e, -EBADMSG,
                        "The weight data is too short: weight \"%s\" needs bytes %zu..%zu, the shard "
                        "has %zu",
                        t->name, *off, *off + t->count * elem, size);
        t->data = malloc(t->count * sizeof(float));
        if (!t->data)
                return error_setf(e, -ENOMEM, "Out of memory");
        const uint8_t *p = bytes + *off;
        for (size_t i = 0; i < t->count; i++) {
                if (elem == 1)
                        t->data[i] = (float)(min + scale * p[i]);
                else if (elem == 2)
                        t->data[i] = (float)(min + scale * (double)(p[2 * i] | (p[2 * i + 1] << 8)));
                else {
                        float f;
                        memcpy(&f, p + 4 * i, 4);
                        if (!isfinite(f))
                                return error_setf(e, -EBADMSG, "Weight \"%s\" holds NaN or infinity",
                                                  t->name);
                        t->data[i] = f;
                }
        }
        *off += t->count * elem;
        return 0;
}

int iw_decode(json_object *manifest, const uint8_t *bytes, size_t size, IwSet *ret, Error *e)
{
        IwSet s = {};
        size_t off = 0, total = 0;
        int r = 0;

        if (!json_object_is_type(manifest, json_type_array) || json_object_array_length(manifest) != 1)
                return error_setf(e, -EBADMSG, "The weight manifest must have exactly one group");
        json_object *group = json_object_array_get_idx(manifest, 0), *weights;
        if (!json_object_object_get_ex(group, "weights", &weights) ||
            !json_object_is_type(weights, json_type_array))
                return error_setf(e, -EBADMSG, "The weight manifest has no weights");
        total = json_object_array_length(weights);
        if (total == 0 || total > 4096)
                return error_setf(e, -EBADMSG, "The weight manifest lists %zu weights", total);
        s.t = calloc(total, sizeof(IwTensor));
        if (!s.t)
                return error_setf(e, -ENOMEM, "Out of memory");
        for (s.n = 0; s.n < total && r >= 0; s.n++)
                r = decode_one(json_object_array_get_idx(weights, s.n), bytes, size, &off, &s.t[s.n], e);
        if (r >= 0 && off != size)
                r = error_setf(e, -EBADMSG, "The weight data has %zu bytes, the manifest describes %zu",
                               size, off);
        if (r < 0) {
                iw_set_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

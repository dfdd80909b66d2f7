/* SPDX-License-Identifier: MIT */
#include <endian.h>

#include "safetensors.h"

int st_build(const StTensor *t, size_t n, const char *const *meta, void **ret_buf, size_t *ret_size)
{
        json_object *h = json_object_new_object(), *m = json_object_new_object();
        uint64_t off = 0;
        int r = -ENOMEM;

        if (!h || !m)
                goto fail;
        for (size_t i = 0; meta && meta[i]; i += 2)
                json_object_object_add(m, meta[i], json_object_new_string(meta[i + 1]));
        json_object_object_add(h, "__metadata__", m);
        m = NULL;
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_new_object(), *shape = json_object_new_array(),
                            *offs = json_object_new_array();
                uint64_t count = 1;
                if (!o || !shape || !offs) {
                        json_object_put(o), json_object_put(shape), json_object_put(offs);
                        goto fail;
                }
                for (unsigned d = 0; d < t[i].n_dims; d++) {
                        json_object_array_add(shape, json_object_new_int64((int64_t)t[i].dims[d]));
                        count *= t[i].dims[d];
                }
                json_object_array_add(offs, json_object_new_int64((int64_t)off));
                off += count * sizeof(float);
                json_object_array_add(offs, json_object_new_int64((int64_t)off));
                json_object_object_add(o, "dtype", json_object_new_string("F32"));
                json_object_object_add(o, "shape", shape);
                json_object_object_add(o, "data_offsets", offs);
                json_object_object_add(h, t[i].name, o);
        }

        const char *hs = json_object_to_json_string_ext(h, JSON_C_TO_STRING_PLAIN);
        size_t hlen = strlen(hs), hpad = (hlen + 7) / 8 * 8;
        size_t total = 8 + hpad + (size_t)off;
        uint8_t *buf = malloc(total);
        if (!buf)
                goto fail;
        uint64_t le = htole64(hpad);
        memcpy(buf, &le, 8);
        memcpy(buf + 8, hs, hlen);
        memset(buf + 8 + hlen, ' ', hpad - hlen);
        uint8_t *p = buf + 8 + hpad;
        for (size_t i = 0; i < n; i++) {
                uint64_t count = 1;
                for (unsigned d = 0; d < t[i].n_dims; d++)
                        count *= t[i].dims[d];
                /* safetensors is little-endian; so is every machine Fluff runs on */
                memcpy(p, t[i].data, count * sizeof(float));
                p += count * sizeof(float);
        }
        json_object_put(h);
        *ret_buf = buf;
        *ret_size = total;
        return 0;
fail:
        json_object_put(m);
        json_object_put(h);
        return r;
}

void st_file_done(StFile *f)
{
        free(f->buf);
        json_object_put(f->header);
        *f = (StFile){};
}

int st_parse(char *buf, size_t size, StFile *ret, Error *e)
{
        StFile f = {.buf = buf, .size = size};
        uint64_t hlen;

        if (size < 8) {
                st_file_done(&f);
                return error_setf(e, -EBADMSG, "Weight file is too short");
        }
        memcpy(&hlen, buf, 8);
        hlen = le64toh(hlen);
        if (hlen > ST_MAX_HEADER || hlen > size - 8) {
                st_file_done(&f);
                return error_setf(e, -EBADMSG, "Weight file has a bad header length");
        }
        json_tokener *tok = json_tokener_new();
        if (!tok) {
                st_file_done(&f);
                return -ENOMEM;
        }
        f.header = json_tokener_parse_ex(tok, buf + 8, (int)hlen);
        json_tokener_free(tok);
        if (!f.header || !json_object_is_type(f.header, json_type_object)) {
                st_file_done(&f);
                return error_setf(e, -EBADMSG, "Weight file header is not a JSON object");
        }
        /* our writer pads the header to 8 bytes, so the floats are aligned */
        if ((8 + hlen) % 8 != 0) {
                st_file_done(&f);
                return error_setf(e, -EBADMSG, "Weight file data is not 8-byte aligned");
        }
        f.data = buf + 8 + hlen;
        f.data_size = size - 8 - (size_t)hlen;
        *ret = f;
        return 0;
}

const char *st_meta(const StFile *f, const char *key)
{
        json_object *m, *v;
        if (!json_object_object_get_ex(f->header, "__metadata__", &m) ||
            !json_object_object_get_ex(m, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

int st_tensor(const StFile *f, const char *name, const uint64_t *dims, unsigned n_dims, const float **ret,
              Error *e)
{
        json_object *o, *v;
        uint64_t count = 1;

        if (!json_object_object_get_ex(f->header, name, &o))
                return error_setf(e, -ENOENT, "Weight file has no tensor \"%s\"", name);
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "dtype", &v) ||
            !json_object_is_type(v, json_type_string) || !streq(json_object_get_string(v), "F32"))
                return error_setf(e, -EBADMSG, "Tensor \"%s\" is not F32", name);
        if (!json_object_object_get_ex(o, "shape", &v) || !json_object_is_type(v, json_type_array) ||
            json_object_array_length(v) != n_dims)
                return error_setf(e, -EBADMSG, "Tensor \"%s\" has the wrong rank", name);
        for (unsigned d = 0; d < n_dims; d++) {
                json_object *x = json_object_array_get_idx(v, d);
                if (!json_object_is_type(x, json_type_int) || (uint64_t)json_object_get_int64(x) != dims[d])
                        return error_setf(e, -EBADMSG, "Tensor \"%s\" has the wrong shape", name);
                count *= dims[d];
        }
        if (!json_object_object_get_ex(o, "data_offsets", &v) || !json_object_is_type(v, json_type_array) ||
            json_object_array_length(v) != 2)
                return error_setf(e, -EBADMSG, "Tensor \"%s\" has no data offsets", name);
        json_object *vb = json_object_array_get_idx(v, 0), *ve = json_object_array_get_idx(v, 1);
        int64_t b = json_object_get_int64(vb);
        int64_t en = json_object_get_int64(ve);
        if (!json_object_is_type(vb, json_type_int) || !json_object_is_type(ve, json_type_int) || b < 0 ||
            en < b || (uint64_t)en > f->data_size || (uint64_t)(en - b) != count * sizeof(float) ||
            b % (int64_t)sizeof(float) != 0)
                return error_setf(e, -EBADMSG, "Tensor \"%s\" has bad data offsets", name);
        *ret = (const float *)(const void *)(f->data + b);
        return 0;
}

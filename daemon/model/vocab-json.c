/* SPDX-License-Identifier: MIT */
#include <json-c/json.h>
#include <limits.h>

#include "vocab-internal.h"

#define VOCAB_JSON_VERSION 1
#define VOCAB_JSON_DEPTH 8 /* ours is 5 deep; anything deeper is not ours */

static void json_putp(json_object **o)
{
        if (*o)
                (void)json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_putp)

static void json_tokener_freep(json_tokener **t)
{
        if (*t)
                json_tokener_free(*t);
}

/* Adding hands val to the container; when adding fails, val is dropped here
 * so that a failed build never leaks. A NULL val (its allocation failed) is
 * reported as -ENOMEM. */
static int obj_add(json_object *o, const char *key, json_object *val)
{
        if (!val)
                return -ENOMEM;
        if (json_object_object_add(o, key, val) < 0) {
                (void)json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

static int arr_add(json_object *a, json_object *val)
{
        if (!val)
                return -ENOMEM;
        if (json_object_array_add(a, val) < 0) {
                (void)json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

int vocab_to_json(const Vocab *v, char **ret)
{
        _cleanup_json_ json_object *root = json_object_new_object();
        json_object *cats, *tags = NULL, *counts = NULL;
        const char *s;
        char *copy;
        int r;

        if (!root)
                return -ENOMEM;
        /* each object goes into its parent as soon as it exists, so root owns everything */
        if (obj_add(root, "version", json_object_new_int(VOCAB_JSON_VERSION)) < 0 ||
            obj_add(root, "min_count", json_object_new_int64(v->min_count)) < 0 ||
            obj_add(root, "size", json_object_new_int64((int64_t)v->n)) < 0)
                return -ENOMEM;
        cats = json_object_new_array();
        r = obj_add(root, "categories", cats);
        if (r < 0)
                return r;

        for (size_t i = 0; i < v->n; i++) {
                const VocabEntry *e = &v->entries[i];

                if (i == 0 || !streq(e->key, v->entries[i - 1].key)) {
                        json_object *cat = json_object_new_object();

                        r = arr_add(cats, cat);
                        if (r < 0)
                                return r;
                        r = obj_add(cat, "name", json_object_new_string(e->key));
                        if (r < 0)
                                return r;
                        tags = json_object_new_array();
                        r = obj_add(cat, "tags", tags);
                        if (r < 0)
                                return r;
                        counts = json_object_new_array();
                        r = obj_add(cat, "counts", counts);
                        if (r < 0)
                                return r;
                }
                if (arr_add(tags, json_object_new_string(e->name)) < 0 ||
                    arr_add(counts, json_object_new_int64(e->count)) < 0)
                        return -ENOMEM;
        }

        s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return -ENOMEM;
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

static bool get_int(json_object *o, const char *key, int64_t lo, int64_t hi, int64_t *ret)
{
        json_object *x;
        int64_t v;

        if (!json_object_object_get_ex(o, key, &x) || !json_object_is_type(x, json_type_int))
                return false;
        errno = 0;
        v = json_object_get_int64(x);
        if (errno != 0 || v < lo || v > hi)
                return false;
        *ret = v;
        return true;
}

static json_object *get_array(json_object *o, const char *key)
{
        json_object *x;

        if (!json_object_object_get_ex(o, key, &x) || !json_object_is_type(x, json_type_array))
                return NULL;
        return x;
}

/* A string that is a valid name, with no "\u0000" hidden inside. */
static const char *get_name(json_object *s)
{
        const char *str;

        if (!json_object_is_type(s, json_type_string))
                return NULL;
        str = json_object_get_string(s);
        if (!str || (size_t)json_object_get_string_len(s) != strlen(str) ||
            !vocab_name_is_valid(str, strlen(str)))
                return NULL;
        return str;
}

static void entries_free(VocabEntry *entries, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(entries[i].key);
        free(entries);
}

static int parse_vocab(json_object *root, Vocab **ret)
{
        VocabEntry *entries = NULL;
        json_object *cats;
        const char *prev_category = NULL;
        int64_t version, min_count, size;
        size_t n = 0;
        int r = -EBADMSG;

        if (!json_object_is_type(root, json_type_object) ||
            !get_int(root, "version", VOCAB_JSON_VERSION, VOCAB_JSON_VERSION, &version) ||
            !get_int(root, "min_count", 1, UINT_MAX, &min_count) ||
            !get_int(root, "size", 0, INT64_MAX, &size))
                return -EBADMSG;
        if (size > VOCAB_SIZE_MAX)
                return -E2BIG;
        cats = get_array(root, "categories");
        if (!cats)
                return -EBADMSG;

        entries = malloc(sizeof(VocabEntry) * MAX((size_t)size, (size_t)1));
        if (!entries)
                return -ENOMEM;

        for (size_t c = 0; c < json_object_array_length(cats); c++) {
                json_object *cat = json_object_array_get_idx(cats, c), *name_obj, *tags, *counts;
                const char *category;
                size_t n_tags;

                if (!json_object_is_type(cat, json_type_object) ||
                    !json_object_object_get_ex(cat, "name", &name_obj) || !(category = get_name(name_obj)))
                        goto fail;
                /* each category once, in order: ids would otherwise depend on the writer */
                if (prev_category && strcmp(prev_category, category) >= 0)
                        goto fail;
                prev_category = category;
                tags = get_array(cat, "tags");
                counts = get_array(cat, "counts");
                if (!tags || !counts)
                        goto fail;
                n_tags = json_object_array_length(tags);
                /* an empty category is never written; the size must add up */
                if (n_tags == 0 || n_tags != json_object_array_length(counts) || n_tags > (size_t)size - n)
                        goto fail;

                for (size_t t = 0; t < n_tags; t++) {
                        json_object *cnt = json_object_array_get_idx(counts, t);
                        const char *name = get_name(json_object_array_get_idx(tags, t));
                        int64_t count;

                        if (!name || !json_object_is_type(cnt, json_type_int))
                                goto fail;
                        errno = 0;
                        count = json_object_get_int64(cnt);
                        if (errno != 0 || count < min_count || count > UINT_MAX)
                                goto fail;
                        entries[n].key = vocab_key_new(category, name);
                        if (!entries[n].key) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        entries[n].name = entries[n].key + strlen(category) + 1;
                        entries[n].hash = vocab_hash(category, name);
                        entries[n].count = (unsigned)count;
                        n++;
                        /* ids are positions, so only the canonical order is accepted */
                        if (n > 1 && vocab_entry_cmp(&entries[n - 2], &entries[n - 1]) >= 0)
                                goto fail;
                }
        }
        if (n != (size_t)size)
                goto fail;

        r = vocab_new_from_entries(entries, n, (unsigned)min_count, ret);
        if (r == -EEXIST)
                r = -EBADMSG;
        if (r < 0)
                goto fail;
        return 0;

fail:
        entries_free(entries, n);
        return r;
}

int vocab_from_json(const char *json, size_t len, Vocab **ret)
{
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        _cleanup_json_ json_object *root = NULL;

        if (!json)
                return -EBADMSG;
        if (len > VOCAB_JSON_MAX)
                return -E2BIG;
        if (len > INT_MAX || memchr(json, '\0', len))
                return -EBADMSG;

        tok = json_tokener_new_ex(VOCAB_JSON_DEPTH);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT
#ifdef JSON_TOKENER_VALIDATE_UTF8
                                            | JSON_TOKENER_VALIDATE_UTF8
#endif
        );
        root = json_tokener_parse_ex(tok, json, (int)len);
        if (!root || json_tokener_get_error(tok) != json_tokener_success)
                return -EBADMSG;
        /* trailing bytes other than whitespace mean this is not one document */
        for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
                if (!strchr(" \t\r\n", json[i]))
                        return -EBADMSG;

        return parse_vocab(root, ret);
}

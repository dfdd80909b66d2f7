/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <limits.h>

#include "vocab-internal.h"

#define STACK_IDS 512

struct VocabBuilder {
        VocabEntry *entries;
        uint64_t *last_post; /* per entry: the post that last counted it */
        size_t n, n_allocated;
        uint32_t *slots;
        size_t n_slots;
        uint64_t post; /* serial of the current post */
};

uint64_t vocab_hash(const char *category, const char *name)
{
        uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a */

        for (const unsigned char *c = (const unsigned char *)category; *c; c++)
                h = (h ^ *c) * UINT64_C(0x100000001b3);
        h = (h ^ 0xff) * UINT64_C(0x100000001b3); /* a byte UTF-8 never holds, so "a:b"+"c" != "a"+"b:c" */
        for (const unsigned char *c = (const unsigned char *)name; *c; c++)
                h = (h ^ *c) * UINT64_C(0x100000001b3);
        return h ^ (h >> 29);
}

bool vocab_name_is_valid(const char *s, size_t len)
{
        if (len == 0 || len > VOCAB_NAME_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        return false;
        return utf8_is_valid(s, len);
}

char *vocab_key_new(const char *category, const char *name)
{
        size_t lc = strlen(category), ln = strlen(name);
        char *key = malloc(lc + ln + 2);

        if (!key)
                return NULL;
        memcpy(key, category, lc + 1);
        memcpy(key + lc + 1, name, ln + 1);
        return key;
}

int vocab_entry_cmp(const VocabEntry *a, const VocabEntry *b)
{
        int c = strcmp(a->key, b->key);

        if (c != 0)
                return c;
        if (a->count != b->count)
                return a->count > b->count ? -1 : 1;
        return strcmp(a->name, b->name);
}

static int entry_qsort_cmp(const void *a, const void *b)
{
        return vocab_entry_cmp(a, b);
}

/* The slot holding (category, name), or the empty one where it would go. */
static uint32_t *find_slot(uint32_t *slots, size_t n_slots, const VocabEntry *entries, uint64_t hash,
                           const char *category, const char *name)
{
        for (size_t i = hash & (n_slots - 1);; i = (i + 1) & (n_slots - 1)) {
                const VocabEntry *e;

                if (slots[i] == 0)
                        return &slots[i];
                e = &entries[slots[i] - 1];
                if (e->hash == hash && streq(e->key, category) && streq(e->name, name))
                        return &slots[i];
        }
}

/* A table at most half full, of at least min_slots. */
static int index_entries(const VocabEntry *entries, size_t n, size_t min_slots, uint32_t **ret_slots,
                         size_t *ret_n_slots)
{
        _cleanup_free_ uint32_t *slots = NULL;
        size_t n_slots = 16;

        while (n_slots < n * 2 || n_slots < min_slots)
                n_slots *= 2;
        slots = calloc(n_slots, sizeof(uint32_t));
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                uint32_t *s =
                        find_slot(slots, n_slots, entries, entries[i].hash, entries[i].key, entries[i].name);
                if (*s != 0)
                        return -EEXIST;
                *s = (uint32_t)(i + 1);
        }
        *ret_slots = TAKE_PTR(slots);
        *ret_n_slots = n_slots;
        return 0;
}

int vocab_new_from_entries(VocabEntry *entries, size_t n, unsigned min_count, Vocab **ret)
{
        Vocab *v;
        uint32_t *slots;
        size_t n_slots;
        int r;

        if (n > VOCAB_SIZE_MAX)
                return -E2BIG;
        r = index_entries(entries, n, 0, &slots, &n_slots);
        if (r < 0)
                return r;
        v = malloc(sizeof(Vocab));
        if (!v) {
                free(slots);
                return -ENOMEM;
        }
        *v = (Vocab){.entries = entries, .n = n, .slots = slots, .n_slots = n_slots, .min_count = min_count};
        *ret = v;
        return 0;
}

int vocab_builder_new(VocabBuilder **ret)
{
        VocabBuilder *b = calloc(1, sizeof(VocabBuilder));

        if (!b)
                return -ENOMEM;
        b->n_slots = 1024;
        b->slots = calloc(b->n_slots, sizeof(uint32_t));
        if (!b->slots) {
                free(b);
                return -ENOMEM;
        }
        b->post = 1;
        *ret = b;
        return 0;
}

VocabBuilder *vocab_builder_free(VocabBuilder *b)
{
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->n; i++)
                free(b->entries[i].key);
        free(b->entries);
        free(b->last_post);
        free(b->slots);
        free(b);
        return NULL;
}

void vocab_builder_begin_post(VocabBuilder *b)
{
        b->post++;
}

static int builder_grow(VocabBuilder *b)
{
        if (b->n == b->n_allocated) {
                size_t n = MAX(b->n_allocated * 2, (size_t)256);
                VocabEntry *e = realloc(b->entries, sizeof(VocabEntry) * n);
                if (!e)
                        return -ENOMEM;
                b->entries = e;
                uint64_t *l = realloc(b->last_post, sizeof(uint64_t) * n);
                if (!l)
                        return -ENOMEM;
                b->last_post = l;
                b->n_allocated = n;
        }
        /* keep the table at most half full */
        if ((b->n + 1) * 2 > b->n_slots) {
                uint32_t *slots;
                size_t n_slots;
                int r = index_entries(b->entries, b->n, b->n_slots * 2, &slots, &n_slots);
                if (r < 0)
                        return r;
                free(b->slots);
                b->slots = slots;
                b->n_slots = n_slots;
        }
        return 0;
}

/* Counts (category, name) for the current post; *ret_entry: its entry,
 * *ret_repeat: whether the post had it already. */
static int builder_add(VocabBuilder *b, const char *category, const char *name, uint32_t *ret_entry,
                       bool *ret_repeat)
{
        uint64_t hash;
        uint32_t *slot;
        int r;

        if (!category || !name || !vocab_name_is_valid(category, strlen(category)) ||
            !vocab_name_is_valid(name, strlen(name)))
                return -EINVAL;

        hash = vocab_hash(category, name);
        slot = find_slot(b->slots, b->n_slots, b->entries, hash, category, name);
        if (*slot != 0) {
                size_t i = *slot - 1;
                *ret_repeat = b->last_post[i] == b->post;
                if (b->last_post[i] != b->post && b->entries[i].count < UINT_MAX) {
                        b->entries[i].count++;
                        b->last_post[i] = b->post;
                }
                *ret_entry = (uint32_t)i;
                return 0;
        }

        if (b->n >= VOCAB_BUILDER_MAX)
                return -E2BIG;
        r = builder_grow(b);
        if (r < 0)
                return r;
        char *key = vocab_key_new(category, name);
        if (!key)
                return -ENOMEM;
        b->entries[b->n] =
                (VocabEntry){.key = key, .name = key + strlen(category) + 1, .hash = hash, .count = 1};
        b->last_post[b->n] = b->post;
        /* the table may have been rebuilt: look the free slot up again */
        slot = find_slot(b->slots, b->n_slots, b->entries, hash, category, name);
        *ret_entry = (uint32_t)b->n;
        *ret_repeat = false;
        *slot = (uint32_t)(++b->n);
        return 0;
}

int vocab_builder_add(VocabBuilder *b, const char *category, const char *name)
{
        uint32_t entry;
        bool repeat;

        return builder_add(b, category, name, &entry, &repeat);
}

int vocab_builder_add_post_ids(VocabBuilder *b, const Post *p, uint32_t *ids, size_t max, size_t *ret_n)
{
        size_t n = 0;
        int r;

        vocab_builder_begin_post(b);
        for (size_t i = 0; i < p->n_tags; i++) {
                uint32_t e;
                bool repeat;

                r = builder_add(b, p->tags[i].category, p->tags[i].name, &e, &repeat);
                if (r == -EINVAL) {
                        log_debug("Post %" PRIu64 ": bad tag \"%s\", ignoring.", p->id,
                                  p->tags[i].name ? p->tags[i].name : "(null)");
                        continue;
                }
                if (r < 0)
                        return r;
                if (repeat)
                        continue;
                if (n == max)
                        return -ENOBUFS;
                if (ids)
                        ids[n] = e;
                n++;
        }
        *ret_n = n;
        return 0;
}

int vocab_builder_add_post(VocabBuilder *b, const Post *p)
{
        size_t n;

        return vocab_builder_add_post_ids(b, p, NULL, SIZE_MAX, &n);
}

int vocab_builder_finish(VocabBuilder *b, unsigned min_count, Vocab **ret)
{
        _cleanup_free_ VocabEntry *kept = NULL;
        size_t n = 0;
        int r;

        min_count = MAX(min_count, 1u);
        for (size_t i = 0; i < b->n; i++)
                if (b->entries[i].count >= min_count)
                        n++;
        if (n > VOCAB_SIZE_MAX)
                return -E2BIG;
        kept = malloc(sizeof(VocabEntry) * MAX(n, (size_t)1));
        if (!kept)
                return -ENOMEM;
        n = 0;
        for (size_t i = 0; i < b->n; i++)
                if (b->entries[i].count >= min_count)
                        kept[n++] = b->entries[i];
        qsort(kept, n, sizeof(VocabEntry), entry_qsort_cmp);

        r = vocab_new_from_entries(kept, n, min_count, ret);
        if (r < 0)
                return r;
        TAKE_PTR(kept);
        /* the kept keys now belong to the vocabulary; the builder starts over */
        for (size_t i = 0; i < b->n; i++)
                if (b->entries[i].count < min_count)
                        free(b->entries[i].key);
        b->n = 0;
        memset(b->slots, 0, sizeof(uint32_t) * b->n_slots);
        return 0;
}

static int cmp_u32(const void *a, const void *b);

int vocab_builder_finish_map(VocabBuilder *b, unsigned min_count, Vocab **ret, uint32_t **ret_map,
                             size_t *ret_n_map)
{
        _cleanup_(vocab_freep) Vocab *v = NULL;
        _cleanup_free_ uint32_t *map = malloc(MAX(b->n, (size_t)1) * sizeof(uint32_t));
        unsigned keep = MAX(min_count, 1u);
        size_t n = b->n;
        int r;

        if (!map)
                return -ENOMEM;
        /* the entries' keys stay valid while the vocabulary holds the kept
         * ones: look each up before the builder frees the others */
        for (size_t i = 0; i < n; i++)
                map[i] = UINT32_MAX;
        _cleanup_free_ char **keys = malloc(MAX(n, (size_t)1) * sizeof(char *));
        if (!keys)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                keys[i] = b->entries[i].count >= keep ? b->entries[i].key : NULL;
        r = vocab_builder_finish(b, min_count, &v);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (keys[i]) {
                        int id = vocab_lookup(v, keys[i], keys[i] + strlen(keys[i]) + 1);
                        if (id < 0)
                                return -EIO; /* cannot happen: every kept pair is in v */
                        map[i] = (uint32_t)id;
                }
        *ret = TAKE_PTR(v);
        *ret_map = TAKE_PTR(map);
        *ret_n_map = n;
        return 0;
}

int vocab_builder_map(const VocabBuilder *b, const Vocab *v, uint32_t **ret_map, size_t *ret_n_map)
{
        uint32_t *map = malloc(MAX(b->n, (size_t)1) * sizeof(uint32_t));

        if (!map)
                return -ENOMEM;
        for (size_t i = 0; i < b->n; i++) {
                int id = vocab_lookup(v, b->entries[i].key, b->entries[i].name);
                map[i] = id < 0 ? UINT32_MAX : (uint32_t)id;
        }
        *ret_map = map;
        *ret_n_map = b->n;
        return 0;
}

int vocab_encode_entries(const uint32_t *map, size_t n_map, const uint32_t *ids, size_t n, uint32_t *out,
                         size_t *ret_n)
{
        size_t k = 0, u = 0;

        for (size_t i = 0; i < n; i++) {
                if (ids[i] >= n_map)
                        return -EINVAL;
                if (map[ids[i]] != UINT32_MAX)
                        out[k++] = map[ids[i]];
        }
        qsort(out, k, sizeof(uint32_t), cmp_u32);
        for (size_t i = 0; i < k; i++)
                if (u == 0 || out[i] != out[u - 1])
                        out[u++] = out[i];
        *ret_n = u;
        return 0;
}

int vocab_build(Post *const *posts, size_t n_posts, unsigned min_count, Vocab **ret)
{
        _cleanup_vocab_builder_free_ VocabBuilder *b = NULL;
        int r;

        r = vocab_builder_new(&b);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_posts; i++) {
                if (!posts[i])
                        continue;
                r = vocab_builder_add_post(b, posts[i]);
                if (r < 0)
                        return r;
        }
        return vocab_builder_finish(b, min_count, ret);
}

Vocab *vocab_free(Vocab *v)
{
        if (!v)
                return NULL;
        for (size_t i = 0; i < v->n; i++)
                free(v->entries[i].key);
        free(v->entries);
        free(v->slots);
        free(v);
        return NULL;
}

size_t vocab_size(const Vocab *v)
{
        return v ? v->n : 0;
}

unsigned vocab_min_count(const Vocab *v)
{
        return v ? v->min_count : 0;
}

int vocab_lookup(const Vocab *v, const char *category, const char *name)
{
        uint32_t *slot;

        if (!v || !category || !name || v->n == 0)
                return -ENOENT;
        slot = find_slot(v->slots, v->n_slots, v->entries, vocab_hash(category, name), category, name);
        return *slot == 0 ? -ENOENT : (int)(*slot - 1);
}

int vocab_entry(const Vocab *v, size_t id, const char **ret_category, const char **ret_name,
                unsigned *ret_count)
{
        if (!v || id >= v->n)
                return -ENOENT;
        if (ret_category)
                *ret_category = v->entries[id].key;
        if (ret_name)
                *ret_name = v->entries[id].name;
        if (ret_count)
                *ret_count = v->entries[id].count;
        return 0;
}

static int cmp_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        return x < y ? -1 : x > y;
}

int vocab_encode_post(const Vocab *v, const Post *p, uint32_t *ids, size_t max, size_t *ret_n)
{
        uint32_t stack[STACK_IDS];
        _cleanup_free_ uint32_t *heap = NULL;
        uint32_t *buf = stack;
        size_t n = 0, u = 0;

        if (p->n_tags > STACK_IDS) {
                buf = heap = malloc(sizeof(uint32_t) * p->n_tags);
                if (!buf)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < p->n_tags; i++) {
                int id = vocab_lookup(v, p->tags[i].category, p->tags[i].name);
                if (id >= 0)
                        buf[n++] = (uint32_t)id;
        }
        qsort(buf, n, sizeof(uint32_t), cmp_u32);
        for (size_t i = 0; i < n; i++)
                if (u == 0 || buf[i] != buf[u - 1])
                        buf[u++] = buf[i];
        if (u > max)
                return -ENOBUFS;
        if (u > 0)
                memcpy(ids, buf, sizeof(uint32_t) * u);
        *ret_n = u;
        return 0;
}

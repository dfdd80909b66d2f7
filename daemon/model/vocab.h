/* SPDX-License-Identifier: MIT */
#pragma once

/* The tag vocabulary of the model's tag tower: every (category, name) pair that
 * appears on at least min_count training posts, with a stable id that indexes
 * the embedding-bag rows. The same name under two categories is two entries
 * (key "category:name"). Ids follow a canonical order, by category (byte order),
 * then count (descending), then name (byte order), so the same posts always
 * give the same ids and the JSON form can be checked for that order on load.
 *
 * Counts are document frequencies: a tag repeated on one post counts once. */

#include <stddef.h>
#include <stdint.h>

#include "fluff/util.h"
#include "post.h"

/* Twice, as the tags-only baseline counts (quality.h): a tag on one post only
 * teaches nothing another post can use, one on two already does. */
#define VOCAB_MIN_COUNT_DEFAULT 2u
#define VOCAB_SIZE_MAX (1u << 20)         /* entries */
#define VOCAB_BUILDER_MAX (16u << 20)     /* distinct pairs counted before min_count */
#define VOCAB_NAME_MAX 256                /* bytes of a name or category */
#define VOCAB_JSON_MAX ((size_t)64 << 20) /* bytes of the serialised form */

typedef struct Vocab Vocab;
typedef struct VocabBuilder VocabBuilder;

/* Counting, for callers that stream (category, name) pairs rather than hold
 * Posts: add each post's tags between vocab_builder_begin_post() calls, and
 * repeats within one post count once. */
int vocab_builder_new(VocabBuilder **ret);
VocabBuilder *vocab_builder_free(VocabBuilder *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(VocabBuilder *, vocab_builder_free);
#define _cleanup_vocab_builder_free_ _cleanup_(vocab_builder_freep)
void vocab_builder_begin_post(VocabBuilder *b);
/* -EINVAL for an empty or over-long name or category, or one with control
 * characters or invalid UTF-8 (the pair is not counted); -E2BIG past
 * VOCAB_BUILDER_MAX distinct pairs; -ENOMEM. */
int vocab_builder_add(VocabBuilder *b, const char *category, const char *name);
/* Adds every tag of p as one post; bad tags are skipped. */
int vocab_builder_add_post(VocabBuilder *b, const Post *p);
/* Keeps the pairs seen on >= min_count posts (0 counts as 1). -E2BIG when
 * more than VOCAB_SIZE_MAX would remain. On success the builder is left empty. */
int vocab_builder_finish(VocabBuilder *b, unsigned min_count, Vocab **ret);

/* Counting while holding each post's tags compactly, for a training that
 * reads 100,000 posts (issue 16): adds p's tags as one post, as
 * vocab_builder_add_post() does, and writes the builder's own number of
 * each valid tag (the entry, stable while the builder counts) to ids,
 * unique, in no order: 4 bytes a tag instead of the tag's strings.
 * -ENOBUFS when more than max would be written (max >= p->n_tags
 * suffices). ids NULL: counts only (vocab_builder_add_post). */
int vocab_builder_add_post_ids(VocabBuilder *b, const Post *p, uint32_t *ids, size_t max, size_t *ret_n);
/* vocab_builder_finish(), and *ret_map (one per builder entry, malloc'd,
 * *ret_n_map of them) gives each entry's id in the vocabulary, or
 * UINT32_MAX for one below min_count. */
int vocab_builder_finish_map(VocabBuilder *b, unsigned min_count, Vocab **ret, uint32_t **ret_map,
                             size_t *ret_n_map);
/* Each builder entry's id in another vocabulary v (an installed model's),
 * or UINT32_MAX where v lacks it: *ret_map (malloc'd, *ret_n_map). */
int vocab_builder_map(const VocabBuilder *b, const Vocab *v, uint32_t **ret_map, size_t *ret_n_map);
/* The vocabulary ids of builder entries ids[0…n) through map: sorted
 * ascending and unique, those below min_count left out, as
 * vocab_encode_post() gives them. -EINVAL for an entry past n_map. */
int vocab_encode_entries(const uint32_t *map, size_t n_map, const uint32_t *ids, size_t n, uint32_t *out,
                         size_t *ret_n);

/* The same in one call, over an array of posts (NULL entries skipped). */
int vocab_build(Post *const *posts, size_t n_posts, unsigned min_count, Vocab **ret);

Vocab *vocab_free(Vocab *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(Vocab *, vocab_free);
#define _cleanup_vocab_free_ _cleanup_(vocab_freep)

size_t vocab_size(const Vocab *v);
unsigned vocab_min_count(const Vocab *v);
/* The id of (category, name), or -ENOENT. O(1). */
int vocab_lookup(const Vocab *v, const char *category, const char *name);
/* What id stands for (e.g. to name the tags that pushed a score); the strings
 * are borrowed from v. -ENOENT for an id out of range. */
int vocab_entry(const Vocab *v, size_t id, const char **ret_category, const char **ret_name,
                unsigned *ret_count);

/* The ids of p's known tags, sorted ascending and unique: the input of the
 * embedding bag. Unknown tags are left out. -ENOBUFS when more than max ids
 * would be written (max >= p->n_tags always suffices). */
int vocab_encode_post(const Vocab *v, const Post *p, uint32_t *ids, size_t max, size_t *ret_n);

/* Compact JSON, for the model file's metadata:
 *   {"version":1,"min_count":3,"size":N,"categories":[
 *      {"name":"artist","tags":["a","b"],"counts":[9,4]}, ...]}
 * Ids are the positions in that order. */
int vocab_to_json(const Vocab *v, char **ret);
/* Refuses (-EBADMSG) malformed JSON, a wrong shape or types, an unknown
 * version, bad names, duplicates, counts below min_count, entries out of the
 * canonical order or a size that does not add up; -E2BIG over VOCAB_JSON_MAX
 * bytes or VOCAB_SIZE_MAX entries. */
int vocab_from_json(const char *json, size_t len, Vocab **ret);

/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by vocab.c (building, lookup, encoding) and vocab-json.c. */

#include "vocab.h"

typedef struct VocabEntry {
        char *key;        /* owned: "category\0name\0", one allocation per entry */
        const char *name; /* points into key */
        uint64_t hash;
        unsigned count;
} VocabEntry;

struct Vocab {
        VocabEntry *entries; /* in id order */
        size_t n;
        uint32_t *slots; /* open addressing: entry index + 1, 0 = empty */
        size_t n_slots;  /* a power of two, at least twice n */
        unsigned min_count;
};

uint64_t vocab_hash(const char *category, const char *name);
/* Not empty, at most VOCAB_NAME_MAX bytes, valid UTF-8, no control characters. */
bool vocab_name_is_valid(const char *s, size_t len);
/* Makes "category\0name\0"; NULL on ENOMEM. */
char *vocab_key_new(const char *category, const char *name);
/* The canonical order: category, count descending, name. */
int vocab_entry_cmp(const VocabEntry *a, const VocabEntry *b);
/* Takes ownership of entries (in id order) and indexes them. -EEXIST on a
 * duplicate pair (entries are then still owned by the caller); -ENOMEM. */
int vocab_new_from_entries(VocabEntry *entries, size_t n, unsigned min_count, Vocab **ret);
